"""The SDK's WebSocket: trio-websocket's client connection, less one crash.

trio-websocket 0.12.2 answers every ping, even one that arrives after our own close frame went
out (python-trio/trio-websocket#184, fix proposed in #198 and not released). wsproto refuses
to send a pong in LOCAL_CLOSING, so the reader task raises LocalProtocolError into the nursery
the session runs in: a client closing at the moment the gateway's keepalive pings it (every
25 s) crashed instead of closing. RFC 6455 lets an endpoint that sent a Close leave pings
unanswered, which is what `ClientWebSocket` does.

`wrap_client_stream` is trio-websocket's own (same arguments, same two private hooks it
uses), building this class instead; trio-websocket is pinned to 0.12.x in pyproject.toml.
"""

from __future__ import annotations

import trio
import wsproto
from trio_websocket import WebSocketConnection
from wsproto.connection import ConnectionState


class ClientWebSocket(WebSocketConnection):
    async def _handle_ping_event(self, event: wsproto.events.Ping) -> None:
        if self._wsproto.state is not ConnectionState.OPEN:
            return  # our close frame is out (or the peer's came): no pong is owed
        await super()._handle_ping_event(event)


async def wrap_client_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    host: str,
    resource: str,
    *,
    max_message_size: int,
) -> WebSocketConnection:
    """Open the WebSocket over `stream` (trio-websocket's wrap_client_stream)."""
    connection = ClientWebSocket(
        stream,
        wsproto.WSConnection(wsproto.ConnectionType.CLIENT),
        host=host,
        path=resource,
        max_message_size=max_message_size,
    )
    nursery.start_soon(connection._reader_task)
    await connection._open_handshake.wait()
    return connection
