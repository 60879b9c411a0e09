"""server/gc_pacer: full collections from a timer, when due, at a quiet moment (issue 17)."""

from __future__ import annotations

import trio
import trio.testing

from openclaw_gateway.core.gcpace import FullPace
from openclaw_gateway.server import gc_pacer


class Heap:
    """The collector as the pacer sees it: counts to read, collections recorded with the
    virtual time they ran at."""

    def __init__(self, middle: int, blocks: int) -> None:
        self.middle = middle
        self.blocks = blocks
        self.collected: list[float] = []
        self.busy_until = 0.0  # other tasks runnable until this virtual time

    def collect(self) -> None:
        self.collected.append(trio.current_time())
        self.middle = 0
        self.blocks -= 1_000  # garbage freed

    def others_runnable(self) -> bool:
        return trio.current_time() < self.busy_until


async def _run(heap: Heap, pace: FullPace, seconds: float) -> None:
    with trio.move_on_after(seconds):
        await gc_pacer.run_gc_pacer(
            pace,
            1.0,
            middle_collections=lambda: heap.middle,
            blocks=lambda: heap.blocks,
            collect=heap.collect,
            others_runnable=heap.others_runnable,
        )


async def test_nothing_is_collected_until_due(autojump_clock: trio.testing.MockClock) -> None:
    heap = Heap(middle=10, blocks=110_000)  # enough middle collections, too little growth
    await _run(heap, FullPace(every=10, baseline=100_000), 5.5)
    assert heap.collected == []


async def test_a_due_collection_runs_at_the_next_tick_and_resets_the_baseline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    heap = Heap(middle=12, blocks=130_000)
    pace = FullPace(every=10, baseline=100_000)
    start = trio.current_time()
    await _run(heap, pace, 3.5)
    assert [t - start for t in heap.collected] == [1.0]  # once: then no longer due
    assert pace.baseline == 129_000  # the heap after that collection


async def test_it_waits_for_a_quiet_moment_but_not_for_ever(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    heap = Heap(middle=10, blocks=200_000)
    heap.busy_until = start + 1.012  # busy for 12 ms after the tick
    await _run(heap, FullPace(every=10, baseline=100_000), 1.5)
    assert len(heap.collected) == 1
    assert 0.012 <= heap.collected[0] - start - 1.0 < 0.012 + gc_pacer.QUIET_WAIT

    start = trio.current_time()
    heap = Heap(middle=10, blocks=200_000)
    heap.busy_until = start + 60.0  # never quiet: collected anyway, after the bound
    await _run(heap, FullPace(every=10, baseline=100_000), 1.5)
    bound = gc_pacer.QUIET_WAIT * gc_pacer.QUIET_WAIT_TRIES
    assert [round(t - start - 1.0, 6) for t in heap.collected] == [round(bound, 6)]
