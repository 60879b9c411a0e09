"""core/gcpace: the start-up pace, the freeze at ready and the pace of full collections
(issue 17)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from openclaw_gateway.core import gcpace


@pytest.fixture
def _collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gcpace._saved = None
    gcpace._pace = None


@pytest.mark.usefixtures("_collector")
def test_startup_raises_the_pace_and_steady_restores_it_and_freezes_the_survivors() -> None:
    before = gc.get_threshold()
    gcpace.startup()
    assert gc.get_threshold() == (gcpace.STARTUP_THRESHOLD, *before[1:])
    survivor = [object()]
    pace = gcpace.steady()
    # Young and middle collections as before; full ones only from the pacer.
    assert gc.get_threshold() == (*before[:2], gcpace.AUTOMATIC_FULL_OFF)
    assert pace is not None and pace.every == before[2] and pace.baseline > 0
    assert gc.get_freeze_count() > 0
    assert not gc.is_finalized(survivor)  # still alive, just no longer walked
    frozen = gc.get_freeze_count()
    # A second call (a gateway restarted in the same process) changes nothing and gets the
    # same pace: its full collections must still run.
    assert gcpace.steady() is pace
    assert gc.get_freeze_count() == frozen


@pytest.mark.usefixtures("_collector")
def test_a_gateway_inside_a_test_process_neither_changes_the_pace_nor_freezes() -> None:
    before = gc.get_threshold()
    assert gcpace.steady() is None  # no pacer either: the test process collects as usual
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_full_collection_is_due_after_its_middle_collections_and_a_quarter_more_heap() -> None:
    pace = gcpace.FullPace(every=10, baseline=100_000)
    assert not pace.due(9, 200_000)  # grown, but not enough middle collections yet
    assert not pace.due(10, 124_999)  # enough of them, but the heap grew less than a quarter
    assert pace.due(10, 125_000)
    assert pace.due(500, 1_000_000)
