"""The gateway's Prometheus instruments, on a private CollectorRegistry (one per gateway, so
two gateways in one process, e.g. tests, never share series).

Hot paths call pre-bound children (`metrics.rpc(method, ok, seconds)` is two dict lookups
and two lock-free increments); figures that already exist elsewhere (live connections, outbox
depth, events fanned out and dropped, delivery queue, RSS, loop lag) are read at scrape time by
a collector, so they cost nothing between scrapes. Labels are bounded sets chosen by us (method
names from the registry, outcomes, close codes, roles): never secrets or session contents.
Official names where the official plugin has the same metric (openclaw_gateway_rpc_*,
openclaw_run_*, openclaw_memory_bytes).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

RUN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
UNKNOWN_METHOD = "unknown"  # a method name not in the registry never becomes a label


@attrs.frozen
class LiveFigures:
    """Read at scrape time (the supervisor wires them to the hub, state and loop monitor)."""

    connections_by_role: Callable[[], dict[str, int]] = dict
    outbox_bytes: Callable[[], int] = lambda: 0
    events_fanned_out: Callable[[], dict[str, int]] = dict
    events_dropped: Callable[[], int] = lambda: 0
    delivery_queue_depth: Callable[[], int | None] = lambda: None
    loop_lag_ms: Callable[[], float] = lambda: 0.0


def rss_bytes() -> int:
    """Resident set size now (/proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class _LiveCollector(Collector):
    def __init__(self, live: LiveFigures) -> None:
        self.live = live

    def collect(self) -> Iterable[Metric]:
        live = self.live
        conns = GaugeMetricFamily(
            "openclaw_gateway_connections", "Live WebSocket connections by role", labels=["role"]
        )
        for role, count in sorted(live.connections_by_role().items()):
            conns.add_metric([role], count)
        yield conns
        yield GaugeMetricFamily(
            "openclaw_gateway_outbox_bytes",
            "Bytes queued to be written and not yet taken by the kernel, over all sockets",
            value=live.outbox_bytes(),
        )
        events = CounterMetricFamily(
            "openclaw_gateway_events",
            "Event frames queued for sockets (fan-out), by event",
            labels=["event"],
        )
        for name, count in sorted(live.events_fanned_out().items()):
            events.add_metric([name], count)
        yield events
        yield CounterMetricFamily(
            "openclaw_gateway_events_dropped",
            "Droppable event frames not queued to a slow socket",
            value=live.events_dropped(),
        )
        depth = live.delivery_queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "openclaw_delivery_queue_depth", "Channel deliveries waiting", value=depth
            )
        memory = GaugeMetricFamily("openclaw_memory_bytes", "Process memory", labels=["kind"])
        memory.add_metric(["rss"], rss_bytes())
        yield memory
        yield GaugeMetricFamily(
            "openclaw_gateway_event_loop_lag_seconds",
            "The event loop's latest scheduling delay",
            value=live.loop_lag_ms() / 1000,
        )


class GatewayMetrics:
    def __init__(self, methods: Iterable[str] = (), live: LiveFigures | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._handshakes = Counter(
            "openclaw_gateway_handshakes",
            "WebSocket handshakes by outcome; failures by close code",
            ["outcome", "reason"],
            registry=r,
        )
        self._accepted = self._handshakes.labels("ok", "")
        self._requests = Counter(
            "openclaw_gateway_rpc_requests", "RPC requests", ["method", "outcome"], registry=r
        )
        self._handler = Histogram(
            "openclaw_gateway_rpc_handler_seconds", "RPC handler time", ["method"], registry=r
        )
        self._rpc: dict[str, tuple[Any, Any, Any]] = {}
        for name in [*methods, UNKNOWN_METHOD]:
            self._bind_rpc(name)
        self._runs = Counter(
            "openclaw_run_completed", "Agent runs ended", ["outcome", "trigger"], registry=r
        )
        self._run_seconds = Histogram(
            "openclaw_run_duration_seconds",
            "Agent run time, accepted to ended",
            ["outcome", "trigger"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self._cron = Counter("openclaw_cron_runs", "Cron job runs ended", ["status"], registry=r)
        if live is not None:
            r.register(_LiveCollector(live))

    def _bind_rpc(self, method: str) -> tuple[Any, Any, Any]:
        bound = (
            self._requests.labels(method, "ok"),
            self._requests.labels(method, "error"),
            self._handler.labels(method),
        )
        self._rpc[method] = bound
        return bound

    # --- hot-path calls ----------------------------------------------------------------------

    def rpc(self, method: str, ok: bool, seconds: float) -> None:
        ok_counter, error_counter, histogram = self._rpc.get(method) or self._rpc[UNKNOWN_METHOD]
        (ok_counter if ok else error_counter).inc()
        histogram.observe(seconds)

    def handshake(self, close_code: int | None, accepted: bool) -> None:
        if accepted:
            self._accepted.inc()
        else:
            self._handshakes.labels("failed", str(close_code or "peer-closed")).inc()

    def run(self, outcome: str, trigger: str, seconds: float) -> None:
        self._runs.labels(outcome, trigger).inc()
        self._run_seconds.labels(outcome, trigger).observe(seconds)

    def cron_run(self, status: str) -> None:
        self._cron.labels(status).inc()

    def families(self) -> Iterator[Metric]:
        yield from self.registry.collect()
