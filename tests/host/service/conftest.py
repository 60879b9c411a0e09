"""Scratch homes, free ports and CLI runs for the service tests.

Every gateway these tests start writes only under the test's tmp dir (HOME, state dir and the
file log are all redirected) and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import pytest

from openclaw_gateway.host.service.detached import read_record

TOKEN = "svc-test-token-0123456789abcdef"
CLI_TIMEOUT = 40.0  # a start waits up to 30 s for health; a hang must fail the test instead


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.define
class Home:
    root: Path
    port: int
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return self.root / ".openclaw"

    def cli(self, *args: str, check_rc: int | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "openclaw_gateway", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check_rc is not None:
            assert done.returncode == check_rc, (done.stdout, done.stderr)
        return done

    def cli_json(self, *args: str) -> tuple[int, dict[str, object]]:
        done = self.cli(*args, "--json")
        return done.returncode, json.loads(done.stdout)


def write_config(root: Path, port: int, extra: dict[str, object] | None = None) -> None:
    state = root / ".openclaw"
    state.mkdir(parents=True, exist_ok=True)
    body: dict[str, object] = {
        "gateway": {"mode": "local", "port": port, "bind": "loopback", "auth": {"token": TOKEN}},
        "logging": {"file": str(root / "gateway.jsonl")},
    }
    body.update(extra or {})
    (state / "openclaw.json").write_text(json.dumps(body))


def base_env(home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "NO_COLOR": "1",
        "OPENCLAW_SKIP_CRON": "1",
    }
    return env


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    root = tmp_path / "home"
    port = free_port()
    write_config(root, port)
    scratch = Home(root, port, base_env(root))
    yield scratch
    kill_recorded(scratch.state)


def kill_recorded(state: Path) -> None:
    """Teardown: a gateway a failed test left behind is killed by its recorded pid."""
    from openclaw_gateway.host.service.detached import is_gateway_process

    record = read_record(state / "gateway.pid")
    if record is not None and is_gateway_process(record.pid, record.start_time):
        os.kill(record.pid, 9)


def argv_lines(path: Path) -> list[Sequence[str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
