"""plugin.approval.list, question.list, question.get (official server-methods/
plugin-approval.ts, question.ts): what operator UIs (the TUI, the Control UI) load after
every connect to show pending approvals and agent questions.

Nothing in this gateway asks for a plugin approval or asks the user a question (agents run
on nodes, and no plugin runtime runs here), so both lists are truly empty and no id is ever
known: question.get answers the official not-found error.
"""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check

Record = dict[str, Any]


@registry.method("plugin.approval.list", scope=S.APPROVALS)
def plugin_approval_list(ctx: CallContext, params: Any) -> list[Record]:
    return []  # the official ignores the params here: no pending plugin approval exists


@registry.method("question.list", scope=S.QUESTIONS)
def question_list(ctx: CallContext, params: Any) -> Record:
    check("question.list", obj(), params)
    return {"questions": []}


@registry.method("question.get", scope=S.QUESTIONS)
def question_get(ctx: CallContext, params: Any) -> Record:
    p = check("question.get", obj(id=req(NON_EMPTY)), params)
    raise RpcError(
        "INVALID_REQUEST",
        f"question '{p['id']}' was not found",
        details={"reason": "QUESTION_NOT_FOUND"},
    )
