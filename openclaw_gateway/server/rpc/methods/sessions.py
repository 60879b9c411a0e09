"""sessions.*: list, subscribe, message subscriptions, describe, patch, reset, delete
(official server-methods/sessions-*.ts; shapes in docs/architecture.md "Conversations").

Filters of sessions.list that name things this gateway never has (global/unknown/system
sessions, archives, spawned sessions) are accepted and select accordingly (nothing extra).
"""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import (
    NON_EMPTY,
    AnyOf,
    AnyValue,
    Bool,
    Const,
    Enum,
    Int,
    Str,
    obj,
    req,
)
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.runs.service import Conversations
from openclaw_gateway.state import session_keys as K

Record = dict[str, Any]
DEFAULT_LIST_LIMIT = 100
MAX_LABEL_CHARS = 100
THINKING_LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh", "adaptive", "max")

LIST = obj(
    limit=Int(minimum=1),
    offset=Int(minimum=0),
    activeMinutes=Int(minimum=1),
    activeOnly=Bool(),
    requireLastInteraction=Bool(),
    sortBy=Enum(("updatedAt", "lastInteractionAt", "activity")),
    includeGlobal=Bool(),
    includeUnknown=Bool(),
    excludeSubagents=Bool(),
    excludeCron=Bool(),
    excludeSystem=Bool(),
    configuredAgentsOnly=Bool(),
    includeDerivedTitles=Bool(),
    includeLastMessage=Bool(),
    label=Str(max_length=MAX_LABEL_CHARS),
    spawnedBy=NON_EMPTY,
    agentId=NON_EMPTY,
    search=Str(),
    archived=AnyOf((Bool(), Const("all"))),
)
BY_KEY = obj(key=req(NON_EMPTY), agentId=NON_EMPTY)
DESCRIBE = obj(
    key=req(NON_EMPTY), agentId=NON_EMPTY, includeDerivedTitles=Bool(), includeLastMessage=Bool()
)
MESSAGES_SUBSCRIBE = obj(key=req(NON_EMPTY), agentId=NON_EMPTY, includeApprovals=Bool())
PATCH = obj(
    key=req(NON_EMPTY),
    agentId=NON_EMPTY,
    expectedSessionId=NON_EMPTY,
    label=AnyValue(),
    thinkingLevel=AnyValue(),
    verboseLevel=AnyValue(),
    model=AnyValue(),
)
RESET = obj(
    key=req(NON_EMPTY),
    agentId=NON_EMPTY,
    reason=Enum(("new", "reset")),
    expectedSessionId=NON_EMPTY,
)
DELETE = obj(
    key=req(NON_EMPTY),
    agentId=NON_EMPTY,
    deleteTranscript=Bool(),
    expectedSessionId=NON_EMPTY,
    archivedOnly=Bool(),
)


def _rows(conv: Conversations, p: Record, now_ms: int) -> list[Record]:
    if p.get("archived") is True or p.get("spawnedBy") is not None:
        return []  # no archived or spawned sessions exist here
    agent = conv.key("main", p["agentId"]).agent_id if "agentId" in p else None
    search = (p.get("search") or "").strip().lower()
    rows = []
    for rec in conv.book.listing(agent):
        key = K.parse(rec["key"])
        if p.get("excludeCron") and K.is_cron_key(key):
            continue
        if p.get("excludeSubagents") and K.is_subagent_key(key):
            continue
        if "activeMinutes" in p and now_ms - rec["updatedAt"] > p["activeMinutes"] * 60_000:
            continue
        if "label" in p and rec.get("label") != p["label"]:
            continue
        active = conv.runs.active(rec["key"]) is not None
        if p.get("activeOnly") and not active:
            continue
        if p.get("requireLastInteraction") and not rec.get("messageCount"):
            continue
        haystack = " ".join(str(rec.get(f) or "") for f in ("key", "label", "derivedTitle"))
        if search and search not in haystack.lower():
            continue
        rows.append(
            conv.row(
                rec,
                titles=p.get("includeDerivedTitles") is True,
                preview=p.get("includeLastMessage") is True,
            )
        )
    return rows


def list_sessions(ctx: CallContext, p: Record) -> Record:
    conv = ctx.state.require_conversations()
    now = ctx.state.now_ms()
    rows = _rows(conv, p, now)
    offset = p.get("offset", 0)
    limit = p.get("limit", DEFAULT_LIST_LIMIT)
    page = rows[offset : offset + limit]
    return {
        "ts": now,
        "path": str(conv.book.store.path),
        "count": len(page),
        "totalCount": len(rows),
        "defaults": conv.defaults(),
        "sessions": page,
    }


@registry.method("sessions.list", scope=S.READ)
def sessions_list(ctx: CallContext, params: Any) -> Record:
    return list_sessions(ctx, check("sessions.list", LIST, params))


@registry.method("sessions.subscribe", scope=S.READ)
def sessions_subscribe(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.subscribe", LIST, params)
    ctx.state.require_conversations().session_subscribers.add(ctx.caller.conn_id)
    if not p:
        return {"subscribed": True}
    return {"subscribed": True, "list": list_sessions(ctx, p)}


@registry.method("sessions.unsubscribe", scope=S.READ)
def sessions_unsubscribe(ctx: CallContext, params: Any) -> Record:
    check("sessions.unsubscribe", obj(), params)
    ctx.state.require_conversations().session_subscribers.discard(ctx.caller.conn_id)
    return {"subscribed": False}


@registry.method("sessions.messages.subscribe", scope=S.READ)
def messages_subscribe(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.messages.subscribe", MESSAGES_SUBSCRIBE, params)
    if p.get("includeApprovals") is False:
        raise RpcError(
            "INVALID_REQUEST",
            "invalid sessions.messages.subscribe params: at /includeApprovals: must be equal to "
            "constant",
        )
    # Official canReviewOperatorApproval: a paired device holding operator.approvals. Such a
    # caller is subscribed as usual; no approvals are kept here, so there is nothing to replay.
    reviewer = ctx.caller.device_id is not None and S.APPROVALS in ctx.caller.scopes
    if p.get("includeApprovals") is True and not reviewer:
        raise RpcError(
            "INVALID_REQUEST",
            "sessions.messages.subscribe includeApprovals requires a paired device and gateway "
            "scope: operator.approvals",
        )
    conv = ctx.state.require_conversations()
    key = str(conv.key(p["key"], p.get("agentId")))
    conv.subscribe_messages(ctx.caller.conn_id, key)
    return {"subscribed": True, "key": key}


@registry.method("sessions.messages.unsubscribe", scope=S.READ)
def messages_unsubscribe(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.messages.unsubscribe", BY_KEY, params)
    conv = ctx.state.require_conversations()
    key = str(conv.key(p["key"], p.get("agentId")))
    conv.unsubscribe_messages(ctx.caller.conn_id, key)
    return {"subscribed": False, "key": key}


@registry.method("sessions.describe", scope=S.READ)
def describe(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.describe", DESCRIBE, params)
    conv = ctx.state.require_conversations()
    rec = conv.book.get(str(conv.key(p["key"], p.get("agentId"))))
    if rec is None:
        return {"session": None}
    return {"session": conv.row(rec)}


def _expect(rec: Record | None, p: Record) -> None:
    want = p.get("expectedSessionId")
    if want is not None and (rec is None or rec["sessionId"] != want):
        raise RpcError("INVALID_REQUEST", "session changed: expectedSessionId does not match")


def _optional_text(p: Record, name: str, limit: int) -> str | None:
    value = p[name]
    if value is None:
        return None
    if not isinstance(value, str):
        raise RpcError("INVALID_REQUEST", f"invalid sessions.patch params: {name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise RpcError("INVALID_REQUEST", f"{name} too long (max {limit})")
    return value or None


@registry.method("sessions.patch", scope=S.WRITE)
def patch(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.patch", PATCH, params)
    conv = ctx.state.require_conversations()
    key = conv.key(p["key"], p.get("agentId"))
    _expect(conv.book.get(str(key)), p)
    fields: Record = {}
    if "label" in p:
        fields["label"] = _optional_text(p, "label", MAX_LABEL_CHARS)
    if "thinkingLevel" in p:
        level = _optional_text(p, "thinkingLevel", 32)
        if level is not None and level.lower() not in THINKING_LEVELS:
            raise RpcError(
                "INVALID_REQUEST",
                f'invalid thinkingLevel "{level}" (use {", ".join(THINKING_LEVELS)})',
            )
        fields["thinkingLevel"] = level.lower() if level else None
    if "verboseLevel" in p:
        fields["verboseLevel"] = _optional_text(p, "verboseLevel", 32)
    if "model" in p:
        ref = _optional_text(p, "model", 200)
        provider, _, model = ref.partition("/") if ref and "/" in ref else (None, "", ref)
        fields["model"], fields["modelProvider"] = model, provider
    rec = conv.book.patch(key, fields, ctx.state.now_ms())
    conv.session_changed(rec["key"], "patch", rec)
    row = conv.row(rec)
    return {"ok": True, "key": rec["key"], "entry": row}


@registry.method("sessions.reset", scope=S.ADMIN)
def reset(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.reset", RESET, params)
    conv = ctx.state.require_conversations()
    key = conv.key(p["key"], p.get("agentId"))
    _expect(conv.book.get(str(key)), p)
    conv.runs.abort(str(key))
    rec = conv.book.reset(key, ctx.state.now_ms())
    conv.session_changed(rec["key"], p.get("reason", "reset"), rec)
    return {"ok": True, "key": rec["key"], "entry": conv.row(rec)}


@registry.method("sessions.delete", scope=S.ADMIN)
def delete(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.delete", DELETE, params)
    conv = ctx.state.require_conversations()
    key = conv.key(p["key"], p.get("agentId"))
    if key.is_main:
        raise RpcError("INVALID_REQUEST", f"Cannot delete the main session ({key}).")
    rec = conv.book.get(str(key))
    _expect(rec, p)
    if p.get("archivedOnly") is True:
        return {"ok": True, "key": str(key), "deleted": False}  # nothing is archived here
    conv.runs.abort(str(key))
    deleted = conv.book.delete(str(key))
    if deleted:
        conv.session_changed(str(key), "delete", None)
    return {"ok": True, "key": str(key), "deleted": deleted}
