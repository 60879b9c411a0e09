"""SIGUSR2 against the real `openclaw gateway run` process (cli.md §10, real clock, bounded).

A client is connected; `kill -USR2 <pid>` must send it the restart `shutdown` event and close
1012, and the same pid must come back with the config re-read from disk: a new token and a
new port. Under a (simulated) systemd environment the process exits 0 instead.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import trio

from tests.cli.support import cli, unstamp
from tests.server.integration.support import (
    free_port,
    http_request,
    read_until_closed,
    wait_http_ok,
    ws_client,
    ws_connected,
)
from tests.server.restart.support import (
    START_BOUND,
    STOP_BOUND,
    TOKEN_A,
    TOKEN_B,
    make_home,
    ready_gateway,
)


async def test_sigusr2_restarts_in_process_with_the_config_reloaded(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    home = make_home(tmp_path)
    first_port, second_port = free_port(), free_port()
    home.write_config(first_port, TOKEN_A)
    async with ready_gateway(home, first_port) as gw:
        pid = gw.process.pid
        with trio.fail_after(STOP_BOUND):
            async with ws_connected(nursery, first_port, auth={"token": TOKEN_A}) as client:
                assert (await client.call("health"))["ok"] is True
                # The new config is on disk before the signal; the restart must read it.
                home.write_config(second_port, TOKEN_B)
                os.kill(pid, signal.SIGUSR2)
                closed = await read_until_closed(client)
        assert (closed.code, closed.reason) == (1012, "service restart")
        shutdown = [f for f in closed.frames if f.get("event") == "shutdown"]
        assert [f["payload"] for f in shutdown] == [
            {"reason": "gateway restarting", "restartExpectedMs": 1500}
        ]
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, second_port, "/readyz")
        assert gw.process.returncode is None  # the same process serves again
        with trio.fail_after(STOP_BOUND):
            async with ws_connected(nursery, second_port, auth={"token": TOKEN_B}) as client:
                assert (await client.call("health"))["ok"] is True
            async with ws_client(nursery, second_port) as stale:
                refused = await stale.connect(auth={"token": TOKEN_A})
            assert refused["ok"] is False
            # The old listener is gone.
            try:
                await http_request(first_port, "GET", "/readyz")
            except OSError:
                pass
            else:
                raise AssertionError("the first port still answers after the restart")
            lock = json.loads(
                (home.root / ".openclaw" / "tmp" / "gateway.state.lock").read_text() or "{}"
            )
            gw.process.send_signal(signal.SIGTERM)
            code = await gw.process.wait()
    output = gw.output()
    assert code == 0, output
    assert lock.get("pid") == pid, lock
    assert lock.get("port") == second_port, lock
    messages = home.messages()
    at = messages.index("received SIGUSR2; restarting")
    assert messages[at - 2 : at] == ["closed: restart-signal fence", "closed: restart (SIGUSR2)"]
    mode = next(m for m in messages[at:] if m.startswith("restart mode: "))
    assert mode.startswith("restart mode: in-process restart (")
    assert messages.count("ready") == 2
    assert messages[-1] == "completed cleanly"
    for text in (output, home.log_file.read_text()):
        assert TOKEN_A not in text and TOKEN_B not in text


async def test_sigusr2_under_systemd_exits_0_for_the_service_manager(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    port = free_port()
    home.write_config(port, TOKEN_A)
    async with ready_gateway(home, port, home.env(INVOCATION_ID="0123456789abcdef")) as gw:
        with trio.fail_after(STOP_BOUND):
            gw.process.send_signal(signal.SIGUSR2)
            code = await gw.process.wait()
    assert code == 0, gw.output()
    messages = home.messages()
    assert "restart mode: full process restart (supervisor restart)" in messages
    assert messages.count("ready") == 1


async def test_commands_restart_false_ignores_sigusr2(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    port = free_port()
    home.write_config(port, TOKEN_A, commands={"restart": False})
    async with ready_gateway(home, port) as gw:
        with trio.fail_after(STOP_BOUND):
            gw.process.send_signal(signal.SIGUSR2)
            while "SIGUSR2 restart ignored (not authorized; commands.restart=false)." not in (
                home.messages()
            ):
                assert gw.process.returncode is None, gw.output()
                await trio.sleep(0.05)
            await wait_http_ok(gw, port, "/readyz")  # still serving
            gw.process.send_signal(signal.SIGTERM)
            code = await gw.process.wait()
    assert code == 0, gw.output()
    assert "received SIGUSR2; restarting" not in home.messages()


async def test_a_config_broken_before_the_restart_fails_like_a_start(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    port = free_port()
    home.write_config(port, TOKEN_A)
    async with ready_gateway(home, port) as gw:
        home.config_path.write_text('{"gateway": {"mode": "local", "port": "x"', encoding="utf-8")
        with trio.fail_after(STOP_BOUND):
            gw.process.send_signal(signal.SIGUSR2)
            code = await gw.process.wait()
    assert code == 78, gw.output()
    # Word for word what a fresh start with this config reports.
    fresh = cli(home.env(), "gateway", "run", "--bind", "loopback")
    assert fresh.returncode == 78
    assert unstamp(gw.stderr.read_text()) == unstamp(fresh.stderr)
    assert "Gateway start blocked: existing config is missing gateway.mode." in fresh.stderr
    assert not (home.root / ".openclaw" / "gateway.runtime-token").exists()
