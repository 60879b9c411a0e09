"""The server's WebSocket: wsproto driven directly on a trio stream (issue 17).

Why not trio-websocket here (it stays the client SDK's library): it runs a reader task per
socket, takes trio's `send_all` (a checkpoint and a writer wake-up, ~50 µs) for every frame and
re-frames every message through wsproto; at 1000 listeners a broadcast cost ~215 µs of CPU per
recipient and ~27 KB per idle socket. Here:

- The connection's own task reads (`get_message`); there is no reader task. On a plain socket
  it reads the descriptor itself and waits with `wait_readable`: an idle socket then parks two
  coroutine frames fewer than under trio's `receive_some` (and no context manager).
- What exists only while needed (an idle socket holds none of it): the outbox deque, the
  "drained" event, the writer task.
- Outgoing data frames are framed by hand (a server frame is unmasked: two to ten header bytes)
  from bytes the hub encoded once, and written inline with a non-blocking `os.write` on the
  socket's descriptor when nothing is queued. Only what the kernel does not take waits in
  `_pending`, drained by a writer task started on demand in the connection's nursery (and gone
  once the queue is empty). A TLS stream has no descriptor to write to: every frame goes through
  the writer task there.
- The message-size cap is ours: an oversize message closes 1009 with an empty reason (as the
  official) as soon as its size is known to exceed the cap, never buffered whole.

- The client's masked frames are read by protocol/wsframe.py (~5 µs a message where wsproto's
  frame engine took ~38, and one empty bytes object per idle socket where it held ~1.5 KB);
  control frames go out framed by hand too. The upgrade's checks and its 101 answer are
  protocol/wsupgrade.py's, on the head the edge parsed once: wsproto is not used here at all.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Sequence

import trio

from openclaw_gateway.protocol.wsframe import (
    BINARY,
    CLOSE,
    NO_STATUS,
    PING,
    PONG,
    ClientFrames,
    FrameError,
    close_payload,
)

RECEIVE_CHUNK = 65_536
# Frames queued behind a socket that does not read (the hub's slow-consumer rule, by count).
OUTBOX_FRAMES = 4096


class WebSocketClosed(Exception):
    """The socket is closed (by the peer, by us, or the stream broke)."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class Backlogged(Exception):
    """More than OUTBOX_FRAMES frames wait for this socket (the hub treats it as slow)."""


_HEADER = struct.Struct("!BBH")
_PING = bytes((0x80 | PING, 0))  # empty, as the official server's
_SHORT_TEXT = [bytes((0x81, size)) for size in range(126)]  # the headers of short text frames


def frame_header(size: int, opcode: int = 0x1) -> bytes:
    """A final, unmasked server frame header for a `size`-byte payload."""
    if size < 126:
        if opcode == 0x1:
            return _SHORT_TEXT[size]
        return bytes((0x80 | opcode, size))
    if size < 65_536:
        return _HEADER.pack(0x80 | opcode, 126, size)
    return struct.pack("!BBQ", 0x80 | opcode, 127, size)


def close_frame(code: int | None, reason: str = "") -> bytes:
    """Our close frame: no payload for no code (the answer to a close that had none)."""
    if code is None or code == NO_STATUS:
        return frame_header(0, CLOSE)
    payload = code.to_bytes(2, "big") + reason.encode()
    return frame_header(len(payload), CLOSE) + payload


def frame_text(payload: bytes) -> bytes:
    """One text frame of UTF-8 `payload`, ready for write_framed."""
    return frame_header(len(payload)) + payload


def frame_texts(payloads: Sequence[bytes]) -> bytes:
    """Text frames of UTF-8 `payloads`, back to back, ready for write_framed."""
    if len(payloads) == 1:
        return frame_text(payloads[0])
    if len(payloads) == 2:  # a chat delta and its agent event: the common batch
        first, second = payloads
        return b"".join((frame_header(len(first)), first, frame_header(len(second)), second))
    return b"".join([part for p in payloads for part in (frame_header(len(p)), p)])


class ServerWebSocket:
    """One accepted WebSocket; see the module docstring."""

    def __init__(self, stream: trio.abc.Stream, max_message_size: int) -> None:
        self.stream = stream
        # Inline writes need the raw descriptor: a plain socket's, never a TLS stream's.
        self._fd = stream.socket.fileno() if isinstance(stream, trio.SocketStream) else None
        self._frames = ClientFrames(max_message_size)
        # Both made on demand and dropped once drained: an idle socket holds neither (~1 KB).
        self._pending: deque[bytes] | None = None
        self._flushed: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self.closed: WebSocketClosed | None = None  # why get_message stops
        self._close_sent = False
        self._peer_gone = False  # the peer's close frame came, or the stream ended or broke
        self.pong_waiting = False  # a ping went out and no pong came back yet
        self.pending_bytes = 0  # queued, not yet taken by the kernel (the hub's backlog)
        self._drained = False  # the last read took less than asked: nothing was left

    # -- handshake -----------------------------------------------------------------------------

    @property
    def max_message_size(self) -> int:
        return self._frames.max_message_size

    @max_message_size.setter
    def max_message_size(self, size: int) -> None:
        self._frames.max_message_size = size

    async def accept(self, switching: bytes, trailing: bytes, nursery: trio.Nursery) -> None:
        """Complete the upgrade: write the 101 answer (protocol/wsupgrade.py made it) and take
        the bytes the client sent right behind its request head as its first frames. The
        answer goes out like any frame: inline (no turn of the run loop), or through the
        writer task, waited for (TLS)."""
        self._nursery = nursery
        self._write(switching)
        await self.drained()
        if trailing:
            self._frames.feed(trailing)

    # -- sending -------------------------------------------------------------------------------

    def write_text(self, payload: bytes) -> None:
        """Queue one text frame of UTF-8 `payload` without waiting (never blocks)."""
        if self._close_sent or self.closed is not None:
            raise WebSocketClosed(*self._closed_args())
        if self._pending is not None and len(self._pending) >= OUTBOX_FRAMES:
            raise Backlogged
        self._write(frame_header(len(payload)) + payload)

    def write_framed(self, data: bytes) -> None:
        """Queue bytes framed by frame_texts (a batch of the hub's frames: one write)."""
        if self._close_sent or self.closed is not None:
            raise WebSocketClosed(*self._closed_args())
        if self._pending is not None and len(self._pending) >= OUTBOX_FRAMES:
            raise Backlogged
        self._write(data)

    async def send_message(self, message: str | bytes) -> None:
        """A frame outside the hub (the challenge, a refusal): queued, then waited for."""
        self.write_text(message.encode() if isinstance(message, str) else message)
        await self.drained()

    def ping(self) -> None:
        if self.closed is None and not self._close_sent:
            self.pong_waiting = True
            self._write(_PING)

    def _write(self, data: bytes) -> None:
        if self._pending is None and self._fd is not None:
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                written = 0
            except OSError:
                self._broken()
                raise WebSocketClosed(1006) from None
            if written == len(data):
                return
            data = data[written:]
        if self._pending is None:
            self._pending = deque()
        self._pending.append(data)
        self.pending_bytes += len(data)
        if self._flushed is None and self._nursery is not None:
            self._flushed = trio.Event()
            self._nursery.start_soon(self._flush)

    def _broken(self) -> None:
        if self._pending is not None:
            self._pending.clear()
        self.pending_bytes = 0
        self._peer_gone = True
        self.closed = self.closed or WebSocketClosed(1006)

    async def _flush(self) -> None:
        """The writer task: alive only while something is queued."""
        pending, flushed = self._pending, self._flushed
        assert pending is not None and flushed is not None
        try:
            while pending:
                data = pending[0]
                await self.stream.send_all(data)
                pending.popleft()
                self.pending_bytes -= len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            self._broken()
        finally:
            if not pending:
                self._pending = None
            self._flushed = None
            flushed.set()

    async def drained(self) -> None:
        """Wait until everything queued has been taken by the kernel (or the stream broke).
        With nothing queued it returns at once, without a checkpoint: each caller (a frame
        sent before reading the peer, the close) reads next, and that read waits. A yield
        here was one more turn of the run loop in every handshake, twice."""
        if self._flushed is not None:
            await self._flushed.wait()
        if self._peer_gone and self.closed is not None and self.closed.code == 1006:
            raise WebSocketClosed(1006)

    # -- receiving -----------------------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        """The next whole message; pings are answered and pongs noted on the way.
        Cancelled before anything is read, never after (as trio's receive_some)."""
        frames = self._frames
        while True:
            if self.closed is not None:
                raise WebSocketClosed(*self._closed_args())
            try:
                item = frames.next()
            except FrameError as exc:
                # Flagged here, closed by the caller's aclose with this code (empty reason).
                self.closed = WebSocketClosed(exc.code)
                raise WebSocketClosed(exc.code) from None
            if item is not None:
                opcode, payload = item
                if opcode <= BINARY:
                    return payload
                assert isinstance(payload, bytes)  # a control frame's
                self._on_control(opcode, payload)
                continue
            if self._fd is None:
                data = await self._receive()
            else:
                # The plain socket's read, inline rather than through _receive: an idle socket
                # waits right here, one coroutine frame fewer. After a short read the kernel's
                # buffer was empty: wait first (a request/answer client's next request is a
                # round trip away, and the read would only say EAGAIN).
                read = None
                if not self._drained:
                    await trio.lowlevel.checkpoint_if_cancelled()
                    read = self._read_now()
                    if read is not None:
                        await trio.lowlevel.cancel_shielded_checkpoint()
                while read is None:  # wait_readable is the checkpoint: none more after it
                    # Waited outside an except clause: inside one, every idle socket would
                    # keep its BlockingIOError and traceback alive for as long as it waits.
                    try:
                        await trio.lowlevel.wait_readable(self.stream.socket)  # type: ignore[attr-defined]
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        read = b""
                        break
                    read = self._read_now()
                data = read
                self._drained = len(data) < RECEIVE_CHUNK
            if not data:
                self._broken()
                raise WebSocketClosed(1006)
            frames.feed(data)

    def _read_now(self) -> bytes | None:
        """What the peer sent, without waiting (a plain socket only): None when nothing is
        there yet; b"" once the stream ended, broke or was closed."""
        try:
            # fileno() is -1 once the stream is closed: never read a reused descriptor.
            return os.read(self.stream.socket.fileno(), RECEIVE_CHUNK)  # type: ignore[attr-defined]
        except BlockingIOError:
            return None
        except OSError:
            return b""

    async def _receive(self) -> bytes:
        """The next bytes from the peer; b"" once the stream ended, broke or was closed.
        Cancelled before anything is read, never after (as trio's receive_some)."""
        if self._fd is None:
            try:
                return bytes(await self.stream.receive_some(RECEIVE_CHUNK))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        await trio.lowlevel.checkpoint_if_cancelled()
        data = self._read_now()
        if data is not None:
            await trio.lowlevel.cancel_shielded_checkpoint()
        while data is None:
            try:
                await trio.lowlevel.wait_readable(self.stream.socket)  # type: ignore[attr-defined]
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
            data = self._read_now()
        return data

    def _on_control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            if not self._close_sent:
                self._write(frame_header(len(payload), PONG) + payload)
        elif opcode == PONG:
            self.pong_waiting = False
        else:  # CLOSE: answered with its code and reason (RFC 6455 §5.5.1), then we stop
            code, reason = close_payload(payload)
            self._peer_gone = True
            self.closed = WebSocketClosed(code, reason)
            if not self._close_sent:
                self._close_sent = True
                self._write(close_frame(code, reason))
            # A fresh exception, never the one kept in self.closed: a raised one holds its
            # traceback, whose frames hold this socket, which holds it again — a cycle that
            # left every closed connection (~57 objects) to the garbage collector.
            raise WebSocketClosed(code, reason)

    def _closed_args(self) -> tuple[int | None, str]:
        return (self.closed.code, self.closed.reason) if self.closed else (None, "")

    # -- closing -------------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Send our close after what is queued, then wait for the peer's (bound the caller).
        Reading on until the peer's close keeps unread input from turning our close into a
        reset that could discard the close frame itself."""
        if not self._close_sent and not self._peer_gone:
            self._close_sent = True
            try:
                self._write(close_frame(code, reason))
            except WebSocketClosed:
                return
        try:
            await self.drained()
        except WebSocketClosed:
            return
        frames = self._frames
        while not self._peer_gone:
            data = await self._receive()
            if not data:
                self._peer_gone = True
                return
            frames.feed(data)
            try:
                while (item := frames.next()) is not None:
                    if item[0] == CLOSE:
                        self._peer_gone = True
                        break
            except FrameError:
                return
