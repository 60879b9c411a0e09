"""commands.list (official server-methods/commands.ts): the chat commands the gateway itself
understands in a message, for UIs' slash-command completion.

This gateway runs no agent runtime, skills or plugins, so it interprets no chat command: a
message like `/status` goes to the agent node as text. The catalog is therefore empty, after
the same checks as the official (known agent, existing session).
"""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, Bool, Enum, obj
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check

Record = dict[str, Any]

LIST = obj(
    sessionKey=NON_EMPTY,
    agentId=NON_EMPTY,
    provider=NON_EMPTY,
    scope=Enum(("text", "native", "both")),
    includeArgs=Bool(),
)


@registry.method("commands.list", scope=S.READ)
def commands_list(ctx: CallContext, params: Any) -> Record:
    p = check("commands.list", LIST, params)
    conv = ctx.state.require_conversations()
    agent_id = p.get("agentId", "").strip() or conv.agents.default_id
    if conv.agents.get(agent_id) is None:
        raise RpcError("INVALID_REQUEST", f'unknown agent id "{p["agentId"]}"')
    if "sessionKey" in p and conv.book.get(str(conv.key(p["sessionKey"], agent_id))) is None:
        raise RpcError("INVALID_REQUEST", "Session not found.")
    return {"commands": []}
