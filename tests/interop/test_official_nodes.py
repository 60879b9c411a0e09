"""The official node host (npm openclaw 2026.9.6) against OUR node.* methods: it connects and
declares its commands, which stay a pending capability request until `nodes approve`;
the official `nodes status` / `nodes describe` list it, and `nodes invoke system.which`
round-trips through our gateway to the node host and back (protocol.md §6.8)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import GatewayProcess, OfficialCli
from tests.interop.test_official_devices import _node_host, _stop

pytestmark = pytest.mark.interop
WAIT_S = 40.0


def _call(cli: OfficialCli, gw: GatewayProcess, method: str, params: str = "{}") -> Any:
    res = cli.run(
        "gateway", "call", method, "--json", "--params", params,
        "--url", gw.url, "--token", gw.token,
    )  # fmt: skip
    assert res.returncode == 0, res.describe()
    return res.json()


def _nodes(cli: OfficialCli, gw: GatewayProcess, *args: str) -> Any:
    res = cli.run("nodes", *args, "--json", "--url", gw.url, "--token", gw.token)
    assert res.returncode == 0, res.describe()
    return res.json()


def test_official_node_host_is_paired_listed_and_invoked(
    official_path: str, gateway_proc: GatewayProcess, official_cli: OfficialCli, tmp_path: Path
) -> None:
    home = tmp_path / "node-home"
    home.mkdir()
    node = _node_host(official_path, home, gateway_proc.port, gateway_proc.token)
    try:
        deadline = time.monotonic() + WAIT_S
        pending: list[Any] = []
        while time.monotonic() < deadline and not pending:
            pending = _call(official_cli, gateway_proc, "node.pair.list")["pending"]
            if not pending:
                time.sleep(0.5)
        assert pending, gateway_proc.output()
        request = pending[0]
        assert "system.which" in request["commands"]
        node_id = request["nodeId"]
        # `gateway call` asks for the least-privilege operator.pairing only; approving
        # exec-class commands (system.which, system.run) needs operator.admin, which the
        # official `nodes approve` requests after reading the pending request.
        approved = _nodes(official_cli, gateway_proc, "approve", request["requestId"])
        assert "system.which" in approved["node"]["commands"]

        status = _nodes(official_cli, gateway_proc, "status")
        rows = [n for n in status["nodes"] if n["nodeId"] == node_id]
        assert rows and rows[0]["connected"] is True and rows[0]["paired"] is True
        described = _nodes(official_cli, gateway_proc, "describe", "--node", node_id)
        assert "system.which" in described["commands"]

        res = official_cli.run(
            "nodes", "invoke", "--node", node_id, "--command", "system.which",
            "--params", '{"bins":["sh"]}', "--json", "--url", gateway_proc.url,
            "--token", gateway_proc.token,
        )  # fmt: skip
        assert res.returncode == 0, res.describe() + gateway_proc.output()
        out = res.json()
        assert isinstance(out, dict)
        assert out["ok"] is True and out["command"] == "system.which"
        assert "sh" in str(out["payload"])
    finally:
        _stop(node)
