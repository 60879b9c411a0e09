"""A full start queue answers a retryable UNAVAILABLE before the handler runs
(protocol.md §1.4 "operator request queue"; security.md reliability item 12)."""

from __future__ import annotations

import json
from typing import Any

import trio

from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.dispatch import MAX_PENDING_REQUESTS
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.registry import EXEMPT, Registry
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import ADMIN_SCOPES, StartGateway, ws_connected

TIMEOUT = 10
BUSY = {
    "code": "UNAVAILABLE",
    "message": "The server is busy. Please try again in a moment.",
    "retryable": True,
}


class _Blocking:
    """A registry whose `test.block` handler waits until released, counting its starts."""

    def __init__(self) -> None:
        self.started = 0
        self.release = trio.Event()

    def registry(self) -> Registry:
        registry = Registry()

        @registry.method("health", scope=EXEMPT)
        def health(ctx: CallContext, params: Any) -> dict[str, Any]:
            return {"ok": True}

        @registry.method("test.block", scope=S.READ)
        async def block(ctx: CallContext, params: Any) -> dict[str, Any]:
            self.started += 1
            await self.release.wait()
            return {"released": True}

        return registry


async def test_a_full_start_queue_is_refused_before_the_handler_runs(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    blocking = _Blocking()
    gw = await start(registry_factory=blocking.registry)
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as client:
            for i in range(MAX_PENDING_REQUESTS):
                await client.send(
                    {"type": "req", "id": f"b{i}", "method": "test.block", "params": {}}
                )
            refused = await client.call("test.block")
            assert refused["error"] == BUSY
            assert blocking.started == MAX_PENDING_REQUESTS  # the extra one never started
            # Synchronous, cheap methods still answer while the queue is full.
            assert (await client.call("health"))["ok"]
            blocking.release.set()
            answered = set()
            while len(answered) < MAX_PENDING_REQUESTS:
                frame = await client.recv()
                if frame.get("type") == "res":
                    assert frame["ok"], json.dumps(frame)
                    answered.add(frame["id"])
            # The queue drained: new work is accepted again.
            assert (await client.call("test.block"))["ok"]
