"""`GET /v1/models` and `/v1/models/{id}` (official models-http.ts): the agent targets
`openclaw`, `openclaw/default` and `openclaw/<agentId>` (never backend models), operator.read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.http.messages import HttpRequest, Response, json_response
from openclaw_gateway.server.http.router import RequestContext, Route
from openclaw_gateway.server.openai import replies
from openclaw_gateway.server.openai.http_auth import HttpGate
from openclaw_gateway.server.openai.turns import agent_from_model, is_agent_model_id
from openclaw_gateway.server.runs.service import Conversations

PREFIX = "/v1/models"


def model_card(model_id: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": "openclaw",
        "permission": [],
    }


def model_ids(conv: Conversations) -> list[str]:
    ids = ["openclaw", "openclaw/default"]
    ids += [
        f"openclaw/{agent_id}"
        for agent_id in conv.agents.ids()
        if f"openclaw/{agent_id}" not in ids
    ]
    return ids


def models_route(gate: HttpGate, conversations: Callable[[], Conversations]) -> Route:
    async def route(request: HttpRequest, ctx: RequestContext) -> Response | None:
        path = request.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        if request.method != "GET":
            return replies.method_not_allowed("GET")
        refused = gate.check(request, ctx, S.READ)
        if refused is not None:
            return refused
        conv = conversations()
        ids = model_ids(conv)
        if path == PREFIX:
            return json_response(200, {"object": "list", "data": [model_card(i) for i in ids]})
        encoded = path[len(PREFIX) + 1 :]
        if not encoded:
            return replies.invalid_request("Missing model id.")
        try:
            wanted = unquote(encoded, errors="strict")
        except UnicodeDecodeError:
            return replies.invalid_request("Invalid model id encoding.")
        if not is_agent_model_id(wanted):
            return replies.invalid_request("Invalid model id.")
        agent_id = agent_from_model(wanted, conv.agents.default_id)
        if wanted not in ids or agent_id is None or conv.agents.get(agent_id) is None:
            return replies.error(404, f"Model '{wanted}' not found.", "invalid_request_error")
        return json_response(200, model_card(wanted))

    return route
