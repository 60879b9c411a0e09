"""An agent node: answers `agent.turn` (what cron `agentTurn` jobs send) with a deterministic
reply, to show the contract. A real agent would call a model here.

    python examples/agent_node.py ws://127.0.0.1:18789 <gateway-token>

Approve its commands once (`openclaw nodes pending`, `openclaw nodes approve <requestId>`),
then add a job: `openclaw gateway call cron.add --params '{"name":"t","schedule":{"kind":
"every","everyMs":60000},"payload":{"kind":"agentTurn","message":"hello"}}'`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.client import NodeHost
from openclaw_gateway.client.identity import IdentityStore


def build(url: str, token: str | None, state: Path = Path(".agent-node")) -> NodeHost:
    node = NodeHost(url, token=token, device_store=IdentityStore(state), display_name="echo-agent")

    @node.command("agent.turn")
    def agent_turn(params: Any) -> dict[str, Any]:
        message = str((params or {}).get("message", ""))
        return {"text": f"{message[::-1]} (reversed by echo-agent)"}

    return node


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:18789"
    token = sys.argv[2] if len(sys.argv) > 2 else None
    trio.run(build(url, token).serve)
