"""One WebSocket connection: challenge -> connect -> hello-ok -> requests and events.

Task shape (inside the connection's own nursery):
  reader (this coroutine)   get_message -> handshake, then dispatch
  writer                    drains the bounded outbox (responses and events, in order)
  keepalive                 ping every 25 s; no pong within 25 s -> drop the TCP stream
Every exit path ends in `finally`: unregister from the hub, presence `disconnect`, close.
Nothing raised by a peer escapes this module (errors are mapped to close codes here).
"""

from __future__ import annotations

import inspect
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import PROTOCOL_VERSION, RequestFrame
from openclaw_gateway.protocol.handshake import ConnectRequest, Refusal, negotiate, read_connect
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.devices import NonceLedger
from openclaw_gateway.security.origin import OriginPolicy
from openclaw_gateway.security.ratelimit import (
    AuthLimiters,
    ControlPlaneWriteLimiter,
    is_loopback_ip,
)
from openclaw_gateway.server import admission
from openclaw_gateway.server.device_stage import make_stage
from openclaw_gateway.server.events import EVENTS, SESSION_SCOPED_EVENTS_CAP
from openclaw_gateway.server.hub import CloseRequest, Hub, Outgoing, Subscriber, request_close
from openclaw_gateway.server.rpc.context import CallContext, Caller, GatewayState
from openclaw_gateway.server.rpc.methods.nodes import attach_node, detach_node
from openclaw_gateway.server.rpc.methods.system import broadcast_presence
from openclaw_gateway.server.rpc.registry import Registry, authorize
from openclaw_gateway.server.runs.service import session_defaults

HANDSHAKE_TIMEOUT = 15.0
KEEPALIVE_INTERVAL = 25.0
PONG_TIMEOUT = 25.0
CLOSE_TIMEOUT = 2.0
PREAUTH_MAX_PAYLOAD = 65_536
MAX_PAYLOAD = 26_214_400
MAX_BUFFERED_BYTES = 52_428_800
TICK_INTERVAL_MS = 30_000
MAX_PENDING_REQUESTS = 256
MAX_UNAUTHORIZED_ROLE_CALLS = 10
UNAUTHORIZED_LOG_EVERY = 100
# How long a slow consumer gets to take its queued frames and the 1008 close before its TCP
# stream is dropped (a client that never reads must not pin ~maxBufferedBytes forever).
SLOW_CONSUMER_GRACE = 5.0
EPHEMERAL_MODES = frozenset({"cli", "backend", "probe"})


@attrs.frozen
class Deps:
    state: GatewayState
    hub: Hub
    registry: Registry
    auth_policy: Callable[[], AuthPolicy]
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    tick_interval_ms: int = TICK_INTERVAL_MS
    origin_policy: Callable[[], OriginPolicy] = OriginPolicy
    limiters: AuthLimiters = attrs.field(factory=AuthLimiters.create)
    write_limiter: ControlPlaneWriteLimiter = attrs.field(factory=ControlPlaneWriteLimiter)
    # Device-proof nonces already spent in this process (never accepted twice).
    nonces: NonceLedger = attrs.field(factory=NonceLedger)


@attrs.define
class _Close:
    code: int | None = None
    reason: str = ""


def _close_cause(close: _Close, code: int, reason: str) -> None:
    if close.code is None:
        close.code, close.reason = code, reason


def challenge_frame(nonce: str, ts: int) -> str:
    return codec.event("connect.challenge", {"nonce": nonce, "ts": ts})


def build_hello(deps: Deps, conn_id: str, granted: admission.Admission) -> dict[str, Any]:
    state = deps.state
    may_read = granted.role == "operator" and any(
        s in granted.scopes for s in ("operator.read", "operator.write", "operator.admin")
    )
    snapshot: dict[str, Any] = {
        "presence": state.presence.entries(state.now_ms()) if may_read else [],
        "health": state.health_cache,
        "stateVersion": state.state_version(),
        "uptimeMs": state.uptime_ms(),
        "suspension": {"phase": "accepting"},
        "sessionDefaults": session_defaults(state),
    }
    if "operator.admin" in granted.scopes:
        snapshot["configPath"] = str(state.config_path)
        snapshot["stateDir"] = str(state.state_dir)
        snapshot["authMode"] = state.auth_mode
    return {
        "type": "hello-ok",
        "protocol": PROTOCOL_VERSION,
        "server": {"version": state.version, "connId": conn_id},
        "features": {"methods": deps.registry.names(), "events": list(EVENTS)},
        "snapshot": snapshot,
        "auth": _hello_auth(granted),
        "policy": {
            "maxPayload": MAX_PAYLOAD,
            "maxBufferedBytes": MAX_BUFFERED_BYTES,
            "tickIntervalMs": deps.tick_interval_ms,
        },
    }


def _presence_fields(
    request: ConnectRequest, granted: admission.Admission, peer: admission.Peer, reason: str
) -> dict[str, Any]:
    c = request.params.client
    host = c.display_name or c.id
    return {
        "host": host,
        "clientId": c.id,
        # The attributed client (a trusted proxy's forwarded IP), never a loopback address.
        "ip": None if peer.direct_local or is_loopback_ip(peer.remote_ip) else peer.remote_ip,
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


async def handle_connection(
    ws: WebSocketConnection,
    peer: admission.Peer,
    deps: Deps,
    abort_stream: Callable[[], Any],
    on_authenticated: Callable[[], None] | None = None,
) -> None:
    """Serve one upgraded socket until it closes. Never raises for peer behaviour.

    `on_authenticated` runs once hello-ok is decided: the socket leaves the pre-auth budget."""
    state = deps.state
    log = state.logger
    conn_id = str(uuid.uuid4())
    opened = time.monotonic()
    close = _Close()
    log.ws_open(conn_id, peer.remote_ip, "")
    try:
        granted_pair = await _handshake(ws, peer, deps, conn_id, close)
        if granted_pair is None:
            return
        request, granted = granted_pair
        if on_authenticated is not None:
            on_authenticated()
        await _serve(ws, peer, deps, conn_id, request, granted, close, abort_stream)
    except ConnectionClosed:
        pass
    finally:
        with trio.move_on_after(CLOSE_TIMEOUT, shield=True) as scope:
            if close.code is not None:
                await ws.aclose(close.code, close.reason or None)
            else:
                await ws.aclose()
        if scope.cancelled_caught:
            await abort_stream()
        log.ws_close(conn_id, close.code, (time.monotonic() - opened) * 1000, "closed")


def _hello_auth(granted: admission.Admission) -> dict[str, Any]:
    out: dict[str, Any] = {
        "method": granted.method,
        "role": granted.role,
        "scopes": list(granted.scopes),
    }
    if granted.device_token is not None:
        # protocol.md §4.6: returned on every successful signed connect of a paired device.
        out["deviceToken"] = granted.device_token
        out["issuedAtMs"] = granted.issued_at_ms
    return out


def _device_stage(deps: Deps, nonce: str) -> admission.DeviceStage | None:
    state = deps.state
    if state.pairing is None:
        return None
    return make_stage(state.pairing, nonce, state.now_ms(), deps.nonces, state.broadcast)


async def _handshake(
    ws: WebSocketConnection, peer: admission.Peer, deps: Deps, conn_id: str, close: _Close
) -> tuple[ConnectRequest, admission.Admission] | None:
    state = deps.state
    # The nonce a device must sign: it binds a proof to this socket (protocol.md §4.3 check 4).
    nonce = str(uuid.uuid4())
    await ws.send_message(challenge_frame(nonce, state.now_ms()))
    with trio.move_on_after(deps.handshake_timeout) as scope:
        deps.hub.handshaking.add(scope)
        try:
            message = await ws.get_message()
            outcome: ConnectRequest | Refusal = read_connect(message)
            if isinstance(outcome, ConnectRequest):
                refusal = negotiate(outcome)
                if refusal is None:
                    attempt = deps.limiters.attempt(peer.remote_ip, peer.origin, state.now_ms())
                    decided = admission.admit(
                        outcome,
                        peer,
                        deps.auth_policy(),
                        _device_stage(deps, nonce),
                        origin_policy=deps.origin_policy(),
                        attempt=attempt,
                    )
                    if isinstance(decided, admission.Admission):
                        return outcome, decided
                    refusal = decided
                    if attempt.delay_ms:
                        # Loopback is never locked out; each wrong secret costs a growing wait.
                        await trio.sleep(attempt.delay_ms / 1000)
                    c = outcome.params.client
                    state.logger.warn(
                        "ws",
                        f"rejected conn={conn_id} remote={peer.remote_ip} client={c.id} {c.mode} "
                        f"v{c.version} role={outcome.params.role} "
                        f"reason={(refusal.error or {}).get('message', refusal.close_reason)}",
                    )
            else:
                refusal = outcome
            if refusal.error is not None and refusal.request_id is not None:
                await ws.send_message(codec.error_response(refusal.request_id, refusal.error))
            _close_cause(close, refusal.close_code, refusal.close_reason)
            return None
        finally:
            deps.hub.handshaking.discard(scope)
    if state.shutting_down:
        _close_cause(close, 1012, "service restart")
        return None
    # Handshake timeout: the official server closes with 1000 and no reason.
    _close_cause(close, 1000, "")
    return None


async def _serve(
    ws: WebSocketConnection,
    peer: admission.Peer,
    deps: Deps,
    conn_id: str,
    request: ConnectRequest,
    granted: admission.Admission,
    close: _Close,
    abort_stream: Callable[[], Any],
) -> None:
    state, hub = deps.state, deps.hub
    client = request.params.client
    # trio-websocket has no public setter; the official server raises the cap after hello-ok.
    ws._max_message_size = MAX_PAYLOAD
    send, receive = trio.open_memory_channel[Outgoing](4096)
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

    async with trio.open_nursery() as nursery:

        def abort(code: int, reason: str) -> None:
            _close_cause(close, code, reason)
            nursery.cancel_scope.cancel()

        sub = Subscriber(
            conn_id, granted.role, granted.scopes, send, abort, device_id=granted.device_id
        )
        sub.session_scoped = SESSION_SCOPED_EVENTS_CAP in request.params.caps
        writer_done = trio.Event()
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
                    lambda frame: hub.send(sub, frame),
                    client,
                    request.params.raw,
                    None if is_loopback_ip(peer.remote_ip) else peer.remote_ip,
                )
            nursery.start_soon(_writer, ws, receive, sub, close, nursery.cancel_scope, writer_done)
            nursery.start_soon(
                _keepalive, ws, state, presence_key, ephemeral, abort_stream, nursery.cancel_scope
            )
            nursery.start_soon(_stall_watchdog, sub, close, abort_stream, nursery.cancel_scope)
            await _reader(ws, deps, ctx, sub, nursery, close)
            # Let the writer flush what is queued (answers, a close request) before teardown.
            send.close()
            with trio.move_on_after(CLOSE_TIMEOUT):
                await writer_done.wait()
        finally:
            hub.remove(conn_id)
            if granted.role == "node":
                detach_node(state, conn_id)
            if not ephemeral and not state.shutting_down:
                state.presence.upsert(
                    presence_key,
                    _presence_fields(request, granted, peer, "disconnect"),
                    state.now_ms(),
                )
                broadcast_presence(state)
            nursery.cancel_scope.cancel()


async def _writer(
    ws: WebSocketConnection,
    receive: trio.MemoryReceiveChannel[Outgoing],
    sub: Subscriber,
    close: _Close,
    scope: trio.CancelScope,
    done: trio.Event,
) -> None:
    try:
        async with receive:
            async for item in receive:
                if isinstance(item, CloseRequest):
                    _close_cause(close, item.code, item.reason)
                    scope.cancel()
                    return
                try:
                    await ws.send_message(item)
                except ConnectionClosed:
                    scope.cancel()
                    return
                sub.sent(item)
    finally:
        done.set()


async def _stall_watchdog(
    sub: Subscriber, close: _Close, abort_stream: Callable[[], Any], scope: trio.CancelScope
) -> None:
    await sub.stalled.wait()
    await trio.sleep(SLOW_CONSUMER_GRACE)
    _close_cause(close, 1008, "slow consumer")
    await abort_stream()
    scope.cancel()


async def _keepalive(
    ws: WebSocketConnection,
    state: GatewayState,
    presence_key: str,
    ephemeral: bool,
    abort_stream: Callable[[], Any],
    scope: trio.CancelScope,
) -> None:
    while True:
        await trio.sleep(KEEPALIVE_INTERVAL)
        with trio.move_on_after(PONG_TIMEOUT) as waited:
            try:
                await ws.ping()
            except ConnectionClosed:
                return
        if waited.cancelled_caught:
            # No pong: terminate without a close frame, as the official server does.
            await abort_stream()
            scope.cancel()
            return
        if not ephemeral and state.presence.get(presence_key) is not None:
            state.presence.upsert(presence_key, {}, state.now_ms())


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


async def _reader(
    ws: WebSocketConnection,
    deps: Deps,
    ctx: CallContext,
    sub: Subscriber,
    nursery: trio.Nursery,
    close: _Close,
) -> None:
    hub, log = deps.hub, deps.state.logger
    pending = 0
    unauthorized_role_streak = 0

    def reply(frame_id: str, payload: Any = None, error: dict[str, Any] | None = None) -> None:
        if error is not None:
            hub.send(sub, codec.error_response(frame_id, error))
        else:
            hub.send(sub, codec.response(frame_id, payload))
        if sub.close_after_reply is not None:
            # This request invalidated the socket's own credential: answer, then close (4001).
            request_close(sub, sub.close_after_reply.code, sub.close_after_reply.reason)

    async def run_async(frame: RequestFrame, handler: Any, params: Any, started: float) -> None:
        nonlocal pending
        try:
            result = await handler(attrs.evolve(ctx, request_id=frame.id), params)
            reply(frame.id, result)
            log.ws_response(
                ctx.caller.conn_id,
                frame.method,
                frame.id,
                True,
                (time.perf_counter() - started) * 1000,
            )
        except RpcError as exc:
            _fail(frame, exc.to_shape(), started)
        except Exception as exc:  # a handler bug must not kill the socket
            _fail(
                frame, {"code": "UNAVAILABLE", "message": str(exc) or type(exc).__name__}, started
            )
        finally:
            pending -= 1

    def _fail(frame: RequestFrame, error: dict[str, Any], started: float) -> None:
        reply(frame.id, error=error)
        log.ws_response(
            ctx.caller.conn_id,
            frame.method,
            frame.id,
            False,
            (time.perf_counter() - started) * 1000,
            error,
        )

    while True:
        try:
            message = await ws.get_message()
        except ConnectionClosed as exc:
            reason = exc.reason
            if reason is not None and reason.code == 1009:
                _close_cause(close, 1009, "")
            return
        try:
            frame = codec.decode_request(message)
        except codec.InvalidFrameError as exc:
            reply(
                exc.frame_id if exc.frame_id is not None else "invalid",
                error={"code": "INVALID_REQUEST", "message": str(exc)},
            )
            continue
        except codec.NotJsonError:
            log.warn("ws", f"parse error conn={ctx.caller.conn_id}: message is not JSON")
            continue
        started = time.perf_counter()
        spec = deps.registry.get(frame.method)
        denied = authorize(spec, frame.method, ctx.caller.role, ctx.caller.scopes)
        if denied is not None:
            if not denied.message.startswith("unauthorized role:"):
                _fail(frame, denied.to_shape(), started)
                continue
            unauthorized_role_streak += 1
            closing = unauthorized_role_streak > MAX_UNAUTHORIZED_ROLE_CALLS
            # A looping client must not flood the log: the first, every 100th and the last
            # one are logged (official unauthorized-flood-guard.ts); every call is answered.
            if (
                unauthorized_role_streak == 1
                or unauthorized_role_streak % UNAUTHORIZED_LOG_EVERY == 0
                or closing
            ):
                _fail(frame, denied.to_shape(), started)
            else:
                reply(frame.id, error=denied.to_shape())
            if closing:
                request_close(sub, 1008, "repeated unauthorized calls")
                return
            continue
        unauthorized_role_streak = 0
        assert spec is not None
        if spec.control_plane_write:
            limited = _control_plane_limited(deps, ctx, frame.method)
            if limited is not None:
                _fail(frame, limited, started)
                continue
        params = frame.params if frame.params is not None else {}
        if inspect.iscoroutinefunction(spec.handler):
            if pending >= MAX_PENDING_REQUESTS:
                _fail(
                    frame,
                    {
                        "code": "UNAVAILABLE",
                        "message": "The server is busy. Please try again in a moment.",
                        "retryable": True,
                    },
                    started,
                )
                continue
            pending += 1
            nursery.start_soon(run_async, frame, spec.handler, params, started)
            continue
        try:
            result = spec.handler(ctx, params)
        except RpcError as exc:
            _fail(frame, exc.to_shape(), started)
            continue
        except Exception as exc:  # a handler bug must not kill the socket
            log.error("ws", f"handler {frame.method} failed: {type(exc).__name__}: {exc}")
            _fail(
                frame, {"code": "UNAVAILABLE", "message": str(exc) or type(exc).__name__}, started
            )
            continue
        reply(frame.id, result)
        log.ws_response(
            ctx.caller.conn_id, frame.method, frame.id, True, (time.perf_counter() - started) * 1000
        )
