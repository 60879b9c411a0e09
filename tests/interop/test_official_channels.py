"""The official `openclaw channels status` and `openclaw cron` commands against OUR gateway
with a real SDK bridge connected (a subprocess): the bridge's channel is listed, and cron
jobs with announce / webhook delivery show their delivery settings, without errors."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import GatewayProcess, OfficialCli
from tests.interop.test_official_nodes import _call, _nodes

pytestmark = pytest.mark.interop
WAIT_S = 40.0

BRIDGE_SCRIPT = """
import sys, pathlib, trio
from openclaw_gateway.client.bridge import BridgeNode
from openclaw_gateway.client.identity import IdentityStore

bridge = BridgeNode(sys.argv[1], token=sys.argv[2], channels=("terminal",),
                    device_store=IdentityStore(pathlib.Path(sys.argv[3])),
                    display_name="interop-terminal")
bridge.on_send(lambda msg: print("send:", msg.to, msg.text, flush=True))
trio.run(bridge.serve)
"""


@pytest.fixture
def bridge_proc(gateway_proc: GatewayProcess, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    script = tmp_path / "bridge.py"
    script.write_text(BRIDGE_SCRIPT, encoding="utf-8")
    argv = [sys.executable, str(script), gateway_proc.url, gateway_proc.token, str(tmp_path / "id")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _approve_bridge(cli: OfficialCli, gw: GatewayProcess) -> str:
    deadline = time.monotonic() + WAIT_S
    pending: list[Any] = []
    while time.monotonic() < deadline and not pending:
        pending = [
            p
            for p in _call(cli, gw, "node.pair.list")["pending"]
            if "channel.send" in p["commands"]
        ]
        if not pending:
            time.sleep(0.3)
    assert pending, gw.output()
    _nodes(cli, gw, "approve", pending[0]["requestId"])
    return str(pending[0]["nodeId"])


def test_official_channels_status_lists_the_bridge(
    official_cli: OfficialCli, gateway_proc: GatewayProcess, bridge_proc: subprocess.Popen[bytes]
) -> None:
    node_id = _approve_bridge(official_cli, gateway_proc)
    env = {"OPENCLAW_GATEWAY_TOKEN": gateway_proc.token}
    res = official_cli.run("channels", "status", "--json", env=env)
    assert res.returncode == 0, res.describe()
    body = res.json()
    assert isinstance(body, dict)
    account = body["channelAccounts"]["terminal"][0]
    assert account["accountId"] == "default"
    assert account["connected"] is True and account["running"] is True
    assert account["bridgeNodeId"] == node_id
    plain = official_cli.run("channels", "status", env=env)
    assert plain.returncode == 0, plain.describe()
    assert "Gateway reachable." in plain.stdout
    assert "terminal" in plain.stdout and "connected" in plain.stdout, plain.describe()
    assert "error" not in (plain.stdout + plain.stderr).lower(), plain.describe()


def test_official_cron_shows_the_delivery_settings(
    official_cli: OfficialCli, gateway_proc: GatewayProcess
) -> None:
    common = ("--url", gateway_proc.url, "--token", gateway_proc.token)
    announce = official_cli.run(
        "cron", "add", "--name", "announce-interop", "--every", "1h",
        "--message", "report", "--announce", "--channel", "terminal", "--to", "alice",
        "--best-effort-deliver", "--json", *common,
    )  # fmt: skip
    assert announce.returncode == 0, announce.describe()
    webhook = official_cli.run(
        "cron", "add", "--name", "webhook-interop", "--every", "1h",
        "--message", "report", "--webhook", "https://example.invalid/hook", "--json", *common,
    )  # fmt: skip
    assert webhook.returncode == 0, webhook.describe()
    listed = official_cli.run("cron", "list", "--json", *common)
    assert listed.returncode == 0, listed.describe()
    body = listed.json()
    assert isinstance(body, dict)
    jobs = {job["name"]: job for job in body["jobs"]}
    assert jobs["announce-interop"]["delivery"] == {
        "mode": "announce",
        "channel": "terminal",
        "to": "alice",
        "bestEffort": True,
    }
    assert jobs["webhook-interop"]["delivery"]["mode"] == "webhook"
    assert jobs["webhook-interop"]["delivery"]["to"] == "https://example.invalid/hook"
    plain = official_cli.run("cron", "list", *common)
    assert plain.returncode == 0, plain.describe()
    assert "announce-interop" in plain.stdout and "webhook-interop" in plain.stdout
    for job in jobs.values():
        removed = official_cli.run("cron", "rm", job["id"], "--json", *common)
        assert removed.returncode == 0, removed.describe()
