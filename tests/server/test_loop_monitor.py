"""The event-loop monitor measures real utilisation and process CPU (real clock, bounded)."""

from __future__ import annotations

import time

import trio

from openclaw_gateway.server.loop_monitor import run_loop_monitor
from openclaw_gateway.server.rpc.context import LoopStats

WINDOW = 0.2


async def _watch(stats: LoopStats, windows: int, busy: bool) -> dict[str, object]:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_loop_monitor, stats, WINDOW)
        with trio.fail_after(10):
            while len(stats.samples) < windows:
                if busy:
                    end = time.perf_counter() + 0.02  # hog the loop: CPU, no I/O wait
                    while time.perf_counter() < end:
                        pass
                    await trio.lowlevel.checkpoint()
                else:
                    await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    return stats.snapshot()


async def test_an_idle_loop_reports_low_utilisation_and_cpu() -> None:
    snap = await _watch(LoopStats(), 3, busy=False)
    assert 0.0 <= float(snap["utilization"]) < 0.5  # type: ignore[arg-type]
    assert 0.0 <= float(snap["cpuCoreRatio"]) < 0.5  # type: ignore[arg-type]
    assert 150 <= float(snap["intervalMs"]) <= 2000  # type: ignore[arg-type]


async def test_a_busy_loop_reports_high_utilisation_and_cpu() -> None:
    snap = await _watch(LoopStats(), 3, busy=True)
    assert float(snap["utilization"]) > 0.8  # type: ignore[arg-type]
    assert float(snap["cpuCoreRatio"]) > 0.1  # type: ignore[arg-type]  (shared cores)


def test_reasons_follow_the_official_classification() -> None:
    stats = LoopStats()
    stats.record(10, window_ms=1000, utilization=0.99, cpu_core_ratio=0.95, now_ms=1000)
    assert stats.snapshot()["reasons"] == []  # no delay co-evidence
    stats.record(30, window_ms=1000, utilization=0.99, cpu_core_ratio=0.95, now_ms=2000)
    assert stats.snapshot()["reasons"] == ["event_loop_utilization", "cpu"]
    stats.record(1500, window_ms=1000, utilization=0.2, cpu_core_ratio=0.1, now_ms=3500)
    snap = stats.snapshot()
    assert snap["reasons"] == ["event_loop_delay"]
    assert snap["degraded"] is True and snap["degradedSinceMs"] == 1500
