"""The event-loop monitor: delay, utilisation and process CPU, measured over each window.

Every LOOP_MONITOR_INTERVAL the monitor records how late its sleep woke (delay), and over the
real time since its previous sample: the share of time trio was *not* waiting for I/O (loop
utilisation, the analogue of Node's eventLoopUtilization, measured with a trio instrument
around every I/O wait) and the process CPU time, all threads, per wall second
(`cpuCoreRatio`, as the official process.cpuUsage() / interval). health, status and /readyz
report them (rpc/context.LoopStats.snapshot).
"""

from __future__ import annotations

import time

import trio

from openclaw_gateway.server.rpc.context import LoopStats

LOOP_MONITOR_INTERVAL = 1.0


class IdleMeter(trio.abc.Instrument):
    """Accumulates the real time the run loop spends blocked waiting for I/O."""

    def __init__(self) -> None:
        self.idle = 0.0
        self._since: float | None = None

    def before_io_wait(self, timeout: float) -> None:
        self._since = time.perf_counter()

    def after_io_wait(self, timeout: float) -> None:
        if self._since is not None:
            self.idle += time.perf_counter() - self._since
            self._since = None


async def run_loop_monitor(stats: LoopStats, interval: float = LOOP_MONITOR_INTERVAL) -> None:
    meter = IdleMeter()
    trio.lowlevel.add_instrument(meter)
    try:
        wall, idle, cpu = time.perf_counter(), meter.idle, time.process_time()
        while True:
            before = trio.current_time()
            await trio.sleep(interval)
            lag_ms = (trio.current_time() - before - interval) * 1000
            now_wall, now_idle, now_cpu = time.perf_counter(), meter.idle, time.process_time()
            span = max(now_wall - wall, 1e-6)
            stats.record(
                lag_ms,
                window_ms=span * 1000,
                utilization=1.0 - (now_idle - idle) / span,
                cpu_core_ratio=(now_cpu - cpu) / span,
                now_ms=now_wall * 1000,
            )
            wall, idle, cpu = now_wall, now_idle, now_cpu
    finally:
        trio.lowlevel.remove_instrument(meter)
