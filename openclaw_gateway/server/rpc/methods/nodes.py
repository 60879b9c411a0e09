"""node.*: node pairing (capability approval), listing, invoke and the node's own replies
(protocol.md §6.8; official server-methods/nodes.ts).

A node's declared commands are claims until an operator approves them (node.pair.approve,
persisted as `nodeApproval` on the pairing record). node.invoke only dispatches approved
commands, dedupes on (caller, node, command, idempotencyKey) (300 s / 1000 keys) and waits at
most 10 minutes for node.invoke.result.
"""

from __future__ import annotations

import json
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, AnyValue, Bool, Int, Str, obj, req
from openclaw_gateway.security import node_rules as R
from openclaw_gateway.security import pairing_rules as PR
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.channels.contract import MESSAGE_EVENT
from openclaw_gateway.server.nodes import NodeRegistry, NodeSession, not_connected, parse_payload
from openclaw_gateway.server.rpc.context import CallContext, GatewayState
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._channel_relay import relay_channel_event, route_inbound
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.rpc.registry import missing_scope
from openclaw_gateway.state.store import Record

EMPTY = obj()
BY_REQUEST = obj(requestId=req(NON_EMPTY))
BY_NODE = obj(nodeId=req(NON_EMPTY))
RENAME = obj(nodeId=req(NON_EMPTY), displayName=req(NON_EMPTY))
NULLABLE_STR = AnyValue()  # a string or null (checked where used)
INVOKE = obj(
    nodeId=req(NON_EMPTY),
    command=req(NON_EMPTY),
    params=AnyValue(),
    timeoutMs=Int(minimum=0),
    idempotencyKey=req(NON_EMPTY),
    sessionKey=Str(),
    turnSourceChannel=Str(),
    turnSourceTo=Str(),
    turnSourceAccountId=Str(),
    turnSourceThreadId=AnyValue(),
)
INVOKE_RESULT = obj(
    id=req(NON_EMPTY),
    nodeId=req(NON_EMPTY),
    ok=req(Bool()),
    payload=AnyValue(),
    payloadJSON=NULLABLE_STR,
    error=AnyValue(),
)
MAX_PROGRESS_CHUNK_BYTES = 16_384
INVOKE_PROGRESS = obj(
    invokeId=req(NON_EMPTY),
    nodeId=req(NON_EMPTY),
    seq=req(Int(minimum=0)),
    chunk=req(Str(max_length=16384)),
)
NODE_EVENT = obj(event=req(NON_EMPTY), payload=AnyValue(), payloadJSON=NULLABLE_STR)


def _caller_device(ctx: CallContext) -> str | None:
    c = ctx.caller
    if c.auth_method == "device-token" and c.device_id and not ctx.is_admin:
        return c.device_id
    return None


def _is_node_record(rec: Record) -> bool:
    return "node" in PR.approved_roles(rec)


def _paired_nodes(state: GatewayState) -> dict[str, Record]:
    if state.pairing is None:
        return {}
    _, paired = state.pairing.listing(state.now_ms())
    return {rec["deviceId"]: rec for rec, _tokens in paired if _is_node_record(rec)}


def node_view(
    node_id: str, session: NodeSession | None, rec: Record | None, reg: NodeRegistry
) -> Record:
    approval = (rec or {}).get("nodeApproval") if session is None else session.approval
    pending = reg.pending_for(node_id)
    out: Record = {"nodeId": node_id}
    if session is not None:
        out.update(
            {
                "displayName": (rec or {}).get("displayName") or session.display_name,
                "platform": session.platform,
                "version": session.version,
                "clientId": session.client_id,
                "clientMode": session.client_mode,
                "deviceFamily": session.device_family,
                "modelIdentifier": session.model_identifier,
                "remoteIp": session.remote_ip,
                "caps": session.effective_caps,
                "commands": session.effective_commands,
                "pathEnv": session.path_env,
                "permissions": session.permissions if approval else None,
                "connectedAtMs": session.connected_at_ms,
                "lastConnectedAtMs": session.connected_at_ms,
                "lastSeenAtMs": session.last_seen_at_ms,
                "lastSeenReason": session.last_seen_reason,
            }
        )
    else:
        r = rec or {}
        out.update(
            {
                "displayName": r.get("displayName"),
                "platform": r.get("platform"),
                "clientId": r.get("clientId"),
                "clientMode": r.get("clientMode"),
                "deviceFamily": r.get("deviceFamily"),
                "remoteIp": r.get("remoteIp"),
                "caps": list((approval or {}).get("caps", [])),
                "commands": list((approval or {}).get("commands", [])),
                "permissions": (approval or {}).get("permissions"),
                "lastSeenAtMs": r.get("lastSeenAtMs"),
                "lastSeenReason": r.get("lastSeenReason"),
                "lastDisconnectedAtMs": reg.disconnected_at.get(node_id),
            }
        )
    out["sessionHost"] = False  # no agent session hosting here
    out["approvalState"] = R.approval_state(approval, pending is not None)
    if pending is not None:
        out["pendingRequestId"] = pending["requestId"]
    if approval:
        out["approvedAtMs"] = approval.get("approvedAtMs")
    out["paired"] = rec is not None
    out["connected"] = session is not None
    return {k: v for k, v in out.items() if v is not None}


def _sorted_views(ctx: CallContext) -> list[Record]:
    state = ctx.state
    reg = state.nodes
    paired = _paired_nodes(state)
    ids = set(paired) | set(reg.sessions)
    views = [node_view(i, reg.sessions.get(i), paired.get(i), reg) for i in ids]
    if not S.scope_satisfied(S.PAIRING, ctx.caller.scopes):
        # pendingRequestId only for pairing operators or the node's own device (nodes.read).
        for v in views:
            if v["nodeId"] != ctx.caller.device_id:
                v.pop("pendingRequestId", None)
    views.sort(
        key=lambda v: (
            not v["connected"],
            str(v.get("displayName") or v["nodeId"]).lower(),
            v["nodeId"],
        )
    )
    return views


# --- pairing ---------------------------------------------------------------------------------


def _paired_entry(rec: Record) -> Record:
    a = rec.get("nodeApproval") or {}
    out = {
        "nodeId": rec["deviceId"],
        "displayName": rec.get("displayName"),
        "platform": rec.get("platform"),
        "clientId": rec.get("clientId"),
        "clientMode": rec.get("clientMode"),
        "remoteIp": rec.get("remoteIp"),
        "caps": list(a.get("caps", [])),
        "commands": list(a.get("commands", [])),
        "permissions": a.get("permissions"),
        "createdAtMs": rec.get("createdAtMs"),
        "approvedAtMs": a.get("approvedAtMs"),
        "lastConnectedAtMs": rec.get("lastSeenAtMs"),
    }
    return {k: v for k, v in out.items() if v is not None}


@registry.method("node.pair.list", scope=S.PAIRING)
def pair_list(ctx: CallContext, params: Any) -> Record:
    check("node.pair.list", EMPTY, params)
    state = ctx.state
    pending = sorted(state.nodes.requests.values(), key=lambda r: -int(r["ts"]))
    paired = [_paired_entry(r) for r in _paired_nodes(state).values()]
    own = _caller_device(ctx)
    if own is not None:
        pending = [p for p in pending if p["nodeId"] == own]
        paired = [p for p in paired if p["nodeId"] == own]
    return {"pending": pending, "paired": paired}


def _own_request(ctx: CallContext, request: Record | None, action: str) -> None:
    own = _caller_device(ctx)
    if own is not None and (request is None or request["nodeId"] != own):
        raise RpcError("INVALID_REQUEST", f"node pairing {action} denied")


@registry.method("node.pair.approve", scope=S.PAIRING)
def pair_approve(ctx: CallContext, params: Any) -> Record:
    p = check("node.pair.approve", BY_REQUEST, params)
    state, reg = ctx.state, ctx.state.nodes
    request = reg.requests.get(p["requestId"])
    _own_request(ctx, request, "approval")
    if request is None:
        raise RpcError("INVALID_REQUEST", "unknown requestId")
    missing = R.missing_approval_scope(request["commands"], ctx.caller.scopes)
    if missing is not None:
        required = [S.PAIRING] if missing == S.PAIRING else [S.PAIRING, missing]
        err = missing_scope(missing)
        raise RpcError(
            err.code, err.message, details={**(err.details or {}), "requiredScopes": required}
        )
    now = state.now_ms()
    approval: Record = {
        "caps": list(request["caps"]),
        "commands": list(request["commands"]),
        "approvedAtMs": now,
    }
    if request.get("permissions") is not None:
        approval["permissions"] = request["permissions"]
    if not ctx.state.require_pairing().set_node_approval(request["nodeId"], approval):
        raise RpcError("INVALID_REQUEST", "unknown requestId")
    del reg.requests[request["requestId"]]
    resolved = {
        "requestId": request["requestId"],
        "nodeId": request["nodeId"],
        "decision": "approved",
        "ts": now,
    }
    session = reg.sessions.get(request["nodeId"])
    if session is not None:
        session.approval = approval
        session.event("node.pair.resolved", resolved)
        reg.changed(session, True)
    state.broadcast("node.pair.resolved", resolved)
    rec, _ = ctx.state.require_pairing().paired(request["nodeId"])
    return {"requestId": request["requestId"], "node": _paired_entry(rec or {"deviceId": ""})}


@registry.method("node.pair.reject", scope=S.PAIRING)
def pair_reject(ctx: CallContext, params: Any) -> Record:
    p = check("node.pair.reject", BY_REQUEST, params)
    reg = ctx.state.nodes
    request = reg.requests.get(p["requestId"])
    _own_request(ctx, request, "rejection")
    if request is None:
        raise RpcError("INVALID_REQUEST", "unknown requestId")
    del reg.requests[request["requestId"]]
    ctx.state.broadcast(
        "node.pair.resolved",
        {
            "requestId": request["requestId"],
            "nodeId": request["nodeId"],
            "decision": "rejected",
            "ts": ctx.state.now_ms(),
        },
    )
    return {"requestId": request["requestId"], "nodeId": request["nodeId"]}


@registry.method("node.pair.remove", scope=S.PAIRING)
def pair_remove(ctx: CallContext, params: Any) -> Record:
    p = check("node.pair.remove", BY_NODE, params)
    node_id = p["nodeId"].strip()
    book = ctx.state.require_pairing()
    rec, _ = book.paired(node_id)
    if rec is None or not _is_node_record(rec):
        raise RpcError("INVALID_REQUEST", "unknown nodeId")
    own = _caller_device(ctx)
    if own is not None and own != node_id:
        raise RpcError("INVALID_REQUEST", "node pairing removal denied")
    if PR.approved_roles(rec) == ["node"]:
        book.remove(node_id)
    else:
        book.set_node_approval(node_id, None)
    ctx.state.nodes.forget(node_id)
    ctx.state.broadcast(
        "node.pair.resolved",
        {"requestId": "", "nodeId": node_id, "decision": "removed", "ts": ctx.state.now_ms()},
    )
    ctx.state.invalidate_device(node_id, "node", "device-pair-removed", ctx.caller.conn_id)
    return {"nodeId": node_id}


@registry.method("node.rename", scope=S.PAIRING)
def rename(ctx: CallContext, params: Any) -> Record:
    p = check("node.rename", RENAME, params)
    node_id, name = p["nodeId"].strip(), p["displayName"].strip()
    own = _caller_device(ctx)
    if own is not None and own != node_id:
        raise RpcError("INVALID_REQUEST", "node rename denied")
    if not name:
        raise RpcError("INVALID_REQUEST", "displayName required")
    book = ctx.state.require_pairing()
    rec, _ = book.paired(node_id)
    if rec is None or not _is_node_record(rec):
        raise RpcError("INVALID_REQUEST", "unknown nodeId")
    book.touch(node_id, {"displayName": name})
    session = ctx.state.nodes.sessions.get(node_id)
    if session is not None:
        session.display_name = name
    return {"nodeId": node_id, "displayName": name}


# --- listing ---------------------------------------------------------------------------------


@registry.method("node.list", scope=S.READ)
def node_list(ctx: CallContext, params: Any) -> Record:
    check("node.list", EMPTY, params)
    return {"ts": ctx.state.now_ms(), "nodes": _sorted_views(ctx)}


@registry.method("node.describe", scope=S.READ)
def describe(ctx: CallContext, params: Any) -> Record:
    p = check("node.describe", BY_NODE, params)
    node_id = p["nodeId"].strip()
    for view in _sorted_views(ctx):
        if view["nodeId"] == node_id:
            return {"ts": ctx.state.now_ms(), **view}
    raise RpcError("INVALID_REQUEST", "unknown nodeId")


# --- invoke ----------------------------------------------------------------------------------


@registry.method("node.invoke", scope=S.WRITE)
async def invoke(ctx: CallContext, params: Any) -> Record:
    p = check("node.invoke", INVOKE, params)
    node_id, command = p["nodeId"].strip(), p["command"].strip()
    if R.admin_only_invoke(command) and not ctx.is_admin:
        raise missing_scope(S.ADMIN)
    reg = ctx.state.nodes
    timeout_ms = R.invoke_timeout_ms(p.get("timeoutMs"))
    params_json = json.dumps(p["params"], separators=(",", ":")) if "params" in p else None

    async def run() -> Record:
        session = reg.sessions.get(node_id)
        if session is None:
            raise not_connected()
        approved = session.effective_commands
        reason = R.command_refusal(command, session.commands, approved)
        if reason is not None:
            raise RpcError(
                "INVALID_REQUEST",
                R.refusal_message(reason, command, session.platform, session.commands),
                details={"reason": reason, "command": command},
            )
        res = await reg.invoke(
            session, command, params_json, timeout_ms, p["idempotencyKey"], p.get("sessionKey")
        )
        text = res.get("payloadJSON")
        payload = parse_payload(text) if isinstance(text, str) and text else res.get("payload")
        return {
            "ok": True,
            "nodeId": node_id,
            "command": command,
            "payload": payload,
            "payloadJSON": text if isinstance(text, str) else None,
        }

    caller = ctx.caller.device_id or f"conn:{ctx.caller.conn_id}"
    key = R.idempotency_key(caller, node_id, command, p["idempotencyKey"])
    return await reg.invoke_once(key, ctx.state.now_ms(), run)


def _own_node(ctx: CallContext, node_id: str) -> None:
    if node_id.strip() != (ctx.caller.device_id or ""):
        raise RpcError("INVALID_REQUEST", "nodeId mismatch")


@registry.method("node.invoke.result", scope=S.ADMIN, role="node")
def invoke_result(ctx: CallContext, params: Any) -> Record:
    p = check("node.invoke.result", INVOKE_RESULT, params)
    _own_node(ctx, p["nodeId"])
    result: Record = {"ok": p["ok"]}
    for k in ("payload", "payloadJSON", "error"):
        if p.get(k) is not None:
            result[k] = p[k]
    if ctx.state.nodes.resolve(p["id"], p["nodeId"].strip(), result):
        return {"ok": True}
    return {"ok": True, "ignored": True}


@registry.method("node.invoke.progress", scope=S.ADMIN, role="node")
def invoke_progress(ctx: CallContext, params: Any) -> Record:
    p = check("node.invoke.progress", INVOKE_PROGRESS, params)
    _own_node(ctx, p["nodeId"])
    if len(p["chunk"].encode("utf-8")) > MAX_PROGRESS_CHUNK_BYTES:  # the schema counts chars
        raise RpcError("INVALID_REQUEST", "progress chunk too large")
    delivered = ctx.state.nodes.progress(p["invokeId"], p["nodeId"].strip(), p["seq"], p["chunk"])
    return {"ok": True, "ignored": not delivered}


CHANNEL_EVENT_PREFIX = "channel."


@registry.method("node.event", scope=S.ADMIN, role="node")
async def node_event(ctx: CallContext, params: Any) -> Record:
    p = check("node.event", NODE_EVENT, params)
    node_id = ctx.caller.device_id or ""
    session = ctx.state.nodes.sessions.get(node_id)
    if session is not None:
        session.last_seen_at_ms = ctx.state.now_ms()
        session.last_seen_reason = p["event"]
    handled = p["event"] in ("node.presence.alive", "node.presence.activity")
    routed: Record = {}
    if p["event"].startswith(CHANNEL_EVENT_PREFIX):
        payload = relay_channel_event(ctx, session, node_id, p)
        if p["event"] == MESSAGE_EVENT and session is not None:
            routed = await route_inbound(ctx.state, session, payload)
        handled = True
    out: Record = {"ok": True, "event": p["event"], "handled": handled, **routed}
    if not handled:
        out["reason"] = "unsupported-event"
    return out


# --- connection hooks (connection.py) --------------------------------------------------------


def attach_node(
    state: GatewayState,
    node_id: str,
    conn_id: str,
    send: Any,
    client: Any,
    raw: Record,
    remote_ip: str | None,
) -> NodeSession:
    """A node socket passed hello-ok: register it; an uncovered declared surface becomes a
    capability request (node.pair.requested to operator.pairing)."""
    rec = state.pairing.paired(node_id)[0] if state.pairing is not None else None
    permissions = raw.get("permissions")
    session = NodeSession(
        node_id=node_id,
        conn_id=conn_id,
        send=send,
        client_id=client.id,
        client_mode=client.mode,
        display_name=(rec or {}).get("displayName") or client.display_name,
        platform=client.platform,
        version=client.version,
        device_family=client.device_family,
        model_identifier=client.model_identifier,
        remote_ip=remote_ip,
        caps=PR.unique(raw.get("caps")),
        commands=PR.unique(raw.get("commands")),
        permissions=permissions if isinstance(permissions, dict) else None,
        path_env=raw.get("pathEnv") if isinstance(raw.get("pathEnv"), str) else None,
        connected_at_ms=state.now_ms(),
        approval=(rec or {}).get("nodeApproval"),
    )
    request = state.nodes.attach(session, state.now_ms())
    if request is not None:
        state.broadcast("node.pair.requested", request)
    return session


def detach_node(state: GatewayState, conn_id: str) -> None:
    state.nodes.detach(conn_id, state.now_ms())
