"""Gateway auth for the HTTP API routes (official authorizeGatewayHttpRequestOrReply for the
shared-secret modes): `Authorization: Bearer <token|password>` proves the gateway secret and
grants the default operator scopes; mode "none" needs no header. Wrong or missing secrets
count against the same failed-auth limiter as WebSocket connects (429 + Retry-After when
locked out). In mode "none" (private ingress) an `x-openclaw-scopes` header narrows the
scopes; a bearer secret always has them all. Trusted-proxy identity headers are not honoured
here (that auth mode is not built yet).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from openclaw_gateway.security.ratelimit import AuthLimiters
from openclaw_gateway.security.scopes import scope_satisfied
from openclaw_gateway.server.http.messages import HttpRequest, HttpResponse
from openclaw_gateway.server.http.router import RequestContext
from openclaw_gateway.server.openai import replies


@attrs.frozen
class HttpGate:
    mode: Callable[[], str]  # the live gateway.auth.mode
    limiters: AuthLimiters
    now_ms: Callable[[], int]

    def check(self, request: HttpRequest, ctx: RequestContext, scope: str) -> HttpResponse | None:
        """None when the caller may proceed with `scope`, else the answer (401, 403 or 429)."""
        if self.mode() == "none":
            declared = request.headers.get("x-openclaw-scopes")
            if declared is None:
                return None
            granted = [s.strip() for s in declared.split(",") if s.strip()]
            return None if scope_satisfied(scope, granted) else replies.missing_scope(scope)
        attempt = self.limiters.attempt(ctx.peer_ip, None, self.now_ms())
        retry_after = attempt.blocked()
        if retry_after is not None:
            return replies.rate_limited(retry_after)
        if ctx.bearer_ok(request.bearer_token()):
            attempt.succeeded()
            return None
        attempt.failed()
        return replies.unauthorized()
