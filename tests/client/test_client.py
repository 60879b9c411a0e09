"""Client SDK behaviour that depends on time: reconnect backoff, tick watchdog, seq gaps.

A scripted gateway runs over trio memory streams (no sockets), so the autojump clock makes
every wait exact and instant.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream

from openclaw_gateway.client import GatewayClient, GatewayRequestError, GatewayTransportError

Script = Callable[[WebSocketConnection], Awaitable[None]]


class FakeGateway:
    """Hands out one memory stream per connect; each connection runs the next script."""

    def __init__(self, nursery: trio.Nursery, scripts: list[Script | None]) -> None:
        self.nursery = nursery
        self.scripts = scripts
        self.attempts: list[float] = []
        self.closes: list[tuple[int | None, str | None]] = []

    async def connect(self, url: str) -> tuple[trio.abc.Stream, str, str]:
        self.attempts.append(trio.current_time())
        script = self.scripts.pop(0) if self.scripts else None
        if script is None:
            raise GatewayTransportError("refused", "connection refused", reason="ECONNREFUSED")
        client, server = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self._serve, server, script)
        return client, "gw.test", "/"

    async def _serve(self, stream: trio.abc.Stream, script: Script) -> None:
        async with trio.open_nursery() as nursery:
            request = await wrap_server_stream(nursery, stream)  # type: ignore[arg-type]
            ws = await request.accept()
            try:
                await script(ws)
            except ConnectionClosed as exc:
                reason = exc.reason
                self.closes.append((reason.code, reason.reason) if reason else (None, None))
            nursery.cancel_scope.cancel()


def hello(tick_ms: int = 1000) -> dict[str, Any]:
    return {
        "type": "hello-ok",
        "protocol": 4,
        "server": {"version": "t", "connId": "c"},
        "features": {"methods": [], "events": []},
        "snapshot": {},
        "auth": {"role": "operator", "scopes": []},
        "policy": {"tickIntervalMs": tick_ms},
    }


async def handshake(ws: WebSocketConnection, tick_ms: int = 1000) -> None:
    await ws.send_message(
        json.dumps(
            {"type": "event", "event": "connect.challenge", "payload": {"nonce": "n", "ts": 1}}
        )
    )
    req = json.loads(await ws.get_message())
    await ws.send_message(
        json.dumps({"type": "res", "id": req["id"], "ok": True, "payload": hello(tick_ms)})
    )


def silent_after_hello(tick_ms: int = 1000) -> Script:
    async def script(ws: WebSocketConnection) -> None:
        await handshake(ws, tick_ms)
        await ws.get_message()  # wait for the client to close

    return script


async def test_tick_watchdog_closes_4000_then_reconnects(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    gw = FakeGateway(nursery, [silent_after_hello(1000), silent_after_hello(1000)])
    t0 = trio.current_time()
    async with GatewayClient(
        "ws://gw.test", token="t", reconnect=True, connector=gw.connect
    ) as client:
        with trio.fail_after(60):
            while client.connects < 2:  # noqa: ASYNC110 - exact under autojump
                await trio.sleep(0.01)
        assert gw.closes[0] == (4000, "tick timeout")
        # Silence of 2 × tickIntervalMs, then the 1 s backoff before reconnecting.
        assert gw.attempts[1] - t0 == pytest.approx(2.0 + 1.0, abs=0.05)
        assert client.backoffs == [1.0]


async def test_backoff_doubles_to_thirty_seconds(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    scripts: list[Script | None] = [silent_after_hello(600_000)] + [None] * 7
    scripts.append(silent_after_hello(600_000))

    async def close_soon(ws: WebSocketConnection) -> None:
        await handshake(ws, 600_000)
        await ws.aclose(1012, "service restart")

    scripts[0] = close_soon
    gw = FakeGateway(nursery, scripts)
    async with GatewayClient(
        "ws://gw.test", token="t", reconnect=True, connector=gw.connect
    ) as client:
        with trio.fail_after(600):
            while client.connects < 2:  # noqa: ASYNC110 - exact under autojump
                await trio.sleep(0.5)
    assert client.backoffs == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    gaps = [b - a for a, b in zip(gw.attempts, gw.attempts[1:], strict=False)]
    assert gaps == pytest.approx([1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0], abs=0.01)


async def test_seq_gaps_are_reported(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def script(ws: WebSocketConnection) -> None:
        await handshake(ws)
        for seq in (1, 2, 5):
            await ws.send_message(
                json.dumps({"type": "event", "event": "tick", "payload": {"ts": seq}, "seq": seq})
            )
        await ws.get_message()

    gw = FakeGateway(nursery, [script])
    async with GatewayClient("ws://gw.test", token="t", connector=gw.connect) as client:
        seen = []
        async for event in client.events():
            seen.append((event.seq, event.gap))
            if len(seen) == 3:
                break
    assert seen == [(1, None), (2, None), (5, (3, 5))]


async def test_refused_credentials_are_not_retried(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def refuse(ws: WebSocketConnection) -> None:
        await ws.send_message(
            json.dumps(
                {"type": "event", "event": "connect.challenge", "payload": {"nonce": "n", "ts": 1}}
            )
        )
        req = json.loads(await ws.get_message())
        await ws.send_message(
            json.dumps(
                {
                    "type": "res",
                    "id": req["id"],
                    "ok": False,
                    "error": {
                        "code": "INVALID_REQUEST",
                        "message": "unauthorized: gateway token mismatch",
                    },
                }
            )
        )
        await ws.aclose(1008, "unauthorized")

    gw = FakeGateway(nursery, [refuse])
    with pytest.raises(GatewayRequestError) as info:
        async with GatewayClient("ws://gw.test", token="bad", reconnect=True, connector=gw.connect):
            pass
    assert info.value.code == "INVALID_REQUEST"
    assert len(gw.attempts) == 1


async def test_call_timeout_and_pending_fail_on_close(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def ignore_requests(ws: WebSocketConnection) -> None:
        await handshake(ws, 600_000)
        await ws.get_message()  # the request: never answered
        await trio.sleep(100)

    gw = FakeGateway(nursery, [ignore_requests])
    async with GatewayClient("ws://gw.test", token="t", connector=gw.connect) as client:
        t0 = trio.current_time()
        with pytest.raises(GatewayTransportError) as info:
            await client.call("health", timeout=2.5)
        assert info.value.kind == "timeout"
        assert trio.current_time() - t0 == pytest.approx(2.5)
