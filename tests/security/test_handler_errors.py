"""A handler bug (issue 13 §3): the caller gets `UNAVAILABLE` and a generic message, never the
exception's text (paths, reprs); the operator gets the text in the log, escaped, on the sync
and the async handler path alike. Over a real 127.0.0.1 socket."""

from __future__ import annotations

import json
from typing import Any

import trio
import trio.lowlevel

from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.registry import EXEMPT, Registry
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import StartGateway, ws_connected

SECRET_PATH = "/home/someone/.openclaw/credentials/private.json"
FORGED = "2026-01-01T00:00:00.000+00:00 [gateway] forged"


def _failing_registry() -> Registry:
    registry = Registry()

    @registry.method("health", scope=EXEMPT)
    def health(ctx: CallContext, params: Any) -> dict[str, Any]:
        return {"ok": True}

    @registry.method("broken.sync", scope=S.READ)
    def broken_sync(ctx: CallContext, params: Any) -> dict[str, Any]:
        raise FileNotFoundError(2, f"No such file\n{FORGED}", SECRET_PATH)

    @registry.method("broken.async", scope=S.READ)
    async def broken_async(ctx: CallContext, params: Any) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        raise KeyError(f"{SECRET_PATH}\n{FORGED}")

    return registry


async def test_handler_exceptions_are_logged_and_answered_generically(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(registry_factory=_failing_registry)
    with trio.fail_after(10):
        async with ws_connected(nursery, gw.port) as client:
            for method in ("broken.sync", "broken.async"):
                res = await client.call(method)
                assert res["ok"] is False
                assert res["error"] == {"code": "UNAVAILABLE", "message": "request handler failed"}
                assert SECRET_PATH not in json.dumps(res)
            assert (await client.call("health"))["ok"] is True  # the socket survived both
    console = gw.stdout.getvalue() + gw.stderr.getvalue()
    for method, kind in (("broken.sync", "FileNotFoundError"), ("broken.async", "KeyError")):
        line = next(x for x in console.splitlines() if f"method={method}" in x and "failed" in x)
        assert f"request handler failed method={method}" in line
        assert kind in line and SECRET_PATH in line and f"\\n{FORGED}" in line
    for line in console.splitlines():
        assert not line.startswith("2026-01-01T00:00:00.000+00:00"), line
