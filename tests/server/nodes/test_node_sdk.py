"""The Python node SDK (client.NodeHost) against the real gateway: declare, get approved,
answer invokes (sync and async handlers, failures as node errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from openclaw_gateway.client import NodeHost
from openclaw_gateway.client.identity import IdentityStore
from tests.helpers import TOKEN, RunningGateway
from tests.server.nodes.support import operator_client


async def test_node_host_answers_invokes(gateway: RunningGateway, tmp_path: Path) -> None:
    node = NodeHost(
        gateway.url,
        token=TOKEN,
        device_store=IdentityStore(tmp_path / "node"),
        display_name="py-node",
        reconnect=False,
    )

    @node.command("agent.turn")
    async def turn(params: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return {"text": f"hello {params['name']}"}

    @node.command("boom")
    def boom(params: Any) -> Any:
        raise RuntimeError("nope")

    with pytest.raises(ValueError, match="twice"):
        node.command("boom")(boom)

    async with operator_client(gateway.port, ["operator.admin"]) as op:
        with trio.fail_after(10):
            async with node.running():
                ev = await op.next_event("node.pair.requested")
                assert ev["payload"]["commands"] == ["agent.turn", "boom"]
                assert ev["payload"]["displayName"] == "py-node"
                node_id = ev["payload"]["nodeId"]
                res = await op.call("node.pair.approve", {"requestId": ev["payload"]["requestId"]})
                assert res["ok"], res
                res = await op.call(
                    "node.invoke",
                    {
                        "nodeId": node_id,
                        "command": "agent.turn",
                        "params": {"name": "you"},
                        "idempotencyKey": "sdk-1",
                    },
                )
                assert res["payload"]["payload"] == {"text": "hello you"}
                res = await op.call(
                    "node.invoke", {"nodeId": node_id, "command": "boom", "idempotencyKey": "sdk-2"}
                )
                assert res["error"]["message"] == "COMMAND_FAILED: nope"
