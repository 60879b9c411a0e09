"""RunSettings: everything run_gateway() needs, decided before it starts (cli/run_start.py builds
it from the config file, the flags and the environment; tests build it directly)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from openclaw_gateway.core.logs import Logger
from openclaw_gateway.discovery.runtime import DiscoveryPlan
from openclaw_gateway.host.netbind import BindPlan
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.origin import OriginPolicy
from openclaw_gateway.security.ratelimit import AuthRateLimitPolicy
from openclaw_gateway.server.connection import TICK_INTERVAL_MS
from openclaw_gateway.server.dispatch import KEEPALIVE_INTERVAL
from openclaw_gateway.server.hooks.config import HooksConfig
from openclaw_gateway.server.hub import MAX_BUFFERED_BYTES
from openclaw_gateway.server.reloader import ReloadHooks
from openclaw_gateway.server.restart import SignalObserver
from openclaw_gateway.server.rpc.registry import Registry
from openclaw_gateway.server.tls import Served
from openclaw_gateway.server.web.front import ControlUiSettings

DRAIN_TIMEOUT = 5.0


@attrs.frozen
class RunSettings:
    version: str
    port: int
    bind: BindPlan
    policy: AuthPolicy
    state_dir: Path
    config_path: Path
    logger: Logger
    log_file: Path | None = None
    runtime_token_path: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    allow_real_ip_fallback: bool = False  # gateway.allowRealIpFallback
    # gateway.controlUi.allowedOrigins / dangerouslyAllowHostHeaderOriginFallback
    origin_policy: OriginPolicy = attrs.field(factory=OriginPolicy)
    # gateway.auth.rateLimit
    auth_rate_limit: AuthRateLimitPolicy = attrs.field(factory=AuthRateLimitPolicy)
    # None: OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP, else 32.
    max_preauth_per_ip: int | None = None
    # gateway.maxConnections; None: the raised descriptor limit less a reserve.
    max_connections: int | None = None
    max_buffered_bytes: int = MAX_BUFFERED_BYTES  # slow-consumer threshold (tests lower it)
    # Tests swap the method table (e.g. to exercise the control-plane write limit).
    registry_factory: Callable[[], Registry] | None = None
    handshake_timeout: float = 15.0
    tick_interval_ms: int = TICK_INTERVAL_MS
    # Seconds between the shared keepalive pings (a socket with no pong by the next round is
    # dropped); math.inf: no pings (tests on trio's autojump clock, see tests/helpers.py).
    keepalive_interval: float = KEEPALIVE_INTERVAL
    drain_timeout: float = DRAIN_TIMEOUT
    handle_signals: bool = True
    clock: Callable[[], float] = time.time
    # cron.enabled (env OPENCLAW_SKIP_CRON=1 also disables) and cron.skipMissedJobs
    cron_enabled: bool = True
    cron_skip_missed: bool = False
    # --tailscale / gateway.tailscale.mode ("off" | "serve" | "funnel"), torn down last.
    tailscale_mode: str = "off"
    tailscale_reset_on_exit: bool = False  # --tailscale-reset-on-exit / tailscale.resetOnExit
    tailscale_binary: str | None = None  # None: look it up as the official CLI does
    tailscale_ready_timeout: float = 15.0
    # Bonjour announcer + wide-area zone (discovery/runtime.py); None: no discovery at all.
    discovery: DiscoveryPlan | None = None
    # commands.restart: false makes an external SIGUSR2 a logged no-op.
    restart_allowed: bool = True
    # Counts repeated signals across in-process restarts (the CLI passes one per process).
    signal_observer: SignalObserver | None = None
    # The raw `agents` config section (agents.list / agents.defaults), see server/runs/agents.
    agents_config: dict[str, object] | None = None
    # Config hot reload (server/reloader.py); None: the config file is not watched.
    reload: ReloadHooks | None = None
    # gateway.tls: the checked pair the gateway port serves (cli/run_start loads it); None: plain.
    tls: Served | None = None
    # gateway.controlUi: the web page (the built-in dashboard unless `root` is set).
    control_ui: ControlUiSettings = attrs.field(factory=ControlUiSettings)
    tls_renewal: bool = True  # False with gateway.reload.mode "off": a replaced pair waits
    # gateway.http.endpoints.chatCompletions.enabled: /v1/models + /v1/chat/completions.
    openai_chat_completions: bool = False
    openai_responses: bool = False  # gateway.http.endpoints.responses.enabled: /v1/responses
    hooks: HooksConfig | None = None  # hooks.* (checked at start); None: no hook endpoints
    # The whole config file as parsed: bindings, session.dmScope, heartbeat, cron webhooks.
    raw_config: dict[str, Any] = attrs.field(factory=dict)
