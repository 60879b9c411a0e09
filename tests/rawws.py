"""A WebSocket client by hand, for tests that must send what libraries refuse to (bad frames,
frames announcing more than they hold, frames behind the request head) or see the server's
frames exactly as they arrive."""

from __future__ import annotations

import json
import struct
from typing import Any

import trio

ZERO_KEY = b"\0\0\0\0"  # the payload goes as it is
UPGRADE = (
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


def client_frame(
    first: int, payload: bytes, *, key: bytes = ZERO_KEY, length: int | None = None
) -> bytes:
    """One masked client frame: `first` is its first byte (FIN, RSV bits, opcode). `length`
    may announce more than `payload` holds; the rest is the caller's to stream."""
    size = len(payload) if length is None else length
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65_536:
        head = bytes((first, 0x80 | 126)) + struct.pack("!H", size)
    else:
        head = bytes((first, 0x80 | 127)) + struct.pack("!Q", size)
    if key != ZERO_KEY:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + payload


class RawWs:
    """One socket: the upgrade, the server's (unmasked) frames one by one."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def _need(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    async def upgrade(self, port: int, behind_head: bytes = b"") -> bytes:
        """Send the upgrade request (and `behind_head` in the same write); the 101 head."""
        await self.stream.send_all(UPGRADE.format(port=port).encode() + behind_head)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += await self.stream.receive_some(65536)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        return head

    async def frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the server's next frame; EOFError once it hung up."""
        first, second = await self._need(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self._need(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self._need(8))
        return first & 0x0F, await self._need(size)

    async def text(self) -> dict[str, Any]:
        """The server's next text frame, parsed (other frames skipped)."""
        while True:
            opcode, payload = await self.frame()
            if opcode == 0x1:
                value: dict[str, Any] = json.loads(payload)
                return value

    async def send_text(self, value: Any) -> None:
        await self.stream.send_all(client_frame(0x81, json.dumps(value).encode()))
