"""Full garbage collections run from a timer, at a quiet moment (see core/gcpace).

Every GC_CHECK_INTERVAL the pacer asks whether a full collection is due (CPython's own rule,
core/gcpace.FullPace). When it is, it waits for a moment with no other task runnable (a
broadcast or a batch of requests is never cut in two by a ~45 ms pass), for at most
QUIET_WAIT_TRIES × QUIET_WAIT, then collects anyway: the collector's work is never put off
for longer than that once due. The loop monitor sees the pass as loop delay like any other.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

import trio

from openclaw_gateway.core.gcpace import FullPace

GC_CHECK_INTERVAL = 1.0
QUIET_WAIT = 0.005
QUIET_WAIT_TRIES = 20


def _middle_collections() -> int:
    """Middle-generation collections since the last full one (CPython's count for gen 2)."""
    return gc.get_count()[2]


def _collect_full() -> None:
    gc.collect()


def _others_runnable() -> bool:
    return trio.lowlevel.current_statistics().tasks_runnable > 0


async def run_gc_pacer(
    pace: FullPace,
    interval: float = GC_CHECK_INTERVAL,
    *,
    middle_collections: Callable[[], int] = _middle_collections,
    blocks: Callable[[], int] = sys.getallocatedblocks,
    collect: Callable[[], None] = _collect_full,
    others_runnable: Callable[[], bool] = _others_runnable,
) -> None:
    while True:
        await trio.sleep(interval)
        if not pace.due(middle_collections(), blocks()):
            continue
        for _ in range(QUIET_WAIT_TRIES):
            if not others_runnable():
                break
            await trio.sleep(QUIET_WAIT)
        collect()
        pace.baseline = blocks()
