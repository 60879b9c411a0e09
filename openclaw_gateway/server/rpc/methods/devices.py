"""device.pair.* and device.token.*: the operator's view of pairing (protocol.md §4.5-§4.6).

Follows the official server-methods/devices.ts: all need operator.pairing; a caller that
authenticated with a device token (and is not admin) may manage only its own device; non-
operator roles need admin; the caller must hold every operator scope it approves or mints.
Every change is committed before the answer is sent, and credential changes close the device's
live sockets at once (4001).
"""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, Arr, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.state.pairing import Forbidden
from openclaw_gateway.state.store import Record

LIST = obj()
BY_REQUEST = obj(requestId=req(NON_EMPTY))
BY_DEVICE = obj(deviceId=req(NON_EMPTY))
ROTATE = obj(deviceId=req(NON_EMPTY), role=req(NON_EMPTY), scopes=Arr(NON_EMPTY))
REVOKE = obj(deviceId=req(NON_EMPTY), role=req(NON_EMPTY))


def _caller_device(ctx: CallContext) -> str | None:
    """Official resolveDeviceSessionAuthz: only device-token sessions are device-bound."""
    c = ctx.caller
    return c.device_id if c.auth_method == "device-token" and c.device_id else None


def _denied(message: str) -> RpcError:
    return RpcError("INVALID_REQUEST", message)


def redact(device: Record, tokens: dict[str, Record], connected: bool | None = None) -> Record:
    """A paired record without bearer tokens or the approval baseline."""
    out = {k: v for k, v in device.items() if k != "approvedScopes"}
    if connected is not None:
        out["connected"] = connected
    summary = [
        {
            k: t[k]
            for k in ("role", "scopes", "createdAtMs", "rotatedAtMs", "revokedAtMs", "lastUsedAtMs")
            if k in t
        }
        for t in sorted(tokens.values(), key=lambda t: str(t["role"]))
    ]
    if summary:
        out["tokens"] = summary
    return out


@registry.method("device.pair.list", scope=S.PAIRING)
def pair_list(ctx: CallContext, params: Any) -> dict[str, Any]:
    check("device.pair.list", LIST, params)
    pending, paired = ctx.state.require_pairing().listing(ctx.state.now_ms())
    own = _caller_device(ctx)
    if own and not ctx.is_admin:
        pending = [p for p in pending if p["deviceId"] == own]
        paired = [p for p in paired if p[0]["deviceId"] == own]
    connected = ctx.state.connected_devices()
    return {
        "pending": [{k: v for k, v in p.items() if k != "refreshedAtMs"} for p in pending],
        "paired": [redact(d, t, d["deviceId"] in connected) for d, t in paired],
    }


def _resolved(ctx: CallContext, request_id: str, device_id: str, decision: str) -> None:
    ctx.state.broadcast(
        "device.pair.resolved",
        {
            "requestId": request_id,
            "deviceId": device_id,
            "decision": decision,
            "ts": ctx.state.now_ms(),
        },
    )


@registry.method("device.pair.approve", scope=S.PAIRING)
def pair_approve(ctx: CallContext, params: Any) -> dict[str, Any]:
    request_id = check("device.pair.approve", BY_REQUEST, params)["requestId"].strip()
    book, now = ctx.state.require_pairing(), ctx.state.now_ms()
    if not ctx.is_admin:
        pending = book.pending(request_id, now)
        own = _caller_device(ctx)
        if pending is None or (own and pending["deviceId"] != own):
            raise _denied("device pairing approval denied")
        roles = {*(pending.get("roles") or ()), pending.get("role") or "operator"}
        if roles - {"operator"}:
            raise _denied("device pairing approval denied")
    approved = book.approve(request_id, list(ctx.caller.scopes), now)
    if approved is None:
        raise _denied("unknown requestId")
    if isinstance(approved, Forbidden):
        raise _denied(approved.message)
    ctx.state.logger.info("gateway", f"device pairing approved device={approved['deviceId']}")
    _resolved(ctx, request_id, approved["deviceId"], "approved")
    _, tokens = book.paired(approved["deviceId"])
    return {"requestId": request_id, "device": redact(approved, tokens)}


@registry.method("device.pair.reject", scope=S.PAIRING)
def pair_reject(ctx: CallContext, params: Any) -> dict[str, Any]:
    request_id = check("device.pair.reject", BY_REQUEST, params)["requestId"].strip()
    book, now = ctx.state.require_pairing(), ctx.state.now_ms()
    own = _caller_device(ctx)
    if own and not ctx.is_admin:
        pending = book.pending(request_id, now)
        if pending is None or pending["deviceId"] != own:
            raise _denied("device pairing rejection denied")
    rejected = book.reject(request_id, now)
    if rejected is None:
        raise _denied("unknown requestId")
    _resolved(ctx, request_id, rejected["deviceId"], "rejected")
    return rejected


def _manage(ctx: CallContext, device_id: str, role: str | None, what: str) -> None:
    own = _caller_device(ctx)
    if own and own != device_id.strip() and not ctx.is_admin:
        raise _denied(what)
    if role is not None and role.strip() != "operator" and not ctx.is_admin:
        raise _denied(what)


@registry.method("device.pair.remove", scope=S.PAIRING)
def pair_remove(ctx: CallContext, params: Any) -> dict[str, Any]:
    device_id = check("device.pair.remove", BY_DEVICE, params)["deviceId"]
    _manage(ctx, device_id, None, "device pairing removal denied")
    book = ctx.state.require_pairing()
    if _caller_device(ctx) and not ctx.is_admin:
        device, tokens = book.paired(device_id.strip())
        if device and set(tokens) - {"operator"}:
            raise _denied("device pairing removal denied")
    removed = book.remove(device_id)
    if removed is None:
        raise _denied("unknown deviceId")
    ctx.state.logger.info("gateway", f"device pairing removed device={removed['deviceId']}")
    ctx.state.invalidate_device(
        removed["deviceId"], None, "device-pair-removed", ctx.caller.conn_id
    )
    return removed


def _token_caller_scopes(ctx: CallContext, role: str) -> list[str] | None:
    return list(ctx.caller.scopes) if role.strip() == "operator" else None


@registry.method("device.token.rotate", scope=S.PAIRING)
def token_rotate(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("device.token.rotate", ROTATE, params)
    device_id, role = p["deviceId"], p["role"]
    _manage(ctx, device_id, role, "device token rotation denied")
    rotated = ctx.state.require_pairing().rotate(
        device_id, role, p.get("scopes"), _token_caller_scopes(ctx, role), ctx.state.now_ms()
    )
    if isinstance(rotated, str):
        ctx.state.logger.warn(
            "gateway",
            f"device token rotation denied device={device_id} role={role} reason={rotated}",
        )
        raise _denied("device token rotation denied")
    target = device_id.strip()
    ctx.state.invalidate_device(target, rotated["role"], "device-token-rotated", ctx.caller.conn_id)
    in_band = _caller_device(ctx) == target
    out: dict[str, Any] = {"deviceId": device_id, "role": rotated["role"]}
    if in_band:
        out["token"] = rotated["token"]
    out.update(
        scopes=rotated["scopes"],
        rotatedAtMs=rotated.get("rotatedAtMs", rotated["createdAtMs"]),
        tokenDelivery="in-band" if in_band else "withheld-cross-device",
    )
    return out


@registry.method("device.token.revoke", scope=S.PAIRING)
def token_revoke(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("device.token.revoke", REVOKE, params)
    device_id, role = p["deviceId"], p["role"]
    _manage(ctx, device_id, role, "device token revocation denied")
    revoked = ctx.state.require_pairing().revoke(
        device_id, role, _token_caller_scopes(ctx, role), ctx.state.now_ms()
    )
    if isinstance(revoked, str):
        ctx.state.logger.warn(
            "gateway",
            f"device token revocation denied device={device_id} role={role} reason={revoked}",
        )
        raise _denied("device token revocation denied")
    target = device_id.strip()
    ctx.state.invalidate_device(target, revoked["role"], "device-token-revoked", ctx.caller.conn_id)
    return {"deviceId": target, "role": revoked["role"], "revokedAtMs": revoked["revokedAtMs"]}
