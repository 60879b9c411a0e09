"""`openclaw gateway call agent --expect-final --json`: the real CLI (a subprocess, argv
parsing included) against an in-process gateway with a real SDK agent node prints the final
answer; without the flag it prints the `accepted` acknowledgment."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.client.agent import Turn
from tests.cli.support import base_env, cli
from tests.helpers import TOKEN, RunningGateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent


async def _echo(turn: Turn) -> AsyncIterator[str]:
    yield f"you said: {turn.message}"


async def test_call_agent_expect_final_json(gateway: RunningGateway, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = base_env(home)

    async def call_agent(key: str, *flags: str) -> Any:
        params = json.dumps({"message": "status?", "agentId": "main", "idempotencyKey": key})
        argv = ["gateway", "call", "agent", "--url", gateway.url, "--token", TOKEN]
        argv += ["--params", params, "--timeout", "20000", "--json", *flags]
        done = await trio.to_thread.run_sync(lambda: cli(env, *argv, timeout=40))
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    with trio.fail_after(60):
        async with (
            operator_client(gateway.port, ["operator.admin"]) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", _echo),
        ):
            final = await call_agent("cli-ef-1", "--expect-final")
            assert final["runId"] == "cli-ef-1" and final["status"] == "ok"
            assert final["result"]["payloads"] == [{"text": "you said: status?"}]
            accepted = await call_agent("cli-ef-2")
            assert accepted["runId"] == "cli-ef-2" and accepted["status"] == "accepted"
