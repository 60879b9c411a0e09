"""The HTTP routes that share the gateway port (protocol.md §9.1). Pure: request in, response out.

`/health` and `/healthz` say the process is alive; `/ready` and `/readyz` say it accepts
connections (503 while starting or shutting down). Details go only to direct-local callers, or
to remote callers presenting the gateway secret as a Bearer token. Only GET and HEAD.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from openclaw_gateway.server.http.messages import HttpRequest, HttpResponse, json_response, text
from openclaw_gateway.server.http.router import RequestContext, Route

LIVE_PATHS = frozenset({"/health", "/healthz"})
READY_PATHS = frozenset({"/ready", "/readyz"})
STARTUP_PATHS = frozenset({"/startup", "/startupz"})
PROBE_PATHS = LIVE_PATHS | READY_PATHS | STARTUP_PATHS


@attrs.frozen
class ProbeView:
    ready: bool
    uptime_ms: int
    version: str
    event_loop: dict[str, Any]


def _json(status: int, value: Any, head: bool) -> HttpResponse:
    return json_response(status, value, head=head)


def route(
    method: str,
    target: str,
    *,
    local: bool,
    bearer_ok: Callable[[], bool],
    view: Callable[[], ProbeView],
) -> HttpResponse | None:
    """The probe answer, or None when `target` is not a probe path."""
    path = target.split("?", 1)[0]
    if path not in PROBE_PATHS:
        return None
    if method not in ("GET", "HEAD"):
        return text(405, "Method Not Allowed", (("Allow", "GET, HEAD"),))
    head = method == "HEAD"
    if path in LIVE_PATHS:
        return _json(200, {"ok": True, "status": "live"}, head)
    v = view()
    detailed = local or bearer_ok()
    if path in STARTUP_PATHS:
        body: dict[str, Any] = {"ok": v.ready, "status": "started" if v.ready else "starting"}
        if detailed:
            body.update(version=v.version, uptimeMs=v.uptime_ms)
        return _json(200 if v.ready else 503, body, head)
    body = {"ready": v.ready}
    if detailed:
        body.update(
            failing=[] if v.ready else ["gateway"], uptimeMs=v.uptime_ms, eventLoop=v.event_loop
        )
    return _json(200 if v.ready else 503, body, head)


def probe_route(view: Callable[[], ProbeView]) -> Route:
    """The probes as the router's first route."""

    async def answer(request: HttpRequest, context: RequestContext) -> HttpResponse | None:
        token = request.bearer_token()
        return route(
            request.method,
            request.target,
            local=context.local,
            bearer_ok=lambda: bool(token) and context.bearer_ok(token),
            view=view,
        )

    return answer
