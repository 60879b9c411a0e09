"""Hub.corked: the broadcasts of one block leave together, one write per socket, in order and
with consecutive seqs; a socket that cannot take the batch falls back to the frame-by-frame
rules (droppable frames dropped with their seq consumed, others close it 1008)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from openclaw_gateway.server.hub import CloseRequest, Hub, Outgoing, Subscriber

READ = ("operator.read",)


@attrs.define
class Socket:
    """What the hub writes to: single frames, batches, and whether the kernel takes them."""

    frames: list[Outgoing] = attrs.Factory(list)
    batches: list[list[bytes]] = attrs.Factory(list)
    full: bool = False

    def send_nowait(self, value: Outgoing, /) -> None:
        if self.full and not isinstance(value, CloseRequest):
            raise trio.WouldBlock
        self.frames.append(value)

    def frame(self, frames: Sequence[bytes], /) -> bytes:
        return b"\0".join(frames)  # JSON text never holds a raw NUL

    def frame_one(self, frame: bytes, /) -> bytes:
        return frame

    def write(self, data: bytes, /) -> None:
        if self.full:
            raise trio.WouldBlock
        self.batches.append(data.split(b"\0"))


def subscriber(hub: Hub, conn_id: str, *, batches: bool = True) -> tuple[Subscriber, Socket]:
    sock = Socket()
    sub = Subscriber(conn_id, "operator", READ, sock, abort=lambda code, why: None)
    if batches:
        sub.writer = sock
    hub.add(sub)
    return sub, sock


def seqs(frames: Sequence[Any]) -> list[tuple[str, int]]:
    out = []
    for frame in frames:
        decoded = json.loads(frame)
        out.append((decoded["event"], decoded["seq"]))
    return out


def test_a_corked_block_is_one_write_per_socket() -> None:
    hub = Hub()
    _a, sock_a = subscriber(hub, "a")
    _b, sock_b = subscriber(hub, "b")
    hub.broadcast("tick", {"n": 0})  # not corked: written at once (a batch of one)
    with hub.corked():
        assert hub.broadcast("chat", {"n": 1}) == 2
        with hub.corked():  # nested: joins the outer block
            hub.broadcast("agent", {"n": 2})
        assert len(sock_a.batches) == 1  # held until the end
    for sock in (sock_a, sock_b):
        assert sock.frames == []
        assert [seqs(batch) for batch in sock.batches] == [
            [("tick", 1)],
            [("chat", 2), ("agent", 3)],
        ]
    assert hub.events_fanned_out == {"tick": 2, "chat": 2, "agent": 2}


def test_a_socket_without_a_batch_writer_goes_frame_by_frame() -> None:
    hub = Hub()
    _a, sock_a = subscriber(hub, "a", batches=False)
    _b, sock_b = subscriber(hub, "b")
    with hub.corked():
        hub.broadcast("chat", {"n": 1})
        hub.broadcast("agent", {"n": 2})
    assert seqs(sock_a.frames) == [("chat", 1), ("agent", 2)] and sock_a.batches == []
    assert [seqs(batch) for batch in sock_b.batches] == [[("chat", 1), ("agent", 2)]]


def test_a_full_socket_gets_the_frame_by_frame_rules() -> None:
    hub = Hub()
    slow, sock = subscriber(hub, "slow")
    sock.full = True
    with hub.corked():
        hub.broadcast("presence", {"n": 1})  # dropIfSlow: dropped, its seq consumed
        hub.broadcast("chat", {"n": 2})  # not droppable: the socket is closed as slow
    assert hub.events_dropped == 1
    assert sock.frames == [CloseRequest(1008, "slow consumer")] and slow.stalled
    assert slow.seq == 2


def test_over_the_byte_budget_falls_back_too() -> None:
    hub = Hub(max_buffered_bytes=120)  # one ~75-byte frame fits, two do not
    _sub, sock = subscriber(hub, "a")
    with hub.corked():
        hub.broadcast("presence", {"pad": "x" * 10})
        hub.broadcast("presence", {"pad": "y" * 10})
    assert sock.batches == []  # together over the budget: each frame on its own
    assert seqs(sock.frames) == [("presence", 1), ("presence", 2)]


def test_a_closing_socket_gets_nothing_held() -> None:
    hub = Hub()
    sub, sock = subscriber(hub, "a")
    with hub.corked():
        hub.broadcast("chat", {"n": 1})
        sub.closing = True
        hub.broadcast("agent", {"n": 2})
    assert sock.frames == [] and sock.batches == []


def test_a_broadcast_may_make_its_frame_droppable() -> None:
    hub = Hub()
    slow, sock = subscriber(hub, "slow")
    sock.full = True
    hub.broadcast("chat", {"state": "delta"}, drop_if_slow=True)  # a delta: dropped
    assert hub.events_dropped == 1 and not slow.closing
    hub.broadcast("chat", {"state": "final"})  # a terminal event is never dropped
    assert sock.frames == [CloseRequest(1008, "slow consumer")] and slow.seq == 2


def test_a_broadcast_outside_a_block_writes_each_socket_at_once() -> None:
    hub = Hub(max_buffered_bytes=120)
    _a, sock_a = subscriber(hub, "a")
    _b, sock_b = subscriber(hub, "b", batches=False)
    over, sock_over = subscriber(hub, "over")
    over.backlog = lambda: 100  # with this frame over the byte budget: the frame-by-frame rule
    assert hub.broadcast("presence", {"n": 1}) == 2  # queued: not the dropped one
    assert [seqs(batch) for batch in sock_a.batches] == [[("presence", 1)]]
    assert seqs(sock_b.frames) == [("presence", 1)]
    assert sock_over.frames == [] and sock_over.batches == [] and over.seq == 1
    assert hub.events_dropped == 1  # presence is droppable: dropped, its seq consumed
    assert hub.events_fanned_out == {"presence": 2}
