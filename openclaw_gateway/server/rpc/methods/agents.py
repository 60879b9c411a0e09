"""agents.list, agent.identity.get, models.list, and `agent` / `agent.wait` as
`openclaw agent --message` uses them (official server-methods/agent*.ts, models.ts).

`agent` answers twice on one request id, as the official does: first
{runId, status:"accepted", sessionKey, agentId, acceptedAt}, then, when the turn ended,
{runId, status: ok|error|timeout, summary, result:{payloads:[{text}], meta}}. A repeated
idempotencyKey answers {runId, status:"in_flight"} while the first one runs.
"""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.schema import NON_EMPTY, Bool, Int, Str, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.rpc.methods.chat import start_turn
from openclaw_gateway.server.rpc.registry import missing_scope
from openclaw_gateway.server.runs.agents import declared_models
from openclaw_gateway.server.runs.run import Run

Record = dict[str, Any]
DEFAULT_WAIT_MS = 30_000
RESET_COMMANDS = ("/new", "/reset")

AGENT = obj(
    message=req(NON_EMPTY),
    agentId=NON_EMPTY,
    provider=Str(),
    model=Str(),
    sessionId=Str(),
    sessionKey=Str(),
    thinking=Str(),
    deliver=Bool(),
    timeout=Int(minimum=0),
    extraSystemPrompt=Str(),
    idempotencyKey=req(NON_EMPTY),
)
WAIT = obj(runId=req(NON_EMPTY), timeoutMs=Int(minimum=0))
IDENTITY = obj(agentId=NON_EMPTY, sessionKey=Str())


@registry.method("agents.list", scope=S.READ)
def agents_list(ctx: CallContext, params: Any) -> Record:
    check("agents.list", obj(), params)
    conv = ctx.state.require_conversations()
    agents = []
    for agent in conv.agents.agents:
        entry: Record = {"id": agent.id}
        if agent.name:
            entry["name"] = agent.name
        if agent.identity:
            entry["identity"] = {
                k: v for k, v in agent.identity.items() if isinstance(v, str) and v.strip()
            }
        model = conv.agents.serving_model(agent.id, ctx.state.nodes.sessions.values())
        if model:
            entry["model"] = {"primary": model}
        agents.append(entry)
    return {
        "defaultId": conv.agents.default_id,
        "mainKey": "main",
        "scope": "per-sender",
        "agents": agents,
    }


@registry.method("agent.identity.get", scope=S.READ)
def identity(ctx: CallContext, params: Any) -> Record:
    p = check("agent.identity.get", IDENTITY, params)
    conv = ctx.state.require_conversations()
    if p.get("sessionKey"):
        agent_id = conv.key(p["sessionKey"], p.get("agentId")).agent_id
    else:
        agent_id = conv.key("main", p.get("agentId")).agent_id
    agent = conv.agents.get(agent_id)
    out: Record = {"agentId": agent_id}
    if agent is not None and agent.name:
        out |= {"name": agent.name, "nameSource": "config"}
    else:
        node = conv.agents.node_for(agent_id, ctx.state.nodes.sessions.values())
        if node is not None and node.display_name:
            out |= {"name": node.display_name, "nameSource": "agent"}
    ident = agent.identity if agent is not None else {}
    for name in ("emoji", "avatar"):
        if isinstance(ident.get(name), str) and ident[name].strip():
            out[name] = ident[name].strip()
    return out


@registry.method("models.list", scope=S.READ)
def models_list(ctx: CallContext, params: Any) -> Record:
    check("models.list", obj(closed=False), params)
    return {"models": declared_models(ctx.state.nodes.sessions.values())}


def final_response(run: Run) -> Record:
    status = run.status if run.status in ("ok", "timeout") else "error"
    summary = {"ok": "completed", "timeout": "aborted"}.get(status) or (run.error or "aborted")
    duration = (run.ended_at or 0) - (run.started_at or run.ended_at or 0)
    result: Record = {
        "payloads": [{"text": run.text}] if run.text else [],
        "meta": {"durationMs": max(0, duration), "aborted": run.status == "aborted"},
    }
    out: Record = {"runId": run.run_id, "status": status, "summary": summary, "result": result}
    if status != "ok":
        out["stopReason"] = run.status
    return out


@registry.method("agent", scope=S.WRITE)
async def agent(ctx: CallContext, params: Any) -> Record:
    p = check("agent", AGENT, params)
    if p["message"].strip().split(" ")[0].lower() in RESET_COMMANDS and not ctx.is_admin:
        raise missing_scope(S.ADMIN)
    if p.get("deliver") is True:
        raise RpcError(
            "INVALID_REQUEST", "deliver needs a channel; this gateway has no channels yet"
        )
    turn = dict(p)
    if p.get("timeout"):
        turn["timeoutMs"] = int(p["timeout"]) * 1000
    if p.get("provider") and p.get("model"):
        turn["model"] = f"{p['provider']}/{p['model']}"
    run, fresh = await start_turn(ctx, turn, "agent")
    if not fresh and not run.done.is_set():
        return {"runId": run.run_id, "status": "in_flight"}
    if fresh and ctx.request_id is not None:
        accepted = {
            "runId": run.run_id,
            "status": "accepted",
            "sessionKey": run.session_key,
            "agentId": run.request.key.agent_id,
            "acceptedAt": run.accepted_at,
        }
        ctx.state.send_to(ctx.caller.conn_id, codec.response(ctx.request_id, accepted))
    await run.done.wait()
    return final_response(run)


@registry.method("agent.wait", scope=S.WRITE)
async def agent_wait(ctx: CallContext, params: Any) -> Record:
    p = check("agent.wait", WAIT, params)
    conv = ctx.state.require_conversations()
    timeout_ms = p.get("timeoutMs", DEFAULT_WAIT_MS)
    run = await conv.runs.wait_for(p["runId"], timeout_ms / 1000)
    if run is None:
        return {"runId": p["runId"], "status": "timeout"}
    out: Record = {"runId": run.run_id, "status": "ok" if run.status == "ok" else "error"}
    if run.status == "timeout":
        out["status"] = "timeout"
    for name, value in (("startedAt", run.started_at), ("endedAt", run.ended_at)):
        if value is not None:
            out[name] = value
    if run.status not in ("ok", "timeout"):
        out["error"] = run.error or run.status
    return out
