"""`GET /api/diagnostics/prometheus` (official diagnostics-prometheus plugin): gateway auth,
operator.read, the standard text exposition format."""

from __future__ import annotations

from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.http.messages import (
    SECURITY_HEADERS,
    HttpRequest,
    HttpResponse,
    Response,
)
from openclaw_gateway.server.http.router import RequestContext, Route
from openclaw_gateway.server.metrics.instruments import GatewayMetrics
from openclaw_gateway.server.openai import replies
from openclaw_gateway.server.openai.http_auth import HttpGate

PATH = "/api/diagnostics/prometheus"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the official header


def prometheus_route(gate: HttpGate, metrics: GatewayMetrics) -> Route:
    async def route(request: HttpRequest, ctx: RequestContext) -> Response | None:
        if request.path != PATH:
            return None
        if request.method not in ("GET", "HEAD"):
            return replies.method_not_allowed("GET")
        refused = gate.check(request, ctx, S.READ)
        if refused is not None:
            return refused
        from prometheus_client import generate_latest  # at the first scrape (instruments.py)

        body = generate_latest(metrics.registry)
        headers = (
            ("Content-Type", CONTENT_TYPE),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(body))),
            *SECURITY_HEADERS,
        )
        return HttpResponse(200, headers, b"" if request.method == "HEAD" else body)

    return route
