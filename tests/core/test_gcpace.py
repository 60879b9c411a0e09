"""core/gcpace: the start-up pace and the freeze at ready (issue 17)."""

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


@pytest.mark.usefixtures("_collector")
def test_startup_raises_the_pace_and_steady_restores_it_and_freezes_the_survivors() -> None:
    before = gc.get_threshold()
    gcpace.startup()
    assert gc.get_threshold() == (gcpace.STARTUP_THRESHOLD, *before[1:])
    survivor = [object()]
    gcpace.steady()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() > 0
    assert not gc.is_finalized(survivor)  # still alive, just no longer walked
    frozen = gc.get_freeze_count()
    gcpace.steady()  # a second call changes nothing
    assert gc.get_freeze_count() == frozen


@pytest.mark.usefixtures("_collector")
def test_a_gateway_inside_a_test_process_neither_changes_the_pace_nor_freezes() -> None:
    before = gc.get_threshold()
    gcpace.steady()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
