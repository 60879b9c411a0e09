"""The gateway's Prometheus instruments, on a private CollectorRegistry (one per gateway, so
two gateways in one process, e.g. tests, never share series).

Hot paths call pre-bound children (`metrics.rpc(method, ok, seconds)` is two dict lookups
and two lock-free increments); figures that already exist elsewhere (live connections, outbox
depth, events fanned out and dropped, delivery queue, RSS, loop lag) are read at scrape time by
a collector, so they cost nothing between scrapes. Labels are bounded sets chosen by us (method
names from the registry, outcomes, close codes, roles): never secrets or session contents.
Official names where the official plugin has the same metric (openclaw_gateway_rpc_*,
openclaw_run_*, openclaw_memory_bytes).

The counters and histograms are our own few lines (the same samples as prometheus_client's,
`_created` series included): prometheus_client (~40 ms to import, with the http.server and
email modules its exposition module pulls in) is imported by the first scrape, not before a
gateway's first hello-ok (issue 17).
"""

from __future__ import annotations

import bisect
import os
import resource
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

RUN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# prometheus_client's Histogram.DEFAULT_BUCKETS
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
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


class _CounterChild:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self) -> None:
        self.value += 1


class _HistogramChild:
    __slots__ = ("bounds", "counts", "created", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0.0] * len(bounds)
        self.total = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.total += amount
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1


class _Family:
    """One labelled counter or histogram: its children by label values, in creation order."""

    def __init__(
        self, name: str, doc: str, labels: Iterable[str], buckets: Iterable[float] | None = None
    ) -> None:
        self.name, self.doc, self.labels = name, doc, tuple(labels)
        self.bounds = (*map(float, buckets), float("inf")) if buckets is not None else None
        self.children: dict[tuple[str, ...], Any] = {}

    def child(self, *values: str) -> Any:
        found = self.children.get(values)
        if found is None:
            found = _CounterChild() if self.bounds is None else _HistogramChild(self.bounds)
            self.children[values] = found
        return found

    def metric(self, use_created: bool) -> Metric:
        """The samples prometheus_client's Counter/Histogram would expose."""
        from prometheus_client.metrics_core import Metric
        from prometheus_client.utils import floatToGoString

        metric = Metric(self.name, self.doc, "counter" if self.bounds is None else "histogram")
        for values, child in self.children.items():
            labels = dict(zip(self.labels, values, strict=True))
            if isinstance(child, _CounterChild):
                metric.add_sample(self.name + "_total", labels, child.value)
            else:
                acc = 0.0
                for bound, count in zip(child.bounds, child.counts, strict=True):
                    acc += count
                    le = {**labels, "le": floatToGoString(bound)}  # type: ignore[no-untyped-call]
                    metric.add_sample(self.name + "_bucket", le, acc)
                metric.add_sample(self.name + "_count", labels, acc)
                metric.add_sample(self.name + "_sum", labels, child.total)
            if use_created:
                metric.add_sample(self.name + "_created", labels, child.created)
        return metric


def _live_families(live: LiveFigures) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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
        self._live = live
        self._registry: CollectorRegistry | None = None
        self._handshakes = _Family(
            "openclaw_gateway_handshakes",
            "WebSocket handshakes by outcome; failures by close code",
            ["outcome", "reason"],
        )
        self._accepted = self._handshakes.child("ok", "")
        self._requests = _Family(
            "openclaw_gateway_rpc_requests", "RPC requests", ["method", "outcome"]
        )
        self._handler = _Family(
            "openclaw_gateway_rpc_handler_seconds", "RPC handler time", ["method"], DEFAULT_BUCKETS
        )
        self._rpc: dict[str, tuple[Any, Any, Any]] = {}
        for name in [*methods, UNKNOWN_METHOD]:
            self._bind_rpc(name)
        self._runs = _Family("openclaw_run_completed", "Agent runs ended", ["outcome", "trigger"])
        self._run_seconds = _Family(
            "openclaw_run_duration_seconds",
            "Agent run time, accepted to ended",
            ["outcome", "trigger"],
            RUN_BUCKETS,
        )
        self._cron = _Family("openclaw_cron_runs", "Cron job runs ended", ["status"])
        self._families = (
            self._handshakes,
            self._requests,
            self._handler,
            self._runs,
            self._run_seconds,
            self._cron,
        )

    def _bind_rpc(self, method: str) -> tuple[Any, Any, Any]:
        bound = (
            self._requests.child(method, "ok"),
            self._requests.child(method, "error"),
            self._handler.child(method),
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
            self._handshakes.child("failed", str(close_code or "peer-closed")).inc()

    def run(self, outcome: str, trigger: str, seconds: float) -> None:
        self._runs.child(outcome, trigger).inc()
        self._run_seconds.child(outcome, trigger).observe(seconds)

    def cron_run(self, status: str) -> None:
        self._cron.child(status).inc()

    # --- scrape time -------------------------------------------------------------------------

    @property
    def registry(self) -> CollectorRegistry:
        """A private prometheus_client registry over these figures, made by the first scrape."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry
            from prometheus_client import metrics as client_metrics
            from prometheus_client.registry import Collector

            owner = self

            class _Collector(Collector):
                def collect(self) -> Iterable[Metric]:
                    # prometheus_client's own switch (PROMETHEUS_DISABLE_CREATED_SERIES).
                    use_created = client_metrics._use_created
                    for family in owner._families:
                        yield family.metric(use_created)
                    if owner._live is not None:
                        yield from _live_families(owner._live)

            self._registry = CollectorRegistry(auto_describe=True)
            self._registry.register(_Collector())
        return self._registry

    def families(self) -> Iterator[Metric]:
        yield from self.registry.collect()
