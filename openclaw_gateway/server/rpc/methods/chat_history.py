"""chat.history and chat.startup (official server-methods/chat-history-handler.ts): the newest
messages of a session's transcript, or, with a `cursor`, only those after it
(server/runs/history_cursor).

Full answer: {sessionKey, sessionId?, messages, deltaCursor?, defaults, sessionInfo?,
thinkingLevel?, verboseLevel?, inFlightRun?}. With `cursor`: {kind:"delta", messages,
deltaCursor, sessionInfo, inFlightRun?} or {kind:"reset"} (reload everything).
"""

from __future__ import annotations

import json
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, Arr, Int, Str, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.rpc.methods.sessions_resolve import sessions_resolve
from openclaw_gateway.server.runs import history_cursor as C
from openclaw_gateway.server.runs.service import Conversations

Record = dict[str, Any]
CHAT_HISTORY_MAX_ENTRIES = 1000
DEFAULT_HISTORY_LIMIT = 200

HISTORY = obj(
    sessionKey=req(NON_EMPTY),
    agentId=NON_EMPTY,
    cursor=Str(),
    limit=Int(minimum=1, maximum=CHAT_HISTORY_MAX_ENTRIES),
    maxBytes=Int(minimum=1024),
    offset=Int(minimum=0),
    sessionId=NON_EMPTY,
    maxChars=Int(minimum=1, maximum=500_000),
    # The Control UI asks after the runs it just started. A run's message enters the transcript
    # when chat.send accepts it (no separate pending-input queue here), so the answer is the
    # same history; the ids are only checked.
    inputRunIds=Arr(Str(min_length=1, max_length=256), min_items=1),
)
MAX_INPUT_RUN_IDS = 50
STARTUP_BY_SHORT_ID = obj(
    shortId=req(NON_EMPTY),
    slugHint=NON_EMPTY,
    agentId=req(NON_EMPTY),
    limit=Int(minimum=1, maximum=CHAT_HISTORY_MAX_ENTRIES),
    maxBytes=Int(minimum=1024),
)
RESET: Record = {"kind": "reset"}


def _clip(message: Record, max_chars: int | None) -> Record:
    if max_chars is None:
        return message
    blocks = message.get("content")
    if not isinstance(blocks, list):
        return message
    clipped = [
        {**b, "text": b["text"][:max_chars]} if isinstance(b.get("text"), str) else b
        for b in blocks
        if isinstance(b, dict)
    ]
    return {**message, "content": clipped}


def _in_flight(conv: Conversations, rec: Record) -> Record | None:
    active = conv.runs.active(rec["key"])
    if active is not None and active.status == "running":
        return {"runId": active.run_id, "text": active.text}
    return None


def _delta(conv: Conversations, rec: Record | None, p: Record) -> Record:
    cursor = C.parse(p["cursor"])
    if rec is None or cursor is None:
        return RESET
    if (cursor.agent_id, cursor.session_id) != (rec["agentId"], rec["sessionId"]):
        return RESET
    last = conv.book.last_seq(rec)
    if cursor.last_seq > last:
        return RESET
    newer = conv.book.history_after(rec, cursor.last_seq, C.DELTA_MAX_MESSAGES + 1)
    if len(newer) > C.DELTA_MAX_MESSAGES:
        return RESET  # too far behind for a delta: the official resets too
    messages = [_clip(m, p.get("maxChars")) for m in newer]
    budget = min(p.get("maxBytes", C.DELTA_MAX_BYTES), C.DELTA_MAX_BYTES)
    if len(json.dumps(messages, ensure_ascii=False).encode()) > budget:
        return RESET
    out: Record = {
        "kind": "delta",
        "messages": messages,
        "deltaCursor": C.encode(C.Cursor(rec["agentId"], rec["sessionId"], last)),
        "sessionInfo": conv.row(rec),
    }
    in_flight = _in_flight(conv, rec)
    if in_flight is not None:
        out["inFlightRun"] = in_flight
    return out


@registry.method("chat.history", scope=S.READ)
def history(ctx: CallContext, params: Any) -> Record:
    return _history("chat.history", ctx, params)


@registry.method("chat.startup", scope=S.READ)
def startup(ctx: CallContext, params: Any) -> Record:
    """What the Control UI opens a conversation with (official chat.startup): chat.history for
    a `sessionKey`, or for a URL's `shortId` (+ `slugHint`) resolved like sessions.resolve,
    with the `resolution` beside it ({ok:false} when no session matches)."""
    if isinstance(params, dict) and "sessionKey" in params:
        return _history("chat.startup", ctx, params)
    p = check("chat.startup", STARTUP_BY_SHORT_ID, params)
    query = {k: p[k] for k in ("shortId", "slugHint", "agentId") if k in p}
    resolution = sessions_resolve(ctx, {**query, "allowMissing": True})
    if not resolution.get("ok"):
        return {"resolution": resolution}
    page = {"sessionKey": resolution["key"], "agentId": resolution["agentId"]}
    page |= {k: p[k] for k in ("limit", "maxBytes") if k in p}
    return {**_history("chat.startup", ctx, page), "resolution": resolution}


def _history(method: str, ctx: CallContext, params: Any) -> Record:
    p = check(method, HISTORY, params)
    run_ids = p.get("inputRunIds", [])
    if len(run_ids) > MAX_INPUT_RUN_IDS or len(set(run_ids)) != len(run_ids):
        raise RpcError(
            "INVALID_REQUEST",
            f"invalid {method} params: at /inputRunIds: must be at most "
            f"{MAX_INPUT_RUN_IDS} unique items",
        )
    if "cursor" in p and "offset" in p:
        raise RpcError("INVALID_REQUEST", "cursor cannot be used with offset or messageId")
    conv = ctx.state.require_conversations()
    key = conv.key(p["sessionKey"], p.get("agentId"))
    rec = conv.book.get(str(key))
    if rec is not None and p.get("sessionId") not in (None, rec["sessionId"]):
        rec = None
    if "cursor" in p:
        return _delta(conv, rec, p)
    limit = p.get("limit", DEFAULT_HISTORY_LIMIT)
    offset = p.get("offset", 0)
    messages = conv.book.history(rec["key"], limit + offset)[1] if rec is not None else []
    page = messages[: len(messages) - offset] if offset else messages
    out: Record = {
        "sessionKey": str(key),
        "messages": [_clip(m, p.get("maxChars")) for m in page[-limit:]],
        "defaults": conv.defaults(),
    }
    if rec is not None:
        cursor = C.Cursor(rec["agentId"], rec["sessionId"], conv.book.last_seq(rec))
        out["sessionId"] = rec["sessionId"]
        out["deltaCursor"] = C.encode(cursor)
        out["sessionInfo"] = conv.row(rec)
        out["thinkingLevel"] = rec.get("thinkingLevel")
        out["verboseLevel"] = rec.get("verboseLevel")
        out["inFlightRun"] = _in_flight(conv, rec)
    return {k: v for k, v in out.items() if v is not None}
