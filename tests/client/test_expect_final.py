"""`call(..., expect_final=True)` as the official client's expectFinal: an `ok` response whose
payload says status "accepted" is an acknowledgment, the request resolves with the next
response for its id; without it the first response resolves. Scripted over memory streams,
then `agent` against a real in-process gateway with a real SDK agent node."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection

from openclaw_gateway.client import GatewayClient, GatewayRequestError, GatewayTransportError
from openclaw_gateway.client.agent import Turn
from tests.client.test_client import FakeGateway, Script, handshake
from tests.helpers import TOKEN, RunningGateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent

ACCEPTED = {"runId": "r1", "status": "accepted"}
FINAL = {"runId": "r1", "status": "ok", "summary": "completed"}


def answers(*frames: dict[str, Any], then_close: bool = False) -> Script:
    """Answer the first request with `frames` (each: ok + payload, or an error), back to back;
    then wait for the client to leave, or close (1011)."""

    async def script(ws: WebSocketConnection) -> None:
        await handshake(ws, 600_000)
        req = json.loads(await ws.get_message())
        for frame in frames:
            await ws.send_message(json.dumps({"type": "res", "id": req["id"], **frame}))
        if then_close:
            await ws.aclose(1011, "gone")
        else:
            await ws.get_message()

    return script


async def call_scripted(nursery: trio.Nursery, script: Script, **kwargs: Any) -> Any:
    """The call's payload, or the client error it raised (caught inside the client's nursery,
    which would wrap it in a group)."""
    gw = FakeGateway(nursery, [script])
    async with GatewayClient("ws://gw.test", token="t", connector=gw.connect) as client:
        try:
            return await client.call("agent", {"message": "hi"}, **kwargs)
        except (GatewayRequestError, GatewayTransportError) as exc:
            return exc


async def test_accepted_then_final(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    both = ({"ok": True, "payload": ACCEPTED}, {"ok": True, "payload": FINAL})
    assert await call_scripted(nursery, answers(*both), expect_final=True) == FINAL
    # Without it the first response resolves (the reader retires the request there, so the
    # final one right behind it, same id, cannot replace it).
    assert await call_scripted(nursery, answers(*both)) == ACCEPTED


async def test_a_first_answer_that_is_not_accepted_resolves(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    health = {"ok": True, "payload": {"ok": True}}
    assert await call_scripted(nursery, answers(health), expect_final=True) == {"ok": True}
    failed = {"ok": False, "error": {"code": "UNAVAILABLE", "message": "no agent"}}
    error = await call_scripted(
        nursery, answers({"ok": True, "payload": ACCEPTED}, failed), expect_final=True
    )
    assert isinstance(error, GatewayRequestError) and error.code == "UNAVAILABLE"


async def test_timeout_bounds_the_whole_wait(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    t0 = trio.current_time()
    error = await call_scripted(
        nursery, answers({"ok": True, "payload": ACCEPTED}), expect_final=True, timeout=3
    )
    assert isinstance(error, GatewayTransportError) and error.kind == "timeout"
    assert trio.current_time() - t0 == pytest.approx(3)


async def test_closed_after_accepted_fails_the_request(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    script = answers({"ok": True, "payload": ACCEPTED}, then_close=True)
    error = await call_scripted(nursery, script, expect_final=True)
    assert isinstance(error, GatewayTransportError) and error.kind == "closed"


async def _echo(turn: Turn) -> AsyncIterator[str]:
    yield f"you said: {turn.message}"


async def test_agent_against_a_live_gateway(gateway: RunningGateway, tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ["operator.admin"]) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", _echo),
            GatewayClient(gateway.url, token=TOKEN) as client,
        ):
            params = {"message": "status?", "agentId": "main", "idempotencyKey": "ef-1"}
            final = await client.call("agent", params, expect_final=True)
            assert final["status"] == "ok" and final["summary"] == "completed"
            assert final["result"]["payloads"] == [{"text": "you said: status?"}]
            params = {**params, "message": "again", "idempotencyKey": "ef-2"}
            first = await client.call("agent", params)
            assert first["status"] == "accepted" and first["sessionKey"] == "agent:main:main"
            assert first["runId"] == "ef-2"
