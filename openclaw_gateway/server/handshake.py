"""The handshake of one socket: challenge -> connect -> admission -> hello-ok.

The server's side of protocol.md §2: send `connect.challenge` with a fresh nonce (a device
proof must sign it), read the first frame within the handshake timeout, run the sans-IO
rules (protocol/handshake.py) and admission (admission.py, with the device stage for signed
connects), and answer a refusal with its error frame and close code. `build_hello` is the
hello-ok payload dispatch.py sends first once the socket is admitted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import trio

from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import PROTOCOL_VERSION
from openclaw_gateway.protocol.handshake import ConnectRequest, Refusal, negotiate, read_connect
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.devices import NonceLedger
from openclaw_gateway.security.origin import OriginPolicy
from openclaw_gateway.security.ratelimit import AuthLimiters, ControlPlaneWriteLimiter
from openclaw_gateway.server import admission
from openclaw_gateway.server.device_stage import make_stage
from openclaw_gateway.server.hub import MAX_BUFFERED_BYTES, Hub
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.rpc.registry import Registry
from openclaw_gateway.server.runs.service import session_defaults
from openclaw_gateway.server.wssocket import ServerWebSocket

HANDSHAKE_TIMEOUT = 15.0
MAX_PAYLOAD = 26_214_400
TICK_INTERVAL_MS = 30_000


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
class CloseCause:
    """Why the socket closes: the first cause recorded wins."""

    code: int | None = None
    reason: str = ""
    stalled: bool = False  # a slow consumer: its close may wait SLOW_CONSUMER_GRACE
    dropped: bool = False  # the TCP stream is dropped without a close frame (no pong)


def close_cause(close: CloseCause, code: int, reason: str) -> None:
    if close.code is None:
        close.code, close.reason = code, reason


def challenge_frame(nonce: str, ts: int) -> str:
    return codec.event("connect.challenge", {"nonce": nonce, "ts": ts})


def build_hello(deps: Deps, conn_id: str, granted: admission.Admission) -> codec.Encoded:
    """The hello-ok payload, encoded: its constant `features` part is spliced in as JSON the
    registry encoded once (it is most of the frame), the per-connection parts around it."""
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
    head = codec.encode(
        {
            "type": "hello-ok",
            "protocol": PROTOCOL_VERSION,
            "server": {"version": state.version, "connId": conn_id},
        }
    )
    tail = codec.encode(
        {
            "snapshot": snapshot,
            "auth": _hello_auth(granted),
            "policy": {
                "maxPayload": MAX_PAYLOAD,
                "maxBufferedBytes": MAX_BUFFERED_BYTES,
                "tickIntervalMs": deps.tick_interval_ms,
            },
        }
    )
    features = deps.registry.features_json()
    # Key order as before: type, protocol, server, features, snapshot, auth, policy.
    return codec.Encoded(f'{head[:-1]},"features":{features},{tail[1:]}')


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


async def handshake(
    ws: ServerWebSocket, peer: admission.Peer, deps: Deps, conn_id: str, close: CloseCause
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
                        return outcome.kept_after_admission(), decided
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
            close_cause(close, refusal.close_code, refusal.close_reason)
            return None
        finally:
            deps.hub.handshaking.discard(scope)
    if state.shutting_down:
        close_cause(close, 1012, "service restart")
        return None
    # Handshake timeout: the official server closes with 1000 and no reason.
    close_cause(close, 1000, "")
    return None
