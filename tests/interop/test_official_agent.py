"""The official `openclaw agent --message … --json` (npm openclaw 2026.9.6) against OUR
gateway, answered by a real SDK agent node process: accepted, then the agent's reply."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.interop.conftest import GatewayProcess, OfficialCli

pytestmark = pytest.mark.interop
WAIT_S = 40.0
AGENT = """
import pathlib, sys, trio
from openclaw_gateway.client.agent import AgentNode
from openclaw_gateway.client.identity import IdentityStore

node = AgentNode(sys.argv[1], token=sys.argv[2], device_store=IdentityStore(pathlib.Path(sys.argv[3])),
                 display_name="interop-agent", reconnect=False)

@node.turn
async def reply(turn):
    for word in ("pong:", turn.message):
        yield word + " "

trio.run(node.serve)
"""


def test_official_agent_command_gets_the_agent_nodes_reply(
    gateway_proc: GatewayProcess, official_cli: OfficialCli, tmp_path: Path
) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT, encoding="utf-8")
    argv = [sys.executable, str(script), gateway_proc.url, gateway_proc.token, str(tmp_path / "id")]
    agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + WAIT_S
        pending: list[dict[str, object]] = []
        while time.monotonic() < deadline and not pending:
            res = official_cli.run(
                "gateway", "call", "node.pair.list", "--json",
                "--url", gateway_proc.url, "--token", gateway_proc.token,
            )  # fmt: skip
            assert res.returncode == 0, res.describe()
            pending = [p for p in res.json()["pending"] if p.get("displayName") == "interop-agent"]
            if not pending:
                time.sleep(0.3)
        assert pending, gateway_proc.output()
        res = official_cli.run(
            "nodes", "approve", str(pending[0]["requestId"]), "--json",
            "--url", gateway_proc.url, "--token", gateway_proc.token,
        )  # fmt: skip
        assert res.returncode == 0, res.describe()
        target = {
            "OPENCLAW_GATEWAY_URL": gateway_proc.url,
            "OPENCLAW_GATEWAY_TOKEN": gateway_proc.token,
        }
        res = official_cli.run(
            "agent", "--agent", "main", "--message", "ping", "--json", env=target
        )
        assert res.returncode == 0, res.describe() + gateway_proc.output()
        out = res.json()
        assert out["status"] == "ok"
        assert out["result"]["payloads"] == [{"text": "pong: ping "}]
    finally:
        agent.terminate()
        agent.wait(10)
