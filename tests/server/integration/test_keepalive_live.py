"""The shared keepalive timer over a real socket: a client that never answers a ping is
dropped at the next round without a close frame (the official server terminates it). Written
with wsproto by hand, because every WebSocket library answers pings by itself."""

from __future__ import annotations

import json

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    Request,
    TextMessage,
)

from tests.helpers import connect_params
from tests.server.integration.support import StartGateway

INTERVAL = 25.0


class MuteClient:
    """A WebSocket client that reads but never sends a pong."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []

    async def next(self) -> Event | None:
        """The next WebSocket event, or None at EOF."""
        while not self.pending:
            data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.ws.receive_data(data)
            self.pending.extend(self.ws.events())
        return self.pending.pop(0)

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))


async def test_a_client_that_never_pongs_is_dropped_without_a_close_frame(
    start: StartGateway, autojump_clock: trio.testing.MockClock
) -> None:
    gw = await start(keepalive_interval=INTERVAL)
    async with await trio.open_tcp_stream("127.0.0.1", gw.port) as stream:
        client = MuteClient(stream)
        await client.send(Request(host="127.0.0.1", target="/"))
        assert isinstance(await client.next(), AcceptConnection)
        challenge = await client.next()
        assert isinstance(challenge, TextMessage)
        assert json.loads(challenge.data)["event"] == "connect.challenge"
        connect = {"type": "req", "id": "1", "method": "connect", "params": connect_params()}
        await client.send(TextMessage(json.dumps(connect)))
        hello = await client.next()
        assert isinstance(hello, TextMessage) and json.loads(hello.data)["ok"] is True
        admitted = trio.current_time()

        pings: list[float] = []
        with trio.fail_after(3 * INTERVAL):
            while (event := await client.next()) is not None:
                assert not isinstance(event, CloseConnection), "dropped, not closed"
                if isinstance(event, Ping):
                    pings.append(trio.current_time() - admitted)
            dropped = trio.current_time() - admitted
        # One ping in the first round; no pong by the second round: terminated then.
        assert len(pings) == 1 and pings[0] <= INTERVAL
        assert INTERVAL < dropped <= 2 * INTERVAL
