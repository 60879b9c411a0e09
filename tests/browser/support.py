"""Real parts for the browser tests: our gateway as a `gateway run` subprocess, SDK agent nodes
as subprocesses, our CLI for setup calls, and Chromium (the Debian package) via Playwright.

Browser tests are plain synchronous tests (Playwright's sync API drives its own event loop in
a greenlet; nothing here runs inside trio), so every part is its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import attrs
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-test-token-0123456789abcdef"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 30.0
OPERATOR_SCOPES = (
    "operator.admin",
    "operator.read",
    "operator.write",
    "operator.approvals",
    "operator.pairing",
)


SKIPPED_REASONS: list[str] = []  # repeated in red at the end of the run (conftest)


def loud_skip(why: str) -> NoReturn:
    SKIPPED_REASONS.append(why)
    pytest.skip(f"BROWSER TESTS SKIPPED: {why}")


def require_chromium() -> None:
    """Skip loudly when the browser or Playwright is missing (`.ci/run` installs both)."""
    if not os.access(CHROMIUM, os.X_OK):
        loud_skip(f"{CHROMIUM} missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        loud_skip("playwright missing (pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}


@attrs.define
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    base: Path
    env: dict[str, str]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return "\n".join(
            (self.base / name).read_text(errors="replace") for name in ("stdout.txt", "stderr.txt")
        )

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One call from an SDK operator (its own paired device, all operator scopes): setup
        and checks, never what the page is meant to do."""
        from openclaw_gateway.client.identity import IdentityStore
        from openclaw_gateway.client.reconnecting import GatewayClient

        store = IdentityStore(self.base / "operator-id")
        with GatewayClient.sync(
            self.ws, token=TOKEN, scopes=OPERATOR_SCOPES, device_store=store
        ) as client:
            return client.call(method, params or {}, timeout=CALL_TIMEOUT_S)

    def approve_node(self, name: str) -> None:
        """Approve the pending capability request of the node called `name` (waits for it)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            pending = [
                p for p in self.call("node.pair.list")["pending"] if p.get("displayName") == name
            ]
            if pending:
                self.call("node.pair.approve", {"requestId": pending[0]["requestId"]})
                return
            assert time.monotonic() < deadline, f"{name} never asked\n{self.output()}"
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def running_gateway(base: Path, control_ui: dict[str, Any] | None = None) -> Iterator[Gateway]:
    home = base / "home"
    state = home / ".openclaw"
    state.mkdir(parents=True)
    config: dict[str, Any] = {
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}},
        "logging": {"file": str(base / "gateway.log")},
    }
    if control_ui is not None:
        config["gateway"]["controlUi"] = control_ui
    (state / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    env = clean_env() | {"HOME": str(home), "OPENCLAW_STATE_DIR": str(state)}
    port = free_port()
    argv = [sys.executable, "-m", "openclaw_gateway", "gateway", "run", "--port", str(port)]
    argv += ["--bind", "loopback"]
    with (base / "stdout.txt").open("wb") as out, (base / "stderr.txt").open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    gw = Gateway(proc, port, base, env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"gateway exited early\n{gw.output()}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"gateway never listened\n{gw.output()}"
                time.sleep(0.05)
        yield gw
    finally:
        _stop(proc)


AGENT_SCRIPT = """
import pathlib, sys, trio
from openclaw_gateway.client.agent import AgentNode
from openclaw_gateway.client.identity import IdentityStore

node = AgentNode(sys.argv[1], token=sys.argv[2], device_store=IdentityStore(pathlib.Path(sys.argv[3])),
                 display_name=sys.argv[4], models=("echo-model",))

@node.turn
async def reply(turn):
    for word in ("echo:", *turn.message.split()):
        yield word + " "
        await trio.sleep(0.15)  # slow enough that the page shows the reply growing

trio.run(node.serve)
"""


@contextmanager
def agent_node(gw: Gateway, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real SDK AgentNode (client/agent.py) whose replies stream word by word."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=gw.base))
    script = workdir / "agent.py"
    script.write_text(AGENT_SCRIPT, encoding="utf-8")
    argv = [sys.executable, str(script), gw.ws, TOKEN, str(workdir / "id"), name]
    with (workdir / "log.txt").open("wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=gw.env)
    try:
        yield proc
    finally:
        _stop(proc)
        shutil.rmtree(workdir / "id", ignore_errors=True)
