"""`python -m openclaw_gateway gateway run --tailscale …` as a process, the fake first on PATH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.support import base_env, free_port, local_config, wait_for
from tests.server.tailscale.fake import FakeTailscale, install

TOKEN = "tailscale-cli-test-token-0123456789abcdef"
HOST = "fakehost.tail1234.ts.net"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def _env(home: Path, path_first: Path) -> dict[str, str]:
    env = base_env(home)
    env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    return env


def _popen(
    home: Path, env: dict[str, str], *args: str
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = home.parent / "gw.out", home.parent / "gw.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw_gateway", "gateway", "run", *args],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
        )
    return proc, out, err


@pytest.mark.parametrize("reset_via", ["config", "flag"])
def test_gateway_run_tailscale_serve_claims_and_releases(
    home: Path, tmp_path: Path, reset_via: str
) -> None:
    fake: FakeTailscale = install(tmp_path / "bin")
    tailscale = {"resetOnExit": True} if reset_via == "config" else {}
    local_config(home, auth={"mode": "token", "token": TOKEN}, tailscale=tailscale)
    port = free_port()
    flags = ["--tailscale-reset-on-exit"] if reset_via == "flag" else []
    proc, out, err = _popen(
        home, _env(home, fake.directory), "--port", str(port), "--tailscale", "serve", *flags
    )
    try:
        wait_for(out, "[gateway] ready", proc)
        text = out.read_text()
        assert f"[tailscale] serve enabled: https://{HOST}/ (WS via wss://{HOST})" in text
        assert text.index("[tailscale] serve enabled") < text.index("[gateway] ready")
        # Tailscale is pointed at the managed ingress listener, not at the gateway port.
        assert fake.claim_port() != port
        assert f"tailscale ingress listening on 127.0.0.1:{fake.claim_port()}" in text
        assert fake.commands() == [
            ["version"],
            ["status", "--json"],
            ["serve", "status", "--json"],
            ["serve", "--yes", "--bg=false", str(fake.claim_port())],
            ["status", "--json"],
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        fake.kill_claims()  # only matters when the test failed before the clean SIGTERM
    assert fake.calls()[5:] == [["SIGTERM", "serve", "listener=closed"], ["serve", "reset"]]
    assert "[shutdown] completed cleanly" in out.read_text()
    assert "[tailscale] serve reset" in out.read_text()
    assert err.read_text() == ""


def test_gateway_run_tailscale_without_the_binary_exits_1(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    local_config(home, auth={"mode": "token", "token": TOKEN})
    env = base_env(home)
    env["PATH"] = str(empty)
    proc, _, err = _popen(home, env, "--port", str(free_port()), "--tailscale", "serve")
    try:
        assert proc.wait(timeout=60) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = err.read_text()
    assert (
        "[tailscale] serve failed: Command failed with ENOENT: tailscale serve status --json"
        in text
    )
    assert (
        "Gateway failed to start: Command failed with ENOENT: tailscale serve status --json\n"
        "spawn tailscale ENOENT | ENOENT. Run openclaw gateway status --deep for diagnostics."
    ) in text
