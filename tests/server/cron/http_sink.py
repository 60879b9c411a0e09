"""A real HTTP server on 127.0.0.1 inside the test's trio loop (h11 over trio sockets), so
webhook tests run under the autojump clock: records each request, answers scripted statuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import h11
import trio


@attrs.define
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@attrs.define
class Sink:
    port: int
    statuses: list[int]  # answered in order; the last one repeats
    requests: list[Request] = attrs.field(factory=list)
    arrived: trio.Event = attrs.field(factory=trio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def serve_one(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        head: h11.Request | None = None
        body = b""
        async with stream:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                elif isinstance(event, h11.Request):
                    head = event
                elif isinstance(event, h11.Data):
                    body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert head is not None
            self.requests.append(
                Request(
                    head.method.decode(),
                    head.target.decode(),
                    {k.decode().lower(): v.decode() for k, v in head.headers},
                    json.loads(body) if body else None,
                )
            )
            status = self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]
            reply = b"" if status == 204 else b"refused" if status >= 300 else b"ok"
            headers = [("content-length", str(len(reply))), ("connection", "close")]
            out = conn.send(h11.Response(status_code=status, headers=headers))
            out += conn.send(h11.Data(data=reply)) + conn.send(h11.EndOfMessage())
            await stream.send_all(out)
            self.arrived.set()


@asynccontextmanager
async def http_sink(*statuses: int) -> AsyncIterator[Sink]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    sink = Sink(listeners[0].socket.getsockname()[1], list(statuses) or [200])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, sink.serve_one, listeners)
        yield sink
        nursery.cancel_scope.cancel()
