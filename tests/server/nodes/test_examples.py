"""The two runnable examples, driven for real: the agent answers a cron agentTurn job, and the
bridge's stdin lines reach a subscribed operator while `channel.send` invokes are printed."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import trio

from tests.helpers import TOKEN, RunningGateway
from tests.server.nodes.support import operator_client

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ADMIN = ["operator.admin"]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def _approve_next(op: object) -> None:
    ev = await op.next_event("node.pair.requested")  # type: ignore[attr-defined]
    res = await op.call("node.pair.approve", {"requestId": ev["payload"]["requestId"]})  # type: ignore[attr-defined]
    assert res["ok"], res


async def test_agent_example_answers_a_cron_agent_turn(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    agent = load("agent_node").build(gateway.url, TOKEN, tmp_path / "agent")
    with trio.fail_after(20):
        async with operator_client(gateway.port, ADMIN) as op, agent.running():
            await _approve_next(op)
            job = (
                await op.call(
                    "cron.add",
                    {
                        "name": "ask",
                        "schedule": {"kind": "every", "everyMs": 3_600_000},
                        "payload": {"kind": "agentTurn", "message": "hello"},
                        "delivery": {"mode": "none"},
                    },
                )
            )["payload"]
            assert (await op.call("cron.run", {"id": job["id"]}))["ok"]
            while True:
                ev = await op.next_event("cron")
                if ev["payload"]["action"] == "finished":
                    break
            assert ev["payload"]["status"] == "ok"
            assert ev["payload"]["summary"] == "olleh (reversed by echo-agent)"


async def test_bridge_example_relays_lines_and_prints_sends(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    module = load("bridge_node")
    printed: list[str] = []
    bridge = module.build(gateway.url, TOKEN, tmp_path / "bridge", out=printed.append)
    with trio.fail_after(20):
        async with (
            operator_client(gateway.port, ["operator.read"]) as reader,
            operator_client(gateway.port, ADMIN) as op,
            bridge.running(),
        ):
            await _approve_next(op)
            sent = await module.relay_lines(bridge, io.StringIO("first line\nsecond line\n"))
            assert sent == 2
            got = [await reader.next_event("node.event") for _ in range(2)]
            assert [g["payload"]["payload"]["text"] for g in got] == ["first line", "second line"]
            assert {g["payload"]["event"] for g in got} == {"channel.message"}
            node_id = got[0]["payload"]["nodeId"]
            res = await op.call(
                "node.invoke",
                {
                    "nodeId": node_id,
                    "command": "channel.send",
                    "params": {"text": "hi there"},
                    "idempotencyKey": "send-1",
                    "timeoutMs": 5000,
                },
            )
            assert res["ok"], res
            assert res["payload"]["payload"] == {"delivered": True}
            assert printed == ["send: hi there"]
