"""One ordered list of HTTP routes for the gateway port. Pure: the edge writes the answers.

A route is `async (request, context) -> Response | None`; None means "not mine" and the next route
is tried; when none answers, 404. Routes decide their own methods, auth and limits; the context
carries what the edge knows about the caller and a bounded body reader.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import attrs

from openclaw_gateway.server.http.messages import HttpRequest, Response, text

Route = Callable[[HttpRequest, "RequestContext"], Awaitable[Response | None]]


@attrs.frozen
class RequestContext:
    peer_ip: str  # the socket's peer address
    local: bool  # a direct local caller: loopback peer and no forwarding headers
    bearer_ok: Callable[[str], bool]  # does this bearer token carry the gateway secret?
    # The body, bounded: (limit bytes, timeout s) -> bytes; raises reader.BodyError.
    read_body: Callable[[int, float], Awaitable[bytes]]
    # Returns once the client has closed the connection (a long route races its work with it;
    # only after the body was read). None: not watched (unit tests).
    peer_closed: Callable[[], Awaitable[None]] | None = None


@attrs.frozen
class Router:
    routes: Sequence[Route] = ()

    async def handle(self, request: HttpRequest, context: RequestContext) -> Response:
        for route in self.routes:
            response = await route(request, context)
            if response is not None:
                return response
        return text(404, "Not Found")
