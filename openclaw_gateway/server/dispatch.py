"""An admitted socket: hello-ok, then requests and events until it closes.

Task shape: one task per connection, the reader (connection.py's, which feeds each message to
`_Socket.handle`: decode -> authorize -> dispatch to the method handlers); async handlers run
in the connection's nursery. Answers and
events go out inline through the socket's outbox (server/wssocket.py; a writer task exists only
while the kernel does not take everything). Keepalive is one shared timer for all sockets
(`run_keepalive`): every 25 s each socket is pinged, and one whose previous ping got no pong is
dropped. A slow consumer's close waits SLOW_CONSUMER_GRACE for its queued frames
(connection.py). On the way out: unregister from the hub and the node registry, presence
`disconnect`.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import RequestFrame
from openclaw_gateway.protocol.handshake import ConnectRequest
from openclaw_gateway.security import origin
from openclaw_gateway.server import admission
from openclaw_gateway.server.events import SESSION_SCOPED_EVENTS_CAP
from openclaw_gateway.server.handshake import (
    MAX_PAYLOAD,
    CloseCause,
    Deps,
    build_hello,
    close_cause,
)
from openclaw_gateway.server.hub import CloseRequest, Hub, Outgoing, Subscriber, request_close
from openclaw_gateway.server.rpc.context import CallContext, Caller
from openclaw_gateway.server.rpc.methods.nodes import attach_node, detach_node
from openclaw_gateway.server.rpc.methods.system import broadcast_presence
from openclaw_gateway.server.rpc.registry import authorize
from openclaw_gateway.server.wssocket import (
    Backlogged,
    ServerWebSocket,
    WebSocketClosed,
    frame_text,
    frame_texts,
)

KEEPALIVE_INTERVAL = 25.0
PONG_TIMEOUT = 25.0
CLOSE_TIMEOUT = 2.0
MAX_PENDING_REQUESTS = 256
MAX_UNAUTHORIZED_ROLE_CALLS = 10
UNAUTHORIZED_LOG_EVERY = 100
# How long a slow consumer gets to take its queued frames and the 1008 close before its TCP
# stream is dropped (a client that never reads must not pin ~maxBufferedBytes forever).
SLOW_CONSUMER_GRACE = 5.0
EPHEMERAL_MODES = frozenset({"cli", "backend", "probe"})
# What a caller learns of a handler bug: the code and that it happened, nothing of its text.
HANDLER_FAILED: dict[str, Any] = {"code": "UNAVAILABLE", "message": "request handler failed"}


def _presence_fields(
    request: ConnectRequest, granted: admission.Admission, peer: admission.Peer, reason: str
) -> dict[str, Any]:
    c = request.params.client
    host = c.display_name or c.id
    return {
        "host": host,
        "clientId": c.id,
        # The attributed client (a trusted proxy's forwarded IP), never a loopback address.
        "ip": None if peer.direct_local or is_loopback(peer.remote_ip) else peer.remote_ip,
        "version": c.version,
        "platform": c.platform,
        "deviceFamily": c.device_family,
        "modelIdentifier": c.model_identifier,
        "timeZone": c.time_zone,
        "mode": c.mode,
        "deviceId": granted.device_id,
        "roles": [granted.role],
        "scopes": list(granted.scopes),
        "instanceId": granted.device_id if granted.role == "node" else c.instance_id,
        "reason": reason,
        "text": f"Node: {host} · mode {c.mode}",
    }


class _SocketOutbox:
    """The hub's view of one socket: frames written inline (or queued by the socket), a
    CloseRequest turned into the connection's close."""

    __slots__ = ("_on_close", "_ws")

    def __init__(self, ws: ServerWebSocket, on_close: Callable[[int, str], None]) -> None:
        self._ws = ws
        self._on_close = on_close

    def send_nowait(self, value: Outgoing, /) -> None:
        if isinstance(value, CloseRequest):
            self._on_close(value.code, value.reason)
            return
        try:
            self._ws.write_text(value.encode() if isinstance(value, str) else value)
        except Backlogged:
            raise trio.WouldBlock from None
        except WebSocketClosed:
            raise trio.ClosedResourceError from None

    def frame(self, frames: Sequence[bytes], /) -> bytes:
        """A hub batch framed for one write (hub.FramedWriter)."""
        return frame_texts(frames)

    # One frame of a broadcast: the framing function itself (one call fewer per recipient).
    frame_one = staticmethod(frame_text)

    def write(self, data: bytes, /) -> None:
        """Bytes from frame(), written inline or queued; the same errors as send_nowait."""
        try:
            self._ws.write_framed(data)
        except Backlogged:
            raise trio.WouldBlock from None
        except WebSocketClosed:
            raise trio.ClosedResourceError from None


async def run_keepalive(hub: Hub, interval: float = KEEPALIVE_INTERVAL) -> None:
    """The one keepalive timer of the process (see the module docstring)."""
    while True:
        await trio.sleep(interval)
        hub.keepalive_round()


class _Socket:
    """One admitted socket's own state and callbacks: the hub's abort/keepalive/backlog hooks
    and the request loop's helpers are its bound methods, not closures (an idle socket held
    ~27 closure cells and 7 functions, every one walked by each full garbage collection)."""

    __slots__ = (
        "close",
        "ctx",
        "deps",
        "ephemeral",
        "granted",
        "nursery",
        "peer",
        "pending",
        "presence_key",
        "request",
        "stream_abort",
        "sub",
        "unauthorized_streak",
        "ws",
    )

    def __init__(
        self,
        ws: ServerWebSocket,
        deps: Deps,
        ctx: CallContext,
        nursery: trio.Nursery,
        close: CloseCause,
        stream_abort: Callable[[], Any],
        presence_key: str,
        ephemeral: bool,
        request: ConnectRequest,
        granted: admission.Admission,
        peer: admission.Peer,
    ) -> None:
        self.ws, self.deps, self.ctx, self.nursery, self.close = ws, deps, ctx, nursery, close
        self.stream_abort = stream_abort
        self.presence_key = presence_key
        self.ephemeral = ephemeral
        self.sub: Subscriber | None = None
        # What the presence `disconnect` row is made of.
        self.request, self.granted, self.peer = request, granted, peer
        self.pending = 0  # async handlers running
        self.unauthorized_streak = 0

    # -- the hub's hooks --------------------------------------------------------------------

    def abort(self, code: int, reason: str) -> None:
        close_cause(self.close, code, reason)
        self.nursery.cancel_scope.cancel()

    def keepalive(self) -> None:
        if self.ws.pong_waiting:
            # No pong for a whole round: terminate without a close frame (official).
            self.close.dropped = True
            self.nursery.start_soon(self.stream_abort)
            self.nursery.cancel_scope.cancel()
            return
        state = self.deps.state
        if not self.ephemeral and state.presence.get(self.presence_key) is not None:
            state.presence.upsert(self.presence_key, {}, state.now_ms())
        self.ws.ping()

    def backlog(self) -> int:
        return self.ws.pending_bytes

    def send_to_node(self, frame: Any) -> bool:
        """The node registry's way to this node: False when the frame could not be queued."""
        return self.sub is not None and self.deps.hub.send(self.sub, frame)

    # -- answers ----------------------------------------------------------------------------

    def reply(
        self, frame_id: str, payload: Any = None, error: dict[str, Any] | None = None
    ) -> None:
        sub = self.sub
        if sub is None:  # the socket has left (a handler that ended as it closed)
            return
        if error is not None:
            self.deps.hub.send(sub, codec.error_response(frame_id, error))
        else:
            self.deps.hub.send(sub, codec.response(frame_id, payload))
        if sub.close_after_reply is not None:
            # This request invalidated the socket's own credential: answer, then close (4001).
            request_close(sub, sub.close_after_reply.code, sub.close_after_reply.reason)

    def succeeded(self, frame: RequestFrame, result: Any, started: float) -> None:
        self.reply(frame.id, result)
        elapsed = time.perf_counter() - started
        conn_id = self.ctx.caller.conn_id
        self.deps.state.logger.ws_response(conn_id, frame.method, frame.id, True, elapsed * 1000)
        self.deps.state.metrics.rpc(frame.method, True, elapsed)

    def fail(self, frame: RequestFrame, error: dict[str, Any], started: float) -> None:
        self.reply(frame.id, error=error)
        elapsed = time.perf_counter() - started
        self.deps.state.metrics.rpc(frame.method, False, elapsed)
        self.deps.state.logger.ws_response(
            self.ctx.caller.conn_id, frame.method, frame.id, False, elapsed * 1000, error
        )

    def handler_failed(self, frame: RequestFrame, exc: Exception, started: float) -> None:
        # The exception text (paths, reprs) is for the operator's log, never for the caller.
        self.deps.state.logger.error(
            "gateway",
            f"request handler failed method={frame.method} conn={self.ctx.caller.conn_id}: "
            f"{type(exc).__name__}: {exc}",
        )
        self.fail(frame, HANDLER_FAILED, started)

    async def run_async(
        self, frame: RequestFrame, handler: Any, params: Any, started: float
    ) -> None:
        try:
            result = await handler(attrs.evolve(self.ctx, request_id=frame.id), params)
            self.succeeded(frame, result, started)
        except RpcError as exc:
            self.fail(frame, exc.to_shape(), started)
        except Exception as exc:  # a handler bug must not kill the socket
            self.handler_failed(frame, exc, started)
        finally:
            self.pending -= 1

    # -- the request loop (connection.py feeds it, one message at a time) -------------------

    def handle(self, message: str | bytes) -> bool:
        """Decode, authorize and dispatch one request; True when the socket must close now.
        Synchronous: an async handler runs in the connection's nursery, so the reader is free
        for the next message at once."""
        deps, ctx, sub = self.deps, self.ctx, self.sub
        assert sub is not None
        try:
            frame = codec.decode_request(message)
        except codec.InvalidFrameError as exc:
            self.reply(
                exc.frame_id if exc.frame_id is not None else "invalid",
                error={"code": "INVALID_REQUEST", "message": str(exc)},
            )
            return False
        except codec.NotJsonError:
            deps.state.logger.warn(
                "ws", f"parse error conn={ctx.caller.conn_id}: message is not JSON"
            )
            return False
        started = time.perf_counter()
        spec = deps.registry.get(frame.method)
        denied = authorize(spec, frame.method, ctx.caller.role, ctx.caller.scopes)
        if denied is not None:
            if not denied.message.startswith("unauthorized role:"):
                self.fail(frame, denied.to_shape(), started)
                return False
            self.unauthorized_streak += 1
            streak = self.unauthorized_streak
            closing = streak > MAX_UNAUTHORIZED_ROLE_CALLS
            # A looping client must not flood the log: the first, every 100th and the last
            # one are logged (official unauthorized-flood-guard.ts); every call is answered.
            if streak == 1 or streak % UNAUTHORIZED_LOG_EVERY == 0 or closing:
                self.fail(frame, denied.to_shape(), started)
            else:
                self.reply(frame.id, error=denied.to_shape())
            if closing:
                request_close(sub, 1008, "repeated unauthorized calls")
            return closing
        self.unauthorized_streak = 0
        assert spec is not None
        if spec.control_plane_write:
            limited = _control_plane_limited(deps, ctx, frame.method)
            if limited is not None:
                self.fail(frame, limited, started)
                return False
        params = frame.params if frame.params is not None else {}
        if spec.is_async:
            if self.pending >= MAX_PENDING_REQUESTS:
                busy = {
                    "code": "UNAVAILABLE",
                    "message": "The server is busy. Please try again in a moment.",
                    "retryable": True,
                }
                self.fail(frame, busy, started)
                return False
            self.pending += 1
            self.nursery.start_soon(self.run_async, frame, spec.handler, params, started)
            return False
        try:
            result = spec.handler(ctx, params)
        except RpcError as exc:
            self.fail(frame, exc.to_shape(), started)
            return False
        except Exception as exc:  # a handler bug must not kill the socket
            self.handler_failed(frame, exc, started)
            return False
        self.succeeded(frame, result, started)
        return False

    def leave(self) -> None:
        """Out of the hub and the node registry, presence `disconnect`; handlers cancelled."""
        sub, state = self.sub, self.deps.state
        assert sub is not None
        if sub.stalled:
            self.close.stalled = True
        conn_id = self.ctx.caller.conn_id
        self.deps.hub.remove(conn_id)
        if self.granted.role == "node":
            detach_node(state, conn_id)
        if not self.ephemeral and not state.shutting_down:
            state.presence.upsert(
                self.presence_key,
                _presence_fields(self.request, self.granted, self.peer, "disconnect"),
                state.now_ms(),
            )
            broadcast_presence(state)
        self.nursery.cancel_scope.cancel()
        # The subscriber's hooks are this object's bound methods: without this, the pair is a
        # cycle, and every closed connection (~55 objects: the socket, its frames, trio's
        # task and scopes) waited for the garbage collector instead of being freed here.
        self.sub = None


def admit(
    ws: ServerWebSocket,
    peer: admission.Peer,
    deps: Deps,
    conn_id: str,
    request: ConnectRequest,
    granted: admission.Admission,
    close: CloseCause,
    abort_stream: Callable[[], Any],
    nursery: trio.Nursery,
) -> _Socket:
    """Register an admitted socket: hello-ok, the hub, presence `connect`, the node registry.
    The caller (connection.py) then feeds it messages (`_Socket.handle`) in its own task and
    calls `_Socket.leave` on the way out; an idle socket parks no coroutine of ours here."""
    state, hub = deps.state, deps.hub
    client = request.params.client
    # The official server raises the frame cap after hello-ok.
    ws.max_message_size = MAX_PAYLOAD
    caller = Caller(
        conn_id,
        granted.role,
        granted.scopes,
        client.id,
        client.mode,
        peer.remote_ip,
        device_id=granted.device_id,
        auth_method=granted.method,
    )
    ctx = CallContext(state, caller)
    ephemeral = client.mode in EPHEMERAL_MODES
    if granted.role == "node":
        presence_key = granted.device_id or client.instance_id or conn_id
    else:
        presence_key = conn_id
    sock = _Socket(
        ws, deps, ctx, nursery, close, abort_stream, presence_key, ephemeral,
        request, granted, peer,
    )  # fmt: skip
    outbox = _SocketOutbox(ws, sock.abort)
    sub = Subscriber(
        conn_id,
        granted.role,
        granted.scopes,
        outbox,
        sock.abort,
        device_id=granted.device_id,
    )
    sock.sub = sub
    sub.writer = outbox
    sub.backlog = sock.backlog
    sub.keepalive = sock.keepalive
    sub.session_scoped = SESSION_SCOPED_EVENTS_CAP in request.params.caps
    sub.shared_auth = granted.method in ("token", "password")
    if peer.origin:
        sub.origin_allowed = functools.partial(_origin_allowed, client.id, client.mode, peer)
    hub.send(sub, codec.response(request.frame.id, build_hello(deps, conn_id, granted)))
    hub.add(sub)
    if state.shutting_down:
        # Shutdown began while this socket was being admitted: close it like the rest.
        request_close(sub, 1012, "service restart")
    state.logger.ws_connect(conn_id, client.id, client.version, client.mode, granted.method)
    try:
        if not ephemeral:
            state.presence.upsert(
                presence_key,
                _presence_fields(request, granted, peer, "connect"),
                state.now_ms(),
            )
            broadcast_presence(state)
        if granted.role == "node" and granted.device_id:
            attach_node(
                state,
                granted.device_id,
                conn_id,
                sock.send_to_node,
                client,
                request.params.raw,
                None if is_loopback(peer.remote_ip) else peer.remote_ip,
            )
    except BaseException:
        sock.leave()
        raise
    return sock


def _origin_allowed(client_id: str, mode: str, peer: admission.Peer, policy: Any) -> bool:
    assert peer.origin is not None  # only set for a socket that sent one
    return origin.evaluate(
        client_id, mode, peer.origin, peer.host, policy, is_local_client=peer.direct_local
    ).ok


def _control_plane_limited(deps: Deps, ctx: CallContext, method: str) -> dict[str, Any] | None:
    """protocol.md §1.6 item 5: 30 writes per 60 s per (method, device id, client IP)."""
    limiter, caller = deps.write_limiter, ctx.caller
    budget = limiter.consume(
        method, caller.device_id, caller.remote_ip, caller.conn_id, deps.state.now_ms()
    )
    if budget.allowed:
        return None
    deps.state.logger.warn(
        "gateway",
        f"control-plane write rate-limited method={method} conn={caller.conn_id} "
        f"retryAfterMs={budget.retry_after_ms} key={budget.key}",
    )
    return {
        "code": "UNAVAILABLE",
        "message": f"rate limit exceeded for {method}; "
        f"retry after {math.ceil(budget.retry_after_ms / 1000)}s",
        "retryable": True,
        "retryAfterMs": budget.retry_after_ms,
        "details": {"method": method, "limit": limiter.limit_text()},
    }
