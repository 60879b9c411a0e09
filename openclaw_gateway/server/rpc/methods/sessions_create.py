"""sessions.create (official server-methods/sessions-create.ts): a new session entry, optionally
with its first turn. The official TUI's `/new` calls it with `key: "tui-<uuid>"`.

Without `key` the official builds `agent:<agentId>:dashboard:<uuid>`. An existing key is adopted
(never restamped); the main session is reset in place (`resetExisting`, reason "new"). Fields
that name features this gateway does not have (worktrees, projects, catalogs, forks, exec nodes,
mentions, attachments, incognito) are refused by name rather than accepted and ignored.
"""

from __future__ import annotations

import uuid
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, Bool, Int, Str, obj
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.rpc.methods.chat import start_turn
from openclaw_gateway.server.rpc.methods.sessions import MAX_LABEL_CHARS, THINKING_LEVELS

Record = dict[str, Any]

CREATE = obj(
    key=NON_EMPTY,
    idempotencyKey=NON_EMPTY,
    agentId=NON_EMPTY,
    label=Str(max_length=MAX_LABEL_CHARS),
    displayName=Str(min_length=1, max_length=500),
    model=NON_EMPTY,
    thinkingLevel=NON_EMPTY,
    parentSessionKey=NON_EMPTY,
    emitCommandHooks=Bool(),
    succeedsParent=Bool(),
    timeoutMs=Int(minimum=0),
    task=Str(),
    message=Str(),
)
# Official fields for features this gateway does not have: refused by name.
UNSUPPORTED = (
    "worktree",
    "worktreeSource",
    "worktreeBaseRef",
    "worktreeName",
    "execNode",
    "projectId",
    "catalogId",
    "fork",
    "forkFrom",
    "spawnDepth",
    "mentions",
    "attachments",
    "incognito",
    "visibility",
    "category",
    "agentRuntime",
    "contextWindow",
    "fastMode",
    "permissionMode",
    "toolOverrides",
    "titleSource",
)


def _settings(p: Record) -> Record:
    fields: Record = {}
    for name in ("label", "displayName", "parentSessionKey"):
        if isinstance(p.get(name), str) and p[name].strip():
            fields[name] = p[name].strip()
    if "thinkingLevel" in p:
        level = p["thinkingLevel"].strip().lower()
        if level not in THINKING_LEVELS:
            raise RpcError(
                "INVALID_REQUEST",
                f'invalid thinkingLevel "{p["thinkingLevel"]}" (use {", ".join(THINKING_LEVELS)})',
            )
        fields["thinkingLevel"] = level
    if "model" in p:
        ref = p["model"].strip()
        provider, _, model = ref.partition("/") if "/" in ref else ("", "", ref)
        fields["model"], fields["modelProvider"] = model, provider or None
    return fields


@registry.method("sessions.create", scope=S.WRITE)
async def create(ctx: CallContext, params: Any) -> Record:
    if isinstance(params, dict):
        named = [name for name in UNSUPPORTED if name in params]
        if named:
            raise RpcError(
                "INVALID_REQUEST",
                f"sessions.create: {', '.join(named)} not supported by this gateway",
            )
    p = check("sessions.create", CREATE, params)
    if p.get("succeedsParent") is not None and not p.get("parentSessionKey"):
        raise RpcError("INVALID_REQUEST", "succeedsParent requires parentSessionKey")
    conv = ctx.state.require_conversations()
    agent_id = p.get("agentId") or conv.agents.default_id
    raw_key = p.get("key") or f"agent:{agent_id}:dashboard:{uuid.uuid4()}"
    key = conv.key(raw_key, p.get("agentId"))
    if p.get("parentSessionKey"):
        parent = conv.key(p["parentSessionKey"], p.get("agentId"))
        if conv.book.get(str(parent)) is None:
            raise RpcError("INVALID_REQUEST", f"parent session not found: {parent}")
        p = {**p, "parentSessionKey": str(parent)}
    fields = _settings(p)
    now = ctx.state.now_ms()
    existing = conv.book.get(str(key))
    reset_existing = existing is not None and key.is_main
    if reset_existing:
        conv.runs.abort(str(key))
        rec = conv.book.reset(key, now)
    elif existing is not None:
        rec = existing  # adopting an existing key never restamps it
    else:
        rec, _ = conv.book.ensure(key, now)
        if fields:
            rec = conv.book.patch(key, fields, now)
    result: Record = {"ok": True, "key": rec["key"], "sessionId": rec["sessionId"]}
    message = p.get("message") or p.get("task")
    run_started = False
    run_payload: Record = {}
    if message and message.strip() and not reset_existing:
        turn = {
            "sessionKey": rec["key"],
            "message": message,
            "idempotencyKey": p.get("idempotencyKey") or str(uuid.uuid4()),
        }
        if p.get("timeoutMs"):
            turn["timeoutMs"] = p["timeoutMs"]
        try:
            run, fresh = await start_turn(ctx, turn, "chat")
        except RpcError as exc:
            result["runError"] = {"code": exc.code, "message": exc.message}
        else:
            run_started = fresh
            run_payload = {"runId": run.run_id, "status": "started" if fresh else "in_flight"}
        rec = conv.book.get(rec["key"]) or rec
    defaults = conv.defaults()
    result.update(
        entry=conv.row(rec),
        runStarted=run_started,
        **run_payload,
        resolved={"modelProvider": defaults["modelProvider"], "model": defaults["model"]},
    )
    if fields.get("model"):
        result["resolved"] = {"modelProvider": fields["modelProvider"], "model": fields["model"]}
    conv.session_changed(rec["key"], "new" if reset_existing else "create", rec)
    if run_started:
        conv.session_changed(rec["key"], "send", rec)
    return result
