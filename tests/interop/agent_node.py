"""A real SDK agent node process (client.agent.AgentNode) on OUR gateway, with its agent.turn
command approved through the official CLI (`gateway call node.pair.list`, `nodes approve`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.interop.conftest import GatewayProcess, OfficialCli

APPROVE_WAIT_S = 40.0
STOP_TIMEOUT_S = 10.0

# argv: url token identity-dir; the turn handler's body follows (indented 4 spaces).
PRELUDE = """
import pathlib, sys, trio
from openclaw_gateway.client.agent import AgentNode
from openclaw_gateway.client.identity import IdentityStore

node = AgentNode(sys.argv[1], token=sys.argv[2], device_store=IdentityStore(pathlib.Path(sys.argv[3])),
                 display_name=sys.argv[4], reconnect=False)

@node.turn
async def reply(turn):
"""
EPILOGUE = "\ntrio.run(node.serve)\n"


@contextmanager
def approved_agent_node(
    gw: GatewayProcess, cli: OfficialCli, workdir: Path, handler_body: str, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the agent node, approve its pending agent.turn request, stop it at the end."""
    script = workdir / f"{name}.py"
    script.write_text(PRELUDE + handler_body + EPILOGUE, encoding="utf-8")
    log = (workdir / f"{name}.log").open("wb")
    argv = [sys.executable, str(script), gw.url, gw.token, str(workdir / f"{name}-id"), name]
    agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + APPROVE_WAIT_S
        pending: list[dict[str, object]] = []
        while time.monotonic() < deadline and not pending:
            assert agent.poll() is None, (workdir / f"{name}.log").read_text()
            res = cli.run(
                "gateway", "call", "node.pair.list", "--json",
                "--url", gw.url, "--token", gw.token,
            )  # fmt: skip
            assert res.returncode == 0, res.describe()
            pending = [p for p in res.json()["pending"] if p.get("displayName") == name]
            if not pending:
                time.sleep(0.3)
        assert pending, gw.output()
        res = cli.run(
            "nodes", "approve", str(pending[0]["requestId"]), "--json",
            "--url", gw.url, "--token", gw.token,
        )  # fmt: skip
        assert res.returncode == 0, res.describe()
        yield agent
    finally:
        agent.terminate()
        try:
            agent.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(STOP_TIMEOUT_S)
        log.close()
