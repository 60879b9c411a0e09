"""The real `openclaw gateway run` as a subprocess (cli.md §1.1 exit codes, §10 signals/locks).

Each test gets its own HOME and state directory under tmp_path, and a config file whose
`logging.file` keeps the file log inside tmp_path too. These run on the real clock: a child
process does not know about a fake one. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from tests.server.integration.support import (
    GatewayProcess,
    free_port,
    http_request,
    launch_gateway,
    read_until_closed,
    wait_http_ok,
    ws_connected,
)

CLI_TOKEN = "cli-subprocess-token-5f3a9c2e7d"
START_BOUND = 30  # a cold interpreter start on a loaded machine
STOP_BOUND = 15


@attrs.define
class Home:
    root: Path
    log_file: Path

    @property
    def state_dir(self) -> Path:
        return self.root / ".openclaw"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
        env.update(
            HOME=str(self.root),
            OPENCLAW_STATE_DIR=str(self.state_dir),
            PYTHONUNBUFFERED="1",
        )
        return env


def make_home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home", tmp_path / "gw.log")
    home.state_dir.mkdir(parents=True)
    config = {"gateway": {"mode": "local"}, "logging": {"file": str(home.log_file)}}
    (home.state_dir / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    return home


@asynccontextmanager
async def launch(home: Home, port: int, name: str = "gw") -> AsyncIterator[GatewayProcess]:
    args = ["--port", str(port), "--bind", "loopback", "--allow-unconfigured"]
    async with launch_gateway(
        [*args, "--token", CLI_TOKEN], home.env(), home.root.parent, name
    ) as gw:
        yield gw


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def test_sigterm_sends_shutdown_then_1012_and_exits_0(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    home = make_home(tmp_path)
    port = free_port()
    async with launch(home, port) as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with ws_connected(nursery, port, auth={"token": CLI_TOKEN}) as client:
                res = await client.call("health")
                assert res["ok"] is True
                gw.process.send_signal(signal.SIGTERM)
                closed = await read_until_closed(client)
            code = await gw.process.wait()
    output = gw.output()
    assert code == 0, output
    assert (closed.code, closed.reason) == (1012, "service restart")
    events = [f for f in closed.frames if f.get("type") == "event"]
    assert events
    assert events[-1]["event"] == "shutdown"
    assert events[-1]["payload"] == {"reason": "gateway stopping"}

    log_text = _read(home.log_file)
    assert log_text, "the file log was not written where logging.file points"
    messages = [json.loads(line)["message"] for line in log_text.splitlines()]
    assert "received SIGTERM; shutting down" in messages
    assert "[gateway] starting..." in output
    # The token reaches neither console nor file log.
    for where, text in (("console", output), ("log file", log_text)):
        assert CLI_TOKEN not in text, where


async def test_second_gateway_on_the_same_state_dir_exits_78(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    first_port, second_port = free_port(), free_port()
    async with launch(home, first_port, "first") as first:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(first, first_port)
        async with launch(home, second_port, "second") as second:
            with trio.fail_after(START_BOUND):
                second_code = await second.process.wait()
        # The first one is unharmed and still stops cleanly.
        with trio.fail_after(5):
            reply = await http_request(first_port, "GET", "/healthz")
        assert reply.status == 200
        first.process.send_signal(signal.SIGTERM)
        with trio.fail_after(STOP_BOUND):
            first_code = await first.process.wait()
    assert second_code == 78, second.output()
    assert f"gateway already running (pid {first.process.pid})" in second.output()
    assert first_code == 0, first.output()
    assert CLI_TOKEN not in second.output()


async def test_port_held_by_another_listener_exits_1_naming_the_owner(tmp_path: Path) -> None:
    """Slow by design: the gateway retries EADDRINUSE 20 x 0.5 s before giving up."""
    home = make_home(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        async with launch(home, port) as gw:
            with trio.fail_after(START_BOUND + 10):
                code = await gw.process.wait()
    output = gw.output()
    assert code == 1, output
    assert f"listen EADDRINUSE: address already in use 127.0.0.1:{port}" in output
    assert f"Port {port} is already in use." in output
    assert f"- pid {os.getpid()} " in output
    assert CLI_TOKEN not in output
    assert CLI_TOKEN not in _read(home.log_file)
