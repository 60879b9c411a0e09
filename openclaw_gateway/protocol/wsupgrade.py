"""The server's side of the WebSocket opening handshake (RFC 6455 §4.2), on a request head
already parsed (server/http/reader.py): the checks wsproto's server handshake makes, and the
101 answer. Pure.

The edge parses every request head with h11 once; handing the head to wsproto's handshake
parsed it a second time (its own h11 connection, events and response writer): ~10% of a
handshake's CPU, for a check of five headers and one SHA-1.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
VERSION = "13"


class UpgradeRefused(Exception):
    """Not an opening handshake we accept: answer `status` (with `headers`) and close."""

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


def accept_token(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    digest = hashlib.sha1(
        key.strip().encode("latin-1") + _GUID
    ).digest()  # RFC 6455 fixes SHA-1 here
    return base64.b64encode(digest).decode("ascii")


def switching_protocols(method: str, headers: Mapping[str, str]) -> bytes:
    """The 101 response to a valid opening handshake; UpgradeRefused otherwise. `headers` has
    lower-cased names (repeated headers joined with ", "). No subprotocol or extension is
    ever accepted, as before (wsproto's defaults)."""
    if method != "GET":
        raise UpgradeRefused(400, "Request method must be GET")
    tokens = [t.strip().lower() for t in headers.get("connection", "").split(",")]
    if "upgrade" not in tokens:
        raise UpgradeRefused(400, "Missing header, 'Connection: Upgrade'")
    version = headers.get("sec-websocket-version")
    if version is None or version.strip() != VERSION:
        # An unsupported version is told which one we speak (RFC 6455 §4.4).
        status = 426 if version else 400
        raise UpgradeRefused(
            status, "Missing header, 'Sec-WebSocket-Version'", (("Sec-WebSocket-Version", VERSION),)
        )
    key = headers.get("sec-websocket-key")
    if not key:
        raise UpgradeRefused(400, "Missing header, 'Sec-WebSocket-Key'")
    if headers.get("upgrade", "").strip().lower() != "websocket":
        raise UpgradeRefused(400, "Missing header, 'Upgrade: websocket'")
    if "host" not in headers:
        raise UpgradeRefused(400, "Missing header, 'Host'")
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_token(key).encode("ascii") + b"\r\n\r\n"
    )
