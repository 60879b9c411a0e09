"""chat.send, chat.abort, chat.inject (official server-methods/chat*.ts; chat.history is in
chat_history.py).

chat.send's idempotencyKey is the runId: the first call answers {runId, status:"started"}
once the user message and the queued run are committed; a repeat answers
{runId, status:"in_flight"} while it runs, then its terminal status (ok | error | timeout).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, AnyValue, Arr, Bool, Int, Str, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.runs import frames as F
from openclaw_gateway.server.runs.run import DEFAULT_TURN_TIMEOUT_MS, Run, TurnRequest
from openclaw_gateway.state.sessions import MAX_MESSAGE_CHARS, text_message

Record = dict[str, Any]
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

SEND = obj(
    sessionKey=req(NON_EMPTY),
    agentId=NON_EMPTY,
    sessionId=NON_EMPTY,
    message=req(Str()),
    thinking=Str(),
    deliver=Bool(),
    attachments=Arr(AnyValue()),
    timeoutMs=Int(minimum=0),
    originatingChannel=Str(),
    idempotencyKey=req(NON_EMPTY),
)
ABORT = obj(sessionKey=req(NON_EMPTY), agentId=NON_EMPTY, runId=NON_EMPTY, preserveSideRuns=Bool())
INJECT = obj(
    sessionKey=req(NON_EMPTY), agentId=NON_EMPTY, message=req(NON_EMPTY), label=Str(max_length=100)
)


def clean_message(text: str) -> str:
    """NFC, no NUL, no other control characters but tab and line breaks (official)."""
    normalized = unicodedata.normalize("NFC", text)
    if "\x00" in normalized:
        raise RpcError("INVALID_REQUEST", "message must not contain null bytes")
    cleaned = _CONTROL.sub("", normalized)
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise RpcError("INVALID_REQUEST", f"message too long (max {MAX_MESSAGE_CHARS} characters)")
    return cleaned


def ack(run: Run, fresh: bool) -> Record:
    if fresh:
        return {"runId": run.run_id, "status": "started"}
    if not run.done.is_set():
        return {"runId": run.run_id, "status": "in_flight"}
    status = run.status if run.status in ("ok", "timeout") else "error"
    return {"runId": run.run_id, "status": status}


async def start_turn(ctx: CallContext, p: Record, origin: str) -> tuple[Run, bool]:
    """Shared by chat.send and agent: validate, then submit (or find the repeated run)."""
    conv = ctx.state.require_conversations()
    key = conv.key(p.get("sessionKey") or "main", p.get("agentId"))
    if p.get("attachments"):
        raise RpcError("INVALID_REQUEST", "attachments are not supported by this gateway yet")
    message = clean_message(p["message"])
    repeated = conv.runs.find(p["idempotencyKey"])
    if repeated is not None:
        return repeated, False
    if not message.strip():
        raise RpcError("INVALID_REQUEST", "message required")
    rec = conv.book.get(str(key))
    if p.get("sessionId") and rec is not None and rec["sessionId"] != p["sessionId"]:
        raise RpcError("INVALID_REQUEST", f'Session "{key}" changed; reload and retry')
    timeout = p.get("timeoutMs") or DEFAULT_TURN_TIMEOUT_MS
    thinking = p.get("thinking") or (rec or {}).get("thinkingLevel")
    model = (rec or {}).get("model")
    if model and (rec or {}).get("modelProvider"):
        model = f"{rec['modelProvider']}/{model}"  # type: ignore[index]
    request = TurnRequest(
        key,
        message,
        p["idempotencyKey"],
        origin=origin,
        thinking=thinking or None,
        model=p.get("model") or model,
        timeout_ms=int(timeout),
        extra={"extraSystemPrompt": p["extraSystemPrompt"]} if p.get("extraSystemPrompt") else {},
    )
    return await conv.runs.submit(request)


@registry.method("chat.send", scope=S.WRITE)
async def send(ctx: CallContext, params: Any) -> Record:
    p = check("chat.send", SEND, params)
    run, fresh = await start_turn(ctx, p, "chat")
    return ack(run, fresh)


@registry.method("chat.abort", scope=S.WRITE)
def abort(ctx: CallContext, params: Any) -> Record:
    p = check("chat.abort", ABORT, params)
    conv = ctx.state.require_conversations()
    key = conv.key(p["sessionKey"], p.get("agentId"))
    run_ids = conv.runs.abort(str(key), p.get("runId"))
    return {"ok": True, "aborted": bool(run_ids), "runIds": run_ids}


@registry.method("chat.inject", scope=S.ADMIN)
def inject(ctx: CallContext, params: Any) -> Record:
    p = check("chat.inject", INJECT, params)
    conv = ctx.state.require_conversations()
    key = conv.key(p["sessionKey"], p.get("agentId"))
    if conv.book.get(str(key)) is None:
        raise RpcError("INVALID_REQUEST", "session not found")
    now = ctx.state.now_ms()
    message = text_message(
        "assistant",
        clean_message(p["message"]),
        now,
        provider="openclaw",
        model="gateway-injected",
        label=p.get("label"),
        stopReason="stop",
    )
    _rec, stored = conv.book.append(key, message, now)
    message_id = stored["__openclaw"]["id"]
    conv.message_added(str(key), stored, "inject")
    ctx.state.broadcast(
        "chat",
        {
            **F.chat_terminal(f"inject-{message_id}", str(key), 0, "final", message=stored),
        },
    )
    return {"ok": True, "messageId": message_id}
