"""`send_call`: requests go out without waiting for their answers (an agent's progress
chunks), each answer is kept for its SentCall; an error answer raises on outcome(), and one the
connection closed before answering raises "closed". Scripted over memory streams: the gateway
reads every request before it answers any, so a client that waited would never finish."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection

from openclaw_gateway.client import GatewayClient, GatewayRequestError, GatewayTransportError
from tests.client.test_client import FakeGateway, handshake


async def three_then_answer_two(ws: WebSocketConnection) -> None:
    await handshake(ws, 600_000)
    requests = [json.loads(await ws.get_message()) for _ in range(3)]
    assert [r["method"] for r in requests] == ["one", "two", "three"]
    await ws.send_message(json.dumps({"type": "res", "id": requests[0]["id"], "ok": True,
                                      "payload": {"n": 1}}))  # fmt: skip
    error = {"code": "INVALID_REQUEST", "message": "no such thing"}
    await ws.send_message(json.dumps({"type": "res", "id": requests[1]["id"], "ok": False,
                                      "error": error}))  # fmt: skip
    await ws.aclose(1011, "gone")  # the third is never answered


async def test_pipelined_calls_keep_their_answers(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    gw = FakeGateway(nursery, [three_then_answer_two])
    async with GatewayClient(
        "ws://gw.test", token="t", connector=gw.connect, reconnect=False
    ) as client:
        with trio.fail_after(5):
            sent = [await client.send_call(name, {"i": i}) for i, name in
                    enumerate(("one", "two", "three"))]  # fmt: skip
            for call in sent:
                await call.answer()
    assert sent[0].outcome() == {"n": 1}
    with pytest.raises(GatewayRequestError, match="no such thing"):
        sent[1].outcome()
    with pytest.raises(GatewayTransportError, match="closed"):
        sent[2].outcome()
