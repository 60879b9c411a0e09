"""A ping that crosses our close frame (trio-websocket#184): the server pings in the moment
the client closes. The SDK's WebSocket leaves it unanswered (RFC 6455 allows it after a Close)
and closes cleanly; trio-websocket 0.12.2's own connection raised LocalProtocolError from its
reader task. Real sockets on 127.0.0.1; the server is wsproto by hand so the order is exact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request

from openclaw_gateway.client.websocket import wrap_client_stream

Wrap = Callable[..., Awaitable[Any]]
LATE_PING = bytes((0x89, 4)) + b"late"  # an unmasked server ping frame with a 4-byte payload


async def _server_that_pings_into_the_close(stream: trio.SocketStream, seen: list[str]) -> None:
    ws = WSConnection(ConnectionType.SERVER)
    async with stream:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, Request):
                    await stream.send_all(ws.send(AcceptConnection()))
                elif isinstance(event, CloseConnection):
                    seen.append("close")
                    # The ping goes out after the client's close frame came in, before our
                    # close answer: on the client it lands in LOCAL_CLOSING. (By hand: wsproto
                    # will not send a ping once it has seen a close.)
                    await stream.send_all(LATE_PING + ws.send(event.response()))
                    return
                else:
                    seen.append(type(event).__name__)


async def _close_against_the_pinging_server(wrap: Wrap) -> list[str]:
    seen: list[str] = []
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    try:
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:

                async def serve_one() -> None:
                    stream = await listeners[0].accept()
                    await _server_that_pings_into_the_close(stream, seen)

                nursery.start_soon(serve_one)
                async with (
                    await trio.open_tcp_stream("127.0.0.1", port) as stream,
                    trio.open_nursery() as client_nursery,
                ):
                    ws = await wrap(
                        client_nursery, stream, "127.0.0.1", "/", max_message_size=1 << 20
                    )
                    await ws.aclose()
    finally:
        for listener in listeners:
            await listener.aclose()
    return seen


async def test_a_ping_crossing_our_close_is_left_unanswered() -> None:
    seen = await _close_against_the_pinging_server(wrap_client_stream)
    assert seen == ["close"]  # no pong came after the close


async def test_trio_websocket_itself_still_has_the_race() -> None:
    """Guards the reason for openclaw_gateway/client/websocket.py: when a trio-websocket
    release fixes #184 this fails, and the subclass can go."""
    with pytest.RaisesGroup(
        pytest.RaisesExc(Exception, match="cannot be sent in state"), flatten_subgroups=True
    ):
        await _close_against_the_pinging_server(trio_websocket.wrap_client_stream)
