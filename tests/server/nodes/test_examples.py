"""The two runnable examples, driven for real: the agent answers a cron agentTurn job, and
the terminal bridge's lines are answered by that agent and printed."""

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


async def test_bridge_example_is_answered_by_the_agent_example(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    """A terminal line goes bridge -> agent (the echo agent example) -> bridge, printed; a
    reader sees the message relayed and the conversation in its session."""
    module = load("bridge_node")
    printed: list[str] = []
    answered = trio.Event()

    def out(line: str) -> None:
        printed.append(line)
        answered.set()

    bridge = module.build(gateway.url, TOKEN, tmp_path / "bridge", out=out)
    agent = load("agent_node").build(gateway.url, TOKEN, tmp_path / "agent")
    with trio.fail_after(20):
        async with (
            operator_client(gateway.port, ["operator.read"]) as reader,
            operator_client(gateway.port, ADMIN) as op,
            agent.running(),
        ):
            await _approve_next(op)
            async with bridge.running():
                await _approve_next(op)
                sent = await module.relay_lines(bridge, io.StringIO("first line\n\n"), "alice")
                assert sent == 1
                got = await reader.next_event("node.event")
                assert got["payload"]["event"] == "channel.message"
                assert got["payload"]["payload"]["text"] == "first line"
                await answered.wait()
    assert printed == ["agent: enil tsrif (reversed by echo-agent)"]
