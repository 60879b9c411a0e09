"""An approved node surface survives a real gateway process restart (it is persisted with
the pairing record); pending capability requests are not needed for that."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import trio

from tests.devicekit import SigningDevice
from tests.helpers import ws_client
from tests.server.integration.support import free_port, wait_http_ok
from tests.server.integration.test_cli_subprocess import (
    CLI_TOKEN,
    START_BOUND,
    STOP_BOUND,
    Home,
    launch,
)
from tests.server.nodes.support import node_params

ADMIN = {"scopes": ["operator.admin"], "auth": {"token": CLI_TOKEN}}


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home", tmp_path / "gw.log")
    home.state_dir.mkdir(parents=True)
    config = {"gateway": {"mode": "local"}, "logging": {"file": str(home.log_file)}}
    (home.state_dir / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    return home


async def test_node_approval_survives_a_restart(nursery: trio.Nursery, tmp_path: Path) -> None:
    home, dev = _home(tmp_path), SigningDevice(b"node-restart")
    port = free_port()
    node_connect = {**node_params(dev, ["echo"]), "auth": {"token": CLI_TOKEN}}
    async with launch(home, port, "first") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with ws_client(nursery, port) as op:
                assert (await op.connect(**ADMIN))["ok"]
                async with ws_client(nursery, port) as node:
                    assert (await node.connect(**node_connect))["ok"]
                    ev = await op.next_event("node.pair.requested")
                    res = await op.call(
                        "node.pair.approve", {"requestId": ev["payload"]["requestId"]}
                    )
                    assert res["ok"], res
            gw.process.send_signal(signal.SIGTERM)
            assert await gw.process.wait() == 0, gw.output()
    async with launch(home, port, "second") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with ws_client(nursery, port) as op:
                assert (await op.connect(**ADMIN))["ok"]
                listed = (await op.call("node.list"))["payload"]["nodes"]
                assert [(n["nodeId"], n["connected"], n["commands"]) for n in listed] == [
                    (dev.id, False, ["echo"])
                ]
                async with ws_client(nursery, port) as node:
                    assert (await node.connect(**node_connect))["ok"]
                    desc = (await op.call("node.describe", {"nodeId": dev.id}))["payload"]
                    assert desc["approvalState"] == "approved"
                    assert desc["commands"] == ["echo"] and desc["connected"] is True
                    assert (await op.call("node.pair.list"))["payload"]["pending"] == []
            gw.process.send_signal(signal.SIGTERM)
            await gw.process.wait()
