"""RFC 6455 frames as a server reads them: the client's masked frames in, whole messages out.

Sans-IO and pure: `ClientFrames.feed` takes bytes as they arrive, `next` returns the next whole
message or control frame (or None until more bytes come), and a violation raises `FrameError`
with the close code the peer is owed: 1002 (protocol), 1007 (invalid UTF-8), 1009 (too big).
The server's socket (server/wssocket.py) used wsproto's frame engine for this; its ~38 µs per
message and ~1.5 KB per idle socket (a deque block, the engine, its decoders and a parsing
generator) were paid by every socket. This reader holds one bytes object while idle (b"").

What is checked, as wsproto and the official server's `ws` do: no RSV bit (no extension is
ever negotiated), a known opcode, the mask bit (clients must mask), minimal length encoding,
control frames final and at most 125 bytes, continuation only inside a fragmented message and
no new message inside one, strict UTF-8 for text messages and close reasons, a close code a
peer may send. A message over `max_message_size` fails as soon as its size is known, never
buffered whole.
"""

from __future__ import annotations

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
TOO_BIG = 1009
NO_STATUS = 1005  # a close frame without a code (RFC 6455 §7.1.5)
_UNMASKED = b"\0\0\0\0"
# Close codes a peer may send: the registered ones below 3000 (1004-1006 and 1015 are reserved
# or local-only), and 3000-4999 (libraries and applications).
_PEER_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class FrameError(Exception):
    """The peer broke the protocol; `code` is the close code to answer with."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def unmask(payload: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """XOR `payload` with the repeating 4-byte `key` (one big-integer XOR, not a byte loop)."""
    size = len(payload)
    if key == _UNMASKED or not size:
        return bytes(payload)
    mask = (key * ((size >> 2) + 1))[:size]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(mask, "little")
    return value.to_bytes(size, "little")


def close_payload(payload: bytes) -> tuple[int, str]:
    """A received close frame's (code, reason); FrameError when a peer may not send it."""
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise FrameError(PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code not in _PEER_CODES and not 3000 <= code <= 4999:
        raise FrameError(PROTOCOL_ERROR, f"close code {code} may not be sent by a peer")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(INVALID_PAYLOAD, "close reason is not UTF-8") from None


class ClientFrames:
    """The decoding state of one socket's incoming frames (see the module docstring)."""

    __slots__ = ("_buffer", "_opcode", "_parts", "_pos", "_size", "max_message_size")

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._buffer: bytes | bytearray = b""  # received; decoded up to _pos
        # Frames are taken by moving this offset, never by copying what follows them: many
        # small frames in one read would otherwise copy the rest of the read once per frame.
        self._pos = 0
        self._opcode: int | None = None  # TEXT/BINARY while a fragmented message is open
        self._parts: list[bytes] | None = None  # its fragments so far
        self._size = 0  # their total size

    def feed(self, data: bytes) -> None:
        buffer, pos = self._buffer, self._pos
        if pos >= len(buffer):
            self._buffer = data
        elif isinstance(buffer, bytearray) and pos == 0:
            buffer += data  # a frame still arriving: amortised growth, no copy of the head
        else:
            self._buffer = bytearray(memoryview(buffer)[pos:]) + data
        self._pos = 0

    def next(self) -> tuple[int, str | bytes] | None:
        """The next (opcode, payload): TEXT with str, BINARY, PING, PONG or CLOSE with bytes.
        None until more bytes arrive. Fragments are joined: no CONTINUATION comes out."""
        while True:
            frame = self._next_frame()
            if frame is None:
                return None
            opcode, final, payload = frame
            if opcode >= CLOSE:
                if opcode == CLOSE:
                    close_payload(payload)  # validated here, decoded by the caller
                return opcode, payload
            if opcode == CONTINUATION:
                assert self._parts is not None and self._opcode is not None
                self._parts.append(payload)
                if not final:
                    continue
                opcode, payload = self._opcode, b"".join(self._parts)
                self._opcode, self._parts, self._size = None, None, 0
            elif not final:
                self._opcode, self._parts, self._size = opcode, [payload], len(payload)
                continue
            if opcode == BINARY:
                return opcode, payload
            try:
                return opcode, payload.decode("utf-8")
            except UnicodeDecodeError:
                raise FrameError(INVALID_PAYLOAD, "text message is not UTF-8") from None

    def _next_frame(self) -> tuple[int, bool, bytes] | None:
        pos = self._pos
        buffer: bytes | bytearray | memoryview = self._buffer
        available = len(buffer) - pos
        if available < 2:
            return None
        if pos:
            buffer = memoryview(buffer)[pos:]  # a view: no copy
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise FrameError(PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
        final, opcode = bool(first & 0x80), first & 0x0F
        if not second & 0x80:
            raise FrameError(PROTOCOL_ERROR, "client frame is not masked")
        size, start = second & 0x7F, 2
        if size == 126:
            if available < 4:
                return None
            size, start = int.from_bytes(buffer[2:4], "big"), 4
            if size < 126:
                raise FrameError(PROTOCOL_ERROR, "length not minimally encoded")
        elif size == 127:
            if available < 10:
                return None
            size, start = int.from_bytes(buffer[2:10], "big"), 10
            if size < 65_536 or size >> 63:
                raise FrameError(PROTOCOL_ERROR, "length not minimally encoded")
        if opcode >= CLOSE:
            if opcode > PONG:
                raise FrameError(PROTOCOL_ERROR, f"unknown control opcode {opcode:#x}")
            if not final or size > 125:
                raise FrameError(PROTOCOL_ERROR, "control frame fragmented or over 125 bytes")
        else:
            if opcode > BINARY:
                raise FrameError(PROTOCOL_ERROR, f"unknown data opcode {opcode:#x}")
            if (opcode == CONTINUATION) != (self._opcode is not None):
                raise FrameError(PROTOCOL_ERROR, "continuation out of place")
            if self._size + size > self.max_message_size:
                raise FrameError(TOO_BIG, "message too big")
        end = start + 4 + size
        if available < end:
            return None
        key = bytes(buffer[start : start + 4])
        payload = unmask(memoryview(buffer)[start + 4 : end], key)
        self._size += size if opcode == CONTINUATION else 0
        if available == end:
            self._buffer, self._pos = b"", 0
        else:
            self._pos = pos + end
        return opcode, final, payload
