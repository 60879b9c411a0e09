"""The HTTP routes that share the gateway port (protocol.md §9.1). Pure: request in, response out.

`/health` and `/healthz` say the process is alive; `/ready` and `/readyz` say it accepts
connections (503 while starting or shutting down). Details go only to direct-local callers, or
to remote callers presenting the gateway secret as a Bearer token. Only GET and HEAD.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(self), geolocation=()"),
)
LIVE_PATHS = frozenset({"/health", "/healthz"})
READY_PATHS = frozenset({"/ready", "/readyz"})
STARTUP_PATHS = frozenset({"/startup", "/startupz"})


@attrs.frozen
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@attrs.frozen
class ProbeView:
    ready: bool
    uptime_ms: int
    version: str
    event_loop: dict[str, Any]


def _json(status: int, value: Any, head: bool) -> HttpResponse:
    body = json.dumps(value, separators=(",", ":")).encode("utf-8")
    headers = (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Content-Length", str(len(body))),
        *SECURITY_HEADERS,
    )
    return HttpResponse(status, headers, b"" if head else body)


def text(status: int, message: str, extra: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    body = message.encode("utf-8")
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *extra,
        *SECURITY_HEADERS,
    )
    return HttpResponse(status, headers, body)


def route(
    method: str,
    target: str,
    *,
    local: bool,
    bearer_ok: Callable[[], bool],
    view: Callable[[], ProbeView],
) -> HttpResponse:
    path = target.split("?", 1)[0]
    if path not in LIVE_PATHS | READY_PATHS | STARTUP_PATHS:
        return text(404, "Not Found")
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
