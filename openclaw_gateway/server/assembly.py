"""The shared objects run_gateway() builds before its task tree: the gateway state (with our own
presence row), the metrics over the hub, and the one HTTP router in the official route order.

The routes that config turns on (hooks, the OpenAI endpoints) are imported only then: a gateway
without them does not load their modules before its first hello-ok (issue 17)."""

from __future__ import annotations

import platform
import socket
import uuid

from openclaw_gateway.security.ratelimit import AuthLimiters
from openclaw_gateway.server import probes
from openclaw_gateway.server.cron.zones import host_timezone
from openclaw_gateway.server.http.router import Route, Router
from openclaw_gateway.server.hub import Hub
from openclaw_gateway.server.metrics.instruments import GatewayMetrics, LiveFigures
from openclaw_gateway.server.metrics.route import prometheus_route
from openclaw_gateway.server.openai.http_auth import HttpGate
from openclaw_gateway.server.reloader import Reloader
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.rpc.registry import Registry
from openclaw_gateway.server.run_settings import RunSettings
from openclaw_gateway.server.web.front import ControlUiView, deferred_control_ui_route
from openclaw_gateway.state.presence import PresenceTable, self_entry


def _primary_ipv4() -> str:
    from openclaw_gateway.host.netbind import interface_ipv4s

    found = interface_ipv4s()
    for preferred in ("en0", "eth0"):
        for name, ip in found:
            if name == preferred:
                return ip
    return found[0][1] if found else socket.gethostname()


def _platform_label() -> tuple[str, str]:
    system = platform.system()
    if system == "Darwin":
        return f"macos {platform.mac_ver()[0]}", "Mac"
    if system == "Windows":
        return f"windows {platform.release()}", "Windows"
    return f"{system.lower()} {platform.release()}", system or "Linux"


def build_state(settings: RunSettings) -> GatewayState:
    now_ms = int(settings.clock() * 1000)
    label, family = _platform_label()
    entry = self_entry(
        socket.gethostname(), _primary_ipv4(), settings.version, label, family, str(uuid.uuid4())
    )
    return GatewayState(
        version=settings.version,
        logger=settings.logger,
        presence=PresenceTable(entry, now_ms),
        config_path=settings.config_path,
        state_dir=settings.state_dir,
        auth_mode=settings.policy.mode,
        log_file=settings.log_file,
        clock=settings.clock,
        host_tz=host_timezone(),
        raw_config=settings.raw_config,
    )


def gateway_metrics(registry: Registry, hub: Hub, state: GatewayState) -> GatewayMetrics:
    """The Prometheus instruments; live figures are read from the hub and state at scrape time."""
    return GatewayMetrics(
        registry.every_name(),
        LiveFigures(
            connections_by_role=hub.connections_by_role,
            outbox_bytes=hub.outbox_bytes,
            events_fanned_out=lambda: hub.events_fanned_out,
            events_dropped=lambda: hub.events_dropped,
            loop_lag_ms=lambda: state.loop.samples[-1] if state.loop.samples else 0.0,
            delivery_queue_depth=lambda: (
                state.channels.outbox.pending_count() if state.channels is not None else None
            ),
        ),
    )


def gateway_router(
    settings: RunSettings, state: GatewayState, reloader: Reloader, limiters: AuthLimiters
) -> Router:
    """Probes first; hooks, the OpenAI routes and metrics in the official order; the web page
    last (at the root base path it owns every other GET: the SPA fallback)."""
    gate = HttpGate(lambda: reloader.live.policy.mode, limiters, state.now_ms)
    api_routes: list[Route] = []
    if settings.hooks is not None:  # the official order: hooks before the OpenAI routes
        from openclaw_gateway.server.hooks.route import hooks_route

        api_routes.append(hooks_route(settings.hooks, state))
    # The official order: models (either endpoint turns it on), responses, chat completions.
    if settings.openai_chat_completions or settings.openai_responses:
        from openclaw_gateway.server.openai.models import models_route

        api_routes.append(models_route(gate, state.require_conversations))
    if settings.openai_responses:
        from openclaw_gateway.server.openai.responses import responses_route

        api_routes.append(responses_route(gate, state.require_conversations))
    if settings.openai_chat_completions:
        from openclaw_gateway.server.openai.chat_completions import chat_completions_route

        api_routes.append(chat_completions_route(gate, state.require_conversations))
    # The official serves metrics as a plugin route: after the core API routes.
    api_routes.append(prometheus_route(gate, state.metrics))
    return Router(
        (
            probes.probe_route(
                lambda: probes.ProbeView(
                    ready=state.ready and not state.shutting_down,
                    uptime_ms=state.uptime_ms(),
                    version=state.version,
                    event_loop=state.loop.snapshot(),
                )
            ),
            *api_routes,
            deferred_control_ui_route(
                settings.control_ui,
                lambda: ControlUiView(reloader.live.policy.mode, state.version),
                state,
            ),
        )
    )
