"""Fan-out of events to connected sockets (protocol.md §7).

Each connection has a bounded outbox (server/wssocket.py: frames go out inline while the
socket has room, and queue only when it does not). Sending never blocks the sender: a frame
that does not fit (more than OUTBOX_FRAMES frames, or more than maxBufferedBytes queued)
either is dropped — for `dropIfSlow` events, with its `seq` still consumed so the client sees
the gap — or closes that socket with 1008 `slow consumer`. `seq` is per socket and starts at 1.

A broadcast encodes each view of its payload once, as UTF-8 bytes; per recipient only `seq`
is spliced in (`b"%s%d%s"`), never a re-encode.

A socket that declared the `session-scoped-events` client cap gets the per-session stream
events (`chat`, `agent`) only for the sessions it subscribed to with
sessions.messages.subscribe, as the official server-broadcast.ts does; every other reader
gets them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import attrs
import trio

from openclaw_gateway.protocol import codec
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.events import DROP_IF_SLOW, SESSION_SCOPED_EVENTS, may_receive

OUTBOX_FRAMES = 4096
MAX_BUFFERED_BYTES = 52_428_800


@attrs.frozen
class CloseRequest:
    code: int
    reason: str


Outgoing = str | bytes | CloseRequest


class Outbox(Protocol):
    """Where a socket's frames go (a trio memory channel in unit tests). Raises trio.WouldBlock
    when full, trio.ClosedResourceError / BrokenResourceError when the socket is gone."""

    def send_nowait(self, value: Outgoing, /) -> None: ...


class FramedWriter(Protocol):
    """A socket that takes a batch of frames in one write: frame() is pure (all the Python
    work), write() is the syscall (raising as Outbox.send_nowait does)."""

    def frame(self, frames: Sequence[bytes], /) -> bytes: ...

    def frame_one(self, frame: bytes, /) -> bytes: ...

    def write(self, data: bytes, /) -> None: ...


def _no_backlog() -> int:
    return 0


@attrs.define(eq=False)
class Subscriber:
    conn_id: str
    role: str
    scopes: tuple[str, ...]
    outbox: Outbox
    # Called to tear the connection down at once (slow consumer): code, reason.
    abort: Callable[[int, str], None]
    seq: int = 0
    # Bytes queued and not yet taken by the kernel.
    backlog: Callable[[], int] = _no_backlog
    closing: bool = False
    # Set when this socket was found too slow: its close waits SLOW_CONSUMER_GRACE for the
    # queued frames, then the stream is dropped.
    stalled: bool = False
    # One round of the shared keepalive timer (server/dispatch.run_keepalive); None: no pings.
    keepalive: Callable[[], None] | None = None
    # The paired device behind this socket (signed connect), for credential invalidation.
    device_id: str | None = None
    # Set when this socket's own request invalidated it: close right after that reply.
    close_after_reply: CloseRequest | None = None
    # The client declared the `session-scoped-events` cap (see the module docstring).
    session_scoped: bool = False
    # Authenticated with the gateway's shared token/password (closed when it rotates).
    shared_auth: bool = False
    # A browser socket: would its Origin still pass this policy? (closed when it no longer
    # does after a reload). None for sockets without an Origin header.
    origin_allowed: Callable[[Any], bool] | None = None
    # Frames a batch for one write, then writes it (see Hub.corked); None: frame by frame.
    writer: FramedWriter | None = None
    # (role, scopes): what a broadcast decides once per distinct grant, made once here (a
    # tuple per recipient per broadcast otherwise).
    grant: tuple[str, tuple[str, ...]] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.grant = (self.role, self.scopes)


class Hub:
    def __init__(self, max_buffered_bytes: int = MAX_BUFFERED_BYTES) -> None:
        self.max_buffered_bytes = max_buffered_bytes
        self._subs: dict[str, Subscriber] = {}
        # Sockets still in the handshake (not subscribers yet): cancelled at shutdown.
        self.handshaking: set[trio.CancelScope] = set()
        # Conn ids subscribed to one session's messages; wired by the supervisor once the
        # conversations service runs.
        self.session_members: Callable[[str], Collection[str]] = lambda session_key: ()
        # Plain counters for the metrics (read at scrape time): frames queued per event name,
        # droppable frames not queued to a slow socket.
        self.events_fanned_out: dict[str, int] = {}
        self.events_dropped = 0
        # While corked: the frames held per socket, with each one's drop-if-slow flag.
        self._corked: dict[Subscriber, list[tuple[bytes, bool]]] | None = None

    def connections_by_role(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for sub in self._subs.values():
            out[sub.role] = out.get(sub.role, 0) + 1
        return out

    def outbox_bytes(self) -> int:
        """Bytes queued behind all sockets (what the kernel has not taken yet)."""
        return sum(sub.backlog() for sub in self._subs.values())

    def __len__(self) -> int:
        return len(self._subs)

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(list(self._subs.values()))

    def add(self, sub: Subscriber) -> None:
        self._subs[sub.conn_id] = sub

    def remove(self, conn_id: str) -> None:
        self._subs.pop(conn_id, None)

    @contextmanager
    def corked(self) -> Iterator[None]:
        """Frames sent in this block (which must not wait) go out at its end, one write per
        socket: a chat delta and its agent event cost one syscall per subscriber, not two.
        A nested block joins the outer one."""
        if self._corked is not None:
            yield
            return
        held: dict[Subscriber, list[tuple[bytes, bool]]] = {}
        self._corked = held
        try:
            yield
        finally:
            self._corked = None
            self._flush(held)

    def _flush(self, held: dict[Subscriber, list[tuple[bytes, bool]]]) -> None:
        """Frame every socket's batch first, then write them back to back: measured here, a
        loopback write right after other Python work costs ~34 µs (cold caches), in a run of
        writes ~7 µs. A socket that cannot take its batch gets the frame-by-frame rules."""
        ready: list[tuple[FramedWriter, Subscriber, list[tuple[bytes, bool]], bytes]] = []
        for sub, frames in held.items():
            writer = sub.writer
            if writer is not None and not sub.closing:
                data = writer.frame(
                    [frames[0][0]] if len(frames) == 1 else [frame for frame, _drop in frames]
                )
                if sub.backlog() + len(data) <= self.max_buffered_bytes:
                    ready.append((writer, sub, frames, data))
                    continue
            self._send_frames(sub, frames)
        for writer, sub, frames, data in ready:
            try:
                writer.write(data)
            except trio.WouldBlock:
                self._send_frames(sub, frames)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    def _send_frames(self, sub: Subscriber, frames: list[tuple[bytes, bool]]) -> None:
        for frame, drop in frames:
            self._send_now(sub, frame, drop)

    def send(self, sub: Subscriber, frame: str | bytes, *, drop_if_slow: bool = False) -> bool:
        """Queue one frame for `sub`. False if it was dropped or the socket is being closed
        (when corked: held for the end of the block, True)."""
        if sub.closing:
            return False
        if self._corked is not None:
            data = frame.encode() if isinstance(frame, str) else frame
            self._corked.setdefault(sub, []).append((data, drop_if_slow))
            return True
        return self._send_now(sub, frame, drop_if_slow)

    def _send_now(self, sub: Subscriber, frame: str | bytes, drop_if_slow: bool) -> bool:
        if sub.closing:
            return False
        if sub.backlog() + len(frame) > self.max_buffered_bytes:
            return self._slow(sub, drop_if_slow)
        try:
            sub.outbox.send_nowait(frame)
        except trio.WouldBlock:
            return self._slow(sub, drop_if_slow)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    def keepalive_round(self) -> None:
        """One tick of the shared keepalive timer: every socket pings (or is dropped)."""
        for sub in list(self._subs.values()):
            if sub.keepalive is not None and not sub.closing:
                sub.keepalive()

    def _slow(self, sub: Subscriber, drop_if_slow: bool) -> bool:
        if drop_if_slow:
            self.events_dropped += 1  # read by the metrics at scrape time
        else:
            # Like the official ws.close(): the close frame follows what is already queued,
            # so a client that catches up sees every frame, then 1008. Cancelling the writer
            # mid-frame instead would corrupt the stream (the peer sees garbage, not 1008).
            sub.stalled = True
            request_close(sub, 1008, "slow consumer")
        return False

    def get(self, conn_id: str) -> Subscriber | None:
        return self._subs.get(conn_id)

    def broadcast(
        self,
        event: str,
        payload: Any,
        *,
        state_version: dict[str, int] | None = None,
        redacted: Any = None,
        targets: Collection[str] | None = None,
        drop_if_slow: bool | None = None,
    ) -> int:
        """Send `event` to every socket allowed to see it (only `targets`, conn ids, when
        given). Returns how many got it queued. `drop_if_slow` overrides the event's rule
        (events.DROP_IF_SLOW) for this one: chat deltas are droppable, finals are not.

        `redacted`, when given, is what recipients without operator.admin get instead of
        `payload` (secrets only admins may read). Each view is encoded once, not per socket;
        the writes go out together at the end (corked), or at the end of the caller's block."""
        drop = event in DROP_IF_SLOW if drop_if_slow is None else drop_if_slow
        subs, frames = self._frames_for(event, payload, state_version, redacted, targets)
        held = self._corked
        if held is None:
            delivered = self._write_each(subs, frames, drop)
        else:  # held for the end of the caller's block: counted as queued (as send())
            for sub, frame in zip(subs, frames, strict=True):
                held.setdefault(sub, []).append((frame, drop))
            delivered = len(subs)
        self.events_fanned_out[event] = self.events_fanned_out.get(event, 0) + delivered
        return delivered

    def _write_each(self, subs: list[Subscriber], frames: list[bytes], drop: bool) -> int:
        """One broadcast outside a corked block: as _flush, framing every socket's frame
        first and writing them back to back, but with no container per recipient (a tuple
        and a list each made a young collection every ~250 recipients, and their survivors
        a 2-3 ms older one every few broadcasts at 1000 listeners)."""
        framed: list[bytes | None] = []
        limit = self.max_buffered_bytes
        queued = 0
        for sub, frame in zip(subs, frames, strict=True):
            writer = sub.writer
            if writer is not None:
                data = writer.frame_one(frame)
                if sub.backlog() + len(data) <= limit:
                    framed.append(data)
                    continue
            framed.append(None)
            queued += self._send_now(sub, frame, drop)
        for sub, frame, ready in zip(subs, frames, framed, strict=True):
            writer = sub.writer
            if ready is None or writer is None:  # (framed only when it has a writer)
                continue
            try:
                writer.write(ready)
                queued += 1
            except trio.WouldBlock:
                queued += self._send_now(sub, frame, drop)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        return queued

    def _frames_for(
        self,
        event: str,
        payload: Any,
        state_version: dict[str, int] | None,
        redacted: Any,
        targets: Collection[str] | None,
    ) -> tuple[list[Subscriber], list[bytes]]:
        """Who gets `event` and each one's frame (its `seq` taken), in the same order."""
        prefix = '{"type":"event","event":' + json.dumps(event) + ',"payload":'
        heads: dict[bool, bytes] = {}
        tail = b"}"
        if state_version is not None:
            tail = b',"stateVersion":' + codec.encode(state_version).encode() + b"}"
        per_session = event in SESSION_SCOPED_EVENTS
        members: Collection[str] | None = None
        subs: list[Subscriber] = []
        frames: list[bytes] = []
        if targets is None:
            recipients = list(self._subs.values())
        else:
            recipients = [s for s in (self._subs.get(c) for c in targets) if s is not None]
        # Most sockets share a role and scopes: decide each pair once per broadcast.
        allowed: dict[tuple[str, tuple[str, ...]], bool] = {}
        for sub in recipients:
            if sub.closing:
                continue
            ok = allowed.get(sub.grant)
            if ok is None:
                ok = allowed[sub.grant] = may_receive(event, sub.role, sub.scopes)
            if not ok:
                continue
            if per_session and sub.session_scoped:
                if members is None:
                    members = self.session_members(_session_key(payload))
                if sub.conn_id not in members:
                    continue
            full = redacted is None or S.ADMIN in sub.scopes
            head = heads.get(full)
            if head is None:
                view = codec.encode(payload if full else redacted)
                head = heads[full] = (prefix + view + ',"seq":').encode()
            sub.seq += 1
            subs.append(sub)
            frames.append(b"%s%d%s" % (head, sub.seq, tail))
        return subs, frames

    def device_ids(self) -> set[str]:
        return {s.device_id for s in self._subs.values() if s.device_id and not s.closing}

    def close_device(
        self, device_id: str, role: str | None, reason: str, caller_conn_id: str | None = None
    ) -> int:
        """Close every live socket of `device_id` (optionally only `role`) with 4001
        `client invalidated: <reason>` (official closeInvalidatedClient). The caller's own
        socket closes after the reply to the request that did it. Returns how many."""
        count = 0
        for sub in list(self._subs.values()):
            if sub.device_id != device_id or (role is not None and sub.role != role):
                continue
            count += 1
            close = CloseRequest(4001, f"client invalidated: {reason}")
            if sub.conn_id == caller_conn_id:
                sub.close_after_reply = close
            else:
                request_close(sub, close.code, close.reason)
        return count

    def close_where(self, stale: Callable[[Subscriber], bool], code: int, reason: str) -> int:
        """Close every live socket `stale` picks, after its queued frames (config reloads:
        4001 `gateway auth changed` for the old shared secret, 4001 `gateway policy changed`
        for a new proxy trust, 1008 `origin not allowed` for a narrowed Origin allowlist, as
        the official). Returns how many."""
        picked = [s for s in self._subs.values() if not s.closing and stale(s)]
        for sub in picked:
            request_close(sub, code, reason)
        return len(picked)

    def close_all(self, code: int, reason: str) -> None:
        """Ask every socket to close after what is already queued (graceful), and end
        handshakes in progress."""
        for sub in list(self._subs.values()):
            request_close(sub, code, reason)
        for scope in list(self.handshaking):
            scope.cancel()


def _session_key(payload: Any) -> str:
    key = payload.get("sessionKey") if isinstance(payload, dict) else None
    return key.strip() if isinstance(key, str) else ""


def request_close(sub: Subscriber, code: int, reason: str) -> None:
    if sub.closing:
        return
    sub.closing = True
    try:
        sub.outbox.send_nowait(CloseRequest(code, reason))
    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        sub.abort(code, reason)
