"""What every POST endpoint here does around its run: read the JSON body within its limits,
and wait for the run while watching for the client to leave."""

from __future__ import annotations

import json
from typing import Any

import trio

from openclaw_gateway.server.http.messages import HttpResponse
from openclaw_gateway.server.http.reader import BodyError
from openclaw_gateway.server.http.router import RequestContext
from openclaw_gateway.server.openai import replies
from openclaw_gateway.server.runs.manager import Run

BODY_TIMEOUT = 30.0  # seconds for the whole body (official readJsonBody default)


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
