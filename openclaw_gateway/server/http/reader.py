"""Reading one HTTP/1.1 request from a socket: the head (bounded size and time), then, only when a
route asks for it, the body (bounded size and time). h11 does the parsing."""

from __future__ import annotations

import attrs
import h11
import trio

from openclaw_gateway.server.http.messages import HttpRequest

REQUEST_HEAD_TIMEOUT = 10.0
MAX_REQUEST_HEAD = 16_384
RECEIVE_CHUNK = 65_536


@attrs.define
class BodyError(Exception):
    """The body could not be read within the route's limits: answer `status`."""

    status: int  # 400 malformed, 408 too slow, 413 too large
    message: str

    def __str__(self) -> str:
        return self.message


class RequestReader:
    """One request on one stream: `head()` first, then `body()` at most once."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        self._body_read = False

    async def _receive(self) -> bool:
        data = await self._stream.receive_some(RECEIVE_CHUNK)
        self._conn.receive_data(bytes(data))
        return bool(data)

    async def head(self, time_limit: float = REQUEST_HEAD_TIMEOUT) -> HttpRequest | int:
        """The request head, or an HTTP status to answer with (0 = just close)."""
        with trio.move_on_after(time_limit):
            while True:
                try:
                    event = self._conn.next_event()
                except h11.RemoteProtocolError as exc:
                    return exc.error_status_hint
                if event is h11.NEED_DATA:
                    if not await self._receive():
                        return 0
                    continue
                if isinstance(event, h11.Request):
                    headers: dict[str, str] = {}
                    for name, value in event.headers:
                        key = name.decode("latin-1").lower()
                        text = value.decode("latin-1")
                        headers[key] = f"{headers[key]}, {text}" if key in headers else text
                    return HttpRequest(
                        event.method.decode("ascii"), event.target.decode("latin-1"), headers
                    )
                return 400
        return 408

    def trailing(self) -> bytes:
        """What arrived after the head and was not read as a body: after an upgrade, the
        first bytes of the new protocol."""
        return bytes(self._conn.trailing_data[0])

    async def body(self, limit: int, time_limit: float) -> bytes:
        """The whole body (Content-Length or chunked), at most `limit` bytes, within `time_limit` s."""
        if self._body_read:
            raise BodyError(400, "body already read")
        self._body_read = True
        chunks = bytearray()
        with trio.move_on_after(time_limit):
            while True:
                try:
                    event = self._conn.next_event()
                except h11.RemoteProtocolError as exc:
                    raise BodyError(exc.error_status_hint, "malformed request body") from None
                if event is h11.NEED_DATA:
                    if not await self._receive():
                        raise BodyError(400, "request body ended early")
                    continue
                if isinstance(event, h11.Data):
                    chunks += event.data
                    if len(chunks) > limit:
                        raise BodyError(413, "Payload Too Large")
                    continue
                if isinstance(event, h11.EndOfMessage):
                    return bytes(chunks)
                raise BodyError(400, "malformed request body")
        raise BodyError(408, "Request Timeout")

    async def wait_closed(self) -> None:
        """Return once the client has gone (EOF or a broken socket). Bytes sent after the
        request are discarded: one request per connection, so nothing more is expected."""
        try:
            while await self._stream.receive_some(RECEIVE_CHUNK):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
