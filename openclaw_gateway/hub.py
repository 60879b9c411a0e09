"""Fan-out of events to connected sockets (protocol.md §7).

Each connection owns a bounded outbox that its writer task drains. Sending never blocks the
sender: a frame that does not fit (more than OUTBOX_FRAMES frames, or more than
maxBufferedBytes queued) either is dropped — for `dropIfSlow` events, with its `seq` still
consumed so the client sees the gap — or closes that socket with 1008 `slow consumer`.
`seq` is per socket and starts at 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import trio

from openclaw_gateway.events import DROP_IF_SLOW, may_receive
from openclaw_gateway.protocol import codec

OUTBOX_FRAMES = 4096
MAX_BUFFERED_BYTES = 52_428_800


@attrs.frozen
class CloseRequest:
    code: int
    reason: str


Outgoing = str | CloseRequest


@attrs.define(eq=False)
class Subscriber:
    conn_id: str
    role: str
    scopes: tuple[str, ...]
    outbox: trio.MemorySendChannel[Outgoing]
    # Called to tear the connection down at once (slow consumer): code, reason.
    abort: Callable[[int, str], None]
    seq: int = 0
    queued_bytes: int = 0
    closing: bool = False

    def sent(self, frame: str) -> None:
        """The writer calls this after a frame left, to release its bytes."""
        self.queued_bytes -= len(frame)


class Hub:
    def __init__(self, max_buffered_bytes: int = MAX_BUFFERED_BYTES) -> None:
        self.max_buffered_bytes = max_buffered_bytes
        self._subs: dict[str, Subscriber] = {}
        # Sockets still in the handshake (not subscribers yet): cancelled at shutdown.
        self.handshaking: set[trio.CancelScope] = set()

    def __len__(self) -> int:
        return len(self._subs)

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(list(self._subs.values()))

    def add(self, sub: Subscriber) -> None:
        self._subs[sub.conn_id] = sub

    def remove(self, conn_id: str) -> None:
        self._subs.pop(conn_id, None)

    def send(self, sub: Subscriber, frame: str, *, drop_if_slow: bool = False) -> bool:
        """Queue one frame for `sub`. False if it was dropped or the socket is being closed."""
        if sub.closing:
            return False
        size = len(frame)
        if sub.queued_bytes + size > self.max_buffered_bytes:
            return self._slow(sub, drop_if_slow)
        try:
            sub.outbox.send_nowait(frame)
        except trio.WouldBlock:
            return self._slow(sub, drop_if_slow)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        sub.queued_bytes += size
        return True

    def _slow(self, sub: Subscriber, drop_if_slow: bool) -> bool:
        if not drop_if_slow:
            sub.closing = True
            sub.abort(1008, "slow consumer")
        return False

    def broadcast(
        self, event: str, payload: Any, *, state_version: dict[str, int] | None = None
    ) -> int:
        """Send `event` to every socket allowed to see it. Returns how many got it queued."""
        head = (
            '{"type":"event","event":' + json.dumps(event) + ',"payload":' + codec.encode(payload)
        )
        tail = "}"
        if state_version is not None:
            tail = ',"stateVersion":' + codec.encode(state_version) + "}"
        drop = event in DROP_IF_SLOW
        delivered = 0
        for sub in list(self._subs.values()):
            if sub.closing or not may_receive(event, sub.role, sub.scopes):
                continue
            sub.seq += 1
            if self.send(sub, f'{head},"seq":{sub.seq}{tail}', drop_if_slow=drop):
                delivered += 1
        return delivered

    def close_all(self, code: int, reason: str) -> None:
        """Ask every socket to close after what is already queued (graceful), and end
        handshakes in progress."""
        for sub in list(self._subs.values()):
            request_close(sub, code, reason)
        for scope in list(self.handshaking):
            scope.cancel()


def request_close(sub: Subscriber, code: int, reason: str) -> None:
    if sub.closing:
        return
    sub.closing = True
    try:
        sub.outbox.send_nowait(CloseRequest(code, reason))
    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        sub.abort(code, reason)
