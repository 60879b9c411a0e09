"""What every POST endpoint here does around its run: the route preamble (path, method, auth,
the JSON body within its limits), the shared answers, and the wait for the run while watching
for the client to leave."""

from __future__ import annotations

import json
from typing import Any

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.http.messages import SECURITY_HEADERS, HttpRequest, HttpResponse
from openclaw_gateway.server.http.reader import BodyError
from openclaw_gateway.server.http.router import RequestContext
from openclaw_gateway.server.openai import replies
from openclaw_gateway.server.openai.http_auth import HttpGate
from openclaw_gateway.server.runs.run import Run

BODY_TIMEOUT = 30.0  # seconds for the whole body (official readJsonBody default)
MAX_BODY_BYTES = 20 * 1024 * 1024  # official DEFAULT_OPENAI_CHAT_COMPLETIONS_BODY_BYTES
NO_RESPONSE = "No response from OpenClaw."
SSE_HEADERS = (
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    *SECURITY_HEADERS,
)


async def post_json(
    request: HttpRequest, ctx: RequestContext, gate: HttpGate, path: str
) -> dict[str, Any] | HttpResponse | None:
    """None: not this route. Else the 405/auth/body answer, or the request's JSON object."""
    if request.path != path:
        return None
    if request.method != "POST":
        return replies.method_not_allowed("POST")
    refused = gate.check(request, ctx, S.WRITE)
    if refused is not None:
        return refused
    return await read_json_object(ctx, MAX_BODY_BYTES)


def submit_failure(exc: RpcError) -> tuple[int, str]:
    """The HTTP status and OpenAI error type for a run the gateway would not start."""
    return (400, "invalid_request_error") if exc.code == "INVALID_REQUEST" else (503, "api_error")


async def read_json_object(ctx: RequestContext, limit: int) -> dict[str, Any] | HttpResponse:
    """The body as a JSON object (empty body: {}), else the 400/408/413 answer."""
    try:
        raw = await ctx.read_body(limit, BODY_TIMEOUT)
    except BodyError as exc:
        return replies.body_rejected(exc.status)
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return replies.invalid_request("Invalid JSON body")
    if not isinstance(value, dict):
        return replies.invalid_request("Invalid request body")
    return value


async def until_done_or_gone(run: Run, ctx: RequestContext) -> bool:
    """Wait for the run; False when the client closed the connection first."""
    gone = False
    async with trio.open_nursery() as nursery:
        if ctx.peer_closed is not None:
            closed = ctx.peer_closed

            async def watch() -> None:
                nonlocal gone
                await closed()
                gone = True
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
        await run.done.wait()
        nursery.cancel_scope.cancel()
    return not gone
