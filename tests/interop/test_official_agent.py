"""The official `openclaw agent --message … --json` (npm openclaw 2026.9.6) against OUR
gateway, answered by a real SDK agent node process: accepted, then the agent's reply."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.agent_node import approved_agent_node
from tests.interop.conftest import GatewayProcess, OfficialCli

pytestmark = pytest.mark.interop
HANDLER = """
    for word in ("pong:", turn.message):
        yield word + " "
"""


def test_official_agent_command_gets_the_agent_nodes_reply(
    gateway_proc: GatewayProcess, official_cli: OfficialCli, tmp_path: Path
) -> None:
    with approved_agent_node(gateway_proc, official_cli, tmp_path, HANDLER, "interop-agent"):
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
