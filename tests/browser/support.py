"""Real parts for the browser tests: our gateway as a `gateway run` subprocess, SDK agent nodes
as subprocesses, our CLI for setup calls, and Chromium (the Debian package) via Playwright.

Browser tests are plain synchronous tests (Playwright's sync API drives its own event loop in
a greenlet; nothing here runs inside trio), so every part is its own process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import attrs

from scripts import bench_procs
from tests.officialkit import LoudSkips

TOKEN = "browser-test-token-0123456789abcdef"
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0
OPERATOR_SCOPES = (
    "operator.admin",
    "operator.read",
    "operator.write",
    "operator.approvals",
    "operator.pairing",
)


SKIPS = LoudSkips(  # repeated in red at the end of the run (conftest)
    "BROWSER TESTS SKIPPED",
    "BROWSER TESTS SKIPPED",
    "The web page was NOT checked in a browser in this run.",
)


def loud_skip(why: str) -> NoReturn:
    SKIPS.skip(why)


def require_chromium() -> None:
    """Skip loudly when the browser or Playwright is missing (`.ci/run` installs both)."""
    missing = bench_procs.browser_missing()
    if missing is not None:
        loud_skip(missing)


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
        return bench_procs.output(self.base)

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


@contextmanager
def running_gateway(base: Path, control_ui: dict[str, Any] | None = None) -> Iterator[Gateway]:
    config: dict[str, Any] = {
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}},
        "logging": {"file": str(base / "gateway.log")},
    }
    if control_ui is not None:
        config["gateway"]["controlUi"] = control_ui
    port = bench_procs.free_port()
    spawned = bench_procs.spawn_gateway(base, port, config)
    gw = Gateway(spawned.proc, port, base, spawned.env)
    try:
        not_ready = bench_procs.wait_listening(spawned.proc, port, START_TIMEOUT_S)
        assert not_ready is None, f"{not_ready}\n{gw.output()}"
        yield gw
    finally:
        bench_procs.stop(spawned.proc)


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
        bench_procs.stop(proc)
        shutil.rmtree(workdir / "id", ignore_errors=True)
