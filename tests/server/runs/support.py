"""A real SDK agent node (client.agent.AgentNode) approved on a test gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from openclaw_gateway.client.agent import AgentNode, TurnHandler
from openclaw_gateway.client.identity import IdentityStore
from tests.helpers import TOKEN, RawClient


@asynccontextmanager
async def approved_agent(
    url: str, op: RawClient, state: Path, handler: TurnHandler, **kwargs: Any
) -> AsyncIterator[AgentNode]:
    """Connected, with agent.turn approved by `op` (an operator.admin client)."""
    node = AgentNode(
        url,
        token=kwargs.pop("token", TOKEN),
        device_store=IdentityStore(state),
        display_name=kwargs.pop("display_name", "test-agent"),
        reconnect=False,
        **kwargs,
    )
    node.turn(handler)
    async with node.running():
        ev = await op.next_event("node.pair.requested")
        res = await op.call("node.pair.approve", {"requestId": ev["payload"]["requestId"]})
        assert res["ok"], res
        yield node


async def chat_until_terminal(client: RawClient, run_id: str) -> list[dict[str, Any]]:
    """This run's `chat` payloads, up to and including the terminal one."""
    seen = []
    while True:
        ev = await client.next_event("chat")
        if ev["payload"]["runId"] != run_id:
            continue
        seen.append(ev["payload"])
        if ev["payload"]["state"] != "delta":
            return seen


def send_params(message: str, key: str, session: str = "main") -> dict[str, Any]:
    return {"sessionKey": session, "message": message, "idempotencyKey": key}
