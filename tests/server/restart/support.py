"""What the tests of the real `openclaw gateway run` process share (restart, reload): a
scratch HOME with its config and file log, and the process started until /readyz answers."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from tests.server.integration.support import GatewayProcess, launch_gateway, wait_http_ok

TOKEN_A = "restart-token-a-5d1c9e7f3b"
TOKEN_B = "restart-token-b-8a2f4c6e0d"
START_BOUND = 30  # a cold interpreter start on a loaded machine
STOP_BOUND = 20
SUPERVISOR_ENV = ("INVOCATION_ID", "SYSTEMD_EXEC_PID", "JOURNAL_STREAM", "NOTIFY_SOCKET")


@attrs.define
class Home:
    root: Path
    log_file: Path

    @property
    def config_path(self) -> Path:
        return self.root / ".openclaw" / "openclaw.json"

    def write_config(self, port: int, token: str | dict[str, Any], **extra: Any) -> None:
        """Token auth (`token` may be a SecretRef); written atomically, as an editor would."""
        config = {
            "gateway": {"mode": "local", "port": port, "auth": {"mode": "token", "token": token}},
            "logging": {"file": str(self.log_file)},
            **extra,
        }
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config), encoding="utf-8")
        os.replace(tmp, self.config_path)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("OPENCLAW_") and k not in SUPERVISOR_ENV
        }
        env.update(HOME=str(self.root), PYTHONUNBUFFERED="1", NO_COLOR="1", **extra)
        return env

    def messages(self) -> list[str]:
        if not self.log_file.exists():
            return []
        return [json.loads(line)["message"] for line in self.log_file.read_text().splitlines()]


@asynccontextmanager
async def launch(home: Home, env: dict[str, str]) -> AsyncIterator[GatewayProcess]:
    async with launch_gateway(["--bind", "loopback"], env, home.root.parent) as gw:
        yield gw


def make_home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home", tmp_path / "gw.log")
    home.root.mkdir()
    return home


@asynccontextmanager
async def ready_gateway(
    home: Home, port: int, env: dict[str, str] | None = None
) -> AsyncIterator[GatewayProcess]:
    """`gateway run --bind loopback` for `home` (its config written first), once /readyz
    answers on `port` (bounded by START_BOUND)."""
    async with launch(home, home.env() if env is None else env) as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port, "/readyz")
        yield gw


async def stop_cleanly(gw: GatewayProcess) -> None:
    """SIGTERM; the process must exit 0 within STOP_BOUND."""
    with trio.fail_after(STOP_BOUND):
        gw.process.terminate()
        assert await gw.process.wait() == 0, gw.output()
