"""Pairing and device tokens survive a real gateway process: a clean restart, and a `kill -9`
right after an approval was acknowledged (the change is committed before the answer)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import trio

from tests.devicekit import SigningDevice
from tests.helpers import ws_client
from tests.security.support import APP_CLIENT, CLI_CLIENT, refused, remote_client, send_connect
from tests.server.integration.support import free_port, wait_http_ok, ws_connected
from tests.server.integration.test_cli_subprocess import (
    CLI_TOKEN,
    START_BOUND,
    STOP_BOUND,
    Home,
    launch,
)


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home", tmp_path / "gw.log")
    home.state_dir.mkdir(parents=True)
    config = {
        # 127.0.0.1 as a trusted proxy lets the test present a remote peer (X-Forwarded-For).
        "gateway": {"mode": "local", "trustedProxies": ["127.0.0.1"]},
        "logging": {"file": str(home.log_file)},
    }
    (home.state_dir / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    return home


def _admin() -> dict[str, Any]:
    return {"client": CLI_CLIENT, "scopes": ["operator.admin"], "auth": {"token": CLI_TOKEN}}


async def test_pairing_and_token_survive_a_restart(nursery: trio.Nursery, tmp_path: Path) -> None:
    home, dev = _home(tmp_path), SigningDevice(b"restart")
    port = free_port()
    async with launch(home, port, "first") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with ws_client(nursery, port) as client:
                frame = await send_connect(
                    client, dev, client=CLI_CLIENT, auth={"token": CLI_TOKEN}
                )
                assert frame["ok"], frame
            token = frame["payload"]["auth"]["deviceToken"]
            gw.process.send_signal(signal.SIGTERM)
            assert await gw.process.wait() == 0, gw.output()
    async with launch(home, port, "second") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with remote_client(nursery, port) as client:
                frame = await send_connect(
                    client, dev, client=CLI_CLIENT, auth={"deviceToken": token}
                )
                assert frame["ok"], frame
                assert frame["payload"]["auth"]["method"] == "device-token"
                assert frame["payload"]["auth"]["deviceToken"] == token
            gw.process.send_signal(signal.SIGTERM)
            await gw.process.wait()


async def test_kill_9_after_an_acknowledged_approval_loses_nothing(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    home, dev = _home(tmp_path), SigningDevice(b"kill-9")
    port = free_port()
    async with launch(home, port, "first") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with remote_client(nursery, port) as client:
                frame = await send_connect(
                    client, dev, client=APP_CLIENT, auth={"token": CLI_TOKEN}
                )
                error, _ = await refused(client, frame)
            assert error["code"] == "NOT_PAIRED"
            async with ws_connected(nursery, port, **_admin()) as admin:
                res = await admin.call(
                    "device.pair.approve", {"requestId": error["details"]["requestId"]}
                )
                assert res["ok"], res
                gw.process.kill()  # SIGKILL the moment the approval was acknowledged
            await gw.process.wait()
    async with launch(home, port, "second") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with remote_client(nursery, port) as client:
                frame = await send_connect(
                    client, dev, client=APP_CLIENT, auth={"token": CLI_TOKEN}
                )
                assert frame["ok"], frame
                assert frame["payload"]["auth"]["scopes"] == ["operator.read"]
                assert isinstance(frame["payload"]["auth"]["deviceToken"], str)
            gw.process.send_signal(signal.SIGTERM)
            await gw.process.wait()
