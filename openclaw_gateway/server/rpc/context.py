"""What a handler can see: the gateway's shared state and who is calling.

No trio here: time is read through `GatewayState.clock`, and events leave through the
`broadcast` callable the supervisor wires to the hub. Handlers therefore test as plain code.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.core.logs import Logger
from openclaw_gateway.server.metrics.instruments import GatewayMetrics
from openclaw_gateway.server.nodes import NodeRegistry
from openclaw_gateway.state.pairing import Book
from openclaw_gateway.state.presence import PresenceTable
from openclaw_gateway.state.store import Store

if TYPE_CHECKING:
    from openclaw_gateway.server.channels.service import Channels
    from openclaw_gateway.server.mainsession.service import MainSession
    from openclaw_gateway.server.runs.service import Conversations

HEALTH_CACHE_MS = 60_000


class Broadcast(Protocol):
    # redacted: what recipients without operator.admin get instead of payload (hub.py).
    def __call__(
        self,
        event: str,
        payload: Any,
        *,
        state_version: dict[str, int] | None = None,
        redacted: Any = None,
        targets: Collection[str] | None = None,
        drop_if_slow: bool | None = None,
    ) -> object: ...


def _no_broadcast(
    event: str,
    payload: Any,
    *,
    state_version: dict[str, int] | None = None,
    redacted: Any = None,
    targets: Collection[str] | None = None,
    drop_if_slow: bool | None = None,
) -> None:
    return None


class CronControl(Protocol):
    """What the cron methods may ask of the running scheduler (cron/scheduler.py)."""

    def wake(self) -> None: ...  # jobs changed: recompute the next wake-up

    def is_running(self, job_id: str) -> bool: ...

    def next_wake_ms(self) -> int | None: ...

    # Start a run now (manual: leave the natural next slot alone); returns its runId.
    def run_now(self, job_id: str, *, manual: bool) -> str: ...


# Official gateway event-loop health thresholds (createGatewayEventLoopHealthMonitor).
EVENT_LOOP_DELAY_WARN_MS = 1000
EVENT_LOOP_UTILIZATION_WARN = 0.95
CPU_CORE_RATIO_WARN = 0.9
LOAD_DEGRADATION_DELAY_COEVIDENCE_MS = 25
SUSTAINED_LOAD_SAMPLE_MIN_INTERVAL_MS = 1000


def _round(value: float, digits: int = 3) -> float:
    return round(value, digits) if value == value else 0.0  # NaN -> 0, as roundMetric


@attrs.define
class LoopStats:
    """Event-loop figures from the monitor task (server/loop_monitor.py): delay samples (ms,
    the newest 120), and utilisation and process CPU over the last window."""

    interval_ms: float = 1000.0
    samples: collections.deque[float] = attrs.field(factory=lambda: collections.deque(maxlen=120))
    utilization: float = 0.0
    cpu_core_ratio: float = 0.0
    degraded_since_ms: float | None = None
    last_sample_ms: float | None = None
    # Counts samples: the figures only change when one lands (`snapshot` and the health
    # reply are cached per version; `health` is polled far more often than once a second).
    version: int = 0
    _snapshot: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False)

    def record(
        self,
        lag_ms: float,
        *,
        window_ms: float,
        utilization: float,
        cpu_core_ratio: float,
        now_ms: float,
    ) -> None:
        self.samples.append(max(0.0, lag_ms))
        self.version += 1
        self._snapshot = None
        self.interval_ms = window_ms
        self.utilization = min(1.0, max(0.0, utilization))
        self.cpu_core_ratio = max(0.0, cpu_core_ratio)
        self.last_sample_ms = now_ms
        if self._reasons():
            if self.degraded_since_ms is None:
                self.degraded_since_ms = now_ms
        else:
            self.degraded_since_ms = None

    def _delays(self) -> tuple[float, float]:
        ordered = sorted(self.samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
        return p99, (ordered[-1] if ordered else 0.0)

    def _reasons(self) -> list[str]:
        """Official classifyGatewayEventLoopHealthReasons."""
        p99, worst = self._delays()
        reasons = []
        if max(p99, worst) >= EVENT_LOOP_DELAY_WARN_MS:
            reasons.append("event_loop_delay")
        if self.interval_ms < SUSTAINED_LOAD_SAMPLE_MIN_INTERVAL_MS:
            return reasons
        if max(p99, worst) < LOAD_DEGRADATION_DELAY_COEVIDENCE_MS:
            return reasons
        if self.utilization >= EVENT_LOOP_UTILIZATION_WARN:
            reasons.append("event_loop_utilization")
        if self.cpu_core_ratio >= CPU_CORE_RATIO_WARN:
            reasons.append("cpu")
        return reasons

    def snapshot(self) -> dict[str, Any]:
        """The health `eventLoop` figures (shared until the next sample: read, never change)."""
        if self._snapshot is None:
            self._snapshot = self._figures()
        return self._snapshot

    def _figures(self) -> dict[str, Any]:
        p99, worst = self._delays()
        reasons = self._reasons()
        since = None
        if reasons and self.degraded_since_ms is not None and self.last_sample_ms is not None:
            since = max(0, round(self.last_sample_ms - self.degraded_since_ms))
        return {
            "degraded": bool(reasons),
            "degradedSinceMs": since,
            "reasons": reasons,
            "intervalMs": round(self.interval_ms, 1),
            "delayP99Ms": round(p99, 1),
            "delayMaxMs": round(worst, 1),
            "utilization": _round(self.utilization),
            "cpuCoreRatio": _round(self.cpu_core_ratio),
        }


@attrs.define
class GatewayState:
    """Everything the methods share. Built once by the supervisor."""

    version: str
    logger: Logger
    presence: PresenceTable
    config_path: Path
    state_dir: Path
    auth_mode: str
    log_file: Path | None
    started_at: float = attrs.field(factory=time.monotonic)
    clock: Callable[[], float] = time.time  # wall clock, seconds
    broadcast: Broadcast = _no_broadcast
    # Broadcasts in this (non-waiting) block leave together, one write per socket (Hub.corked).
    corked: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
    loop: LoopStats = attrs.field(factory=LoopStats)
    last_heartbeat: dict[str, Any] | None = None
    health_version: int = 1
    health_cache: dict[str, Any] = attrs.field(factory=dict)
    health_cached_at_ms: int | None = None
    # The encoded `health` reply for (health_cache, loop.version), see methods/system.health.
    health_reply: tuple[dict[str, Any], int, Any] | None = None
    ready: bool = False
    shutting_down: bool = False
    # Pairing records and device tokens (store-backed); None when the gateway runs without.
    pairing: Book | None = None
    # Close a device's live sockets: (device_id, role or None, reason, caller conn id) -> count.
    invalidate_device: Callable[[str, str | None, str, str | None], int] = (
        lambda device_id, role, reason, caller: 0
    )
    # Device ids with a live socket (device.pair.list `connected`).
    connected_devices: Callable[[], set[str]] = set
    # The state database (cron jobs and runs); None when the gateway runs without.
    store: Store | None = None
    # The cron scheduler; None when cron is disabled (cron.enabled:false, OPENCLAW_SKIP_CRON).
    cron: CronControl | None = None
    # Tailscale serve/funnel: {mode, state, url, error}, updated in place by tailscale.py;
    # None when tailscale mode is off.
    tailscale: dict[str, Any] | None = None
    host_tz: str = "UTC"
    # The config file as parsed when the gateway started (cron webhooks, heartbeat, routing).
    raw_config: dict[str, Any] = attrs.field(factory=dict)
    # Connected nodes, their capability requests and in-flight invokes (node.*).
    nodes: NodeRegistry = attrs.field(factory=NodeRegistry)
    # Sessions, transcripts and agent runs (server/runs); None until the supervisor starts it.
    conversations: Conversations | None = None
    # Prometheus instruments (server/metrics); the supervisor replaces this with its own.
    metrics: GatewayMetrics = attrs.field(factory=GatewayMetrics)
    # Config hot reload: "active" | "disabled" | "off"; None when no watcher runs.
    reload_status: Callable[[], str | None] = lambda: None
    # Channel bridges and the delivery queue (server/channels); system events, wakes and
    # heartbeats (server/mainsession). None until the supervisor starts them.
    channels: Channels | None = None
    main_session: MainSession | None = None
    # Send one prepared frame to one socket (an `agent` request's second response).
    send_to: Callable[[str, str], bool] = lambda conn_id, frame: False

    def require_conversations(self) -> Conversations:
        if self.conversations is None:
            raise RpcError("UNAVAILABLE", "sessions are not available yet")
        return self.conversations

    def require_main_session(self) -> MainSession:
        if self.main_session is None:
            raise RpcError("UNAVAILABLE", "the main session is not available yet")
        return self.main_session

    def require_pairing(self) -> Book:
        """The pairing book, or the UNAVAILABLE error methods answer without one."""
        if self.pairing is None:
            raise RpcError("UNAVAILABLE", "device pairing store is not available")
        return self.pairing

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def uptime_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    def state_version(self) -> dict[str, int]:
        return {"presence": self.presence.version, "health": self.health_version}


@attrs.frozen
class Caller:
    conn_id: str
    role: str
    scopes: tuple[str, ...]
    client_id: str
    client_mode: str
    remote_ip: str
    device_id: str | None = None
    auth_method: str = ""  # hello-ok auth.method; "device-token" scopes device management


@attrs.frozen
class CallContext:
    state: GatewayState
    caller: Caller
    # The request frame's id, for handlers that answer twice (`agent`: accepted, then final).
    request_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "operator.admin" in self.caller.scopes
