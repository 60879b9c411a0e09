"""The CLI as a real process: exit codes, help, `config get`, a real start, --force.

Paths that serve use --bind loopback and a free port, and are stopped in teardown.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.support import base_env, cli, free_port, local_config, unstamp, wait_for
from tests.host.procs import listener, wait_dead

SECRET = "subprocess-secret-4e5f6a7b"


@pytest.fixture(name="home")
def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_exit_codes(home: Path) -> None:
    env = base_env(home)
    r = cli(env, "gateway", "run", "--reset")
    assert (r.returncode, r.stderr) == (1, "Use --reset with --dev.\n")
    r = cli(env, "gateway")
    assert r.returncode == 78
    assert r.stderr.startswith("Missing config. Run `openclaw setup`")
    r = cli(env, "--dev", "--profile", "x", "gateway")
    assert (r.returncode, r.stderr) == (2, "[openclaw] Cannot combine --dev with --profile\n")
    r = cli(env, "gateway", "run", "--allow-unconfigured", "--port", "nope")
    assert r.returncode == 1
    assert unstamp(r.stderr) == [
        "Invalid --port. Use a port number from 1 to 65535, for example 18789."
    ]


def test_help_keeps_angle_brackets_and_both_dev_options(home: Path) -> None:
    r = cli(base_env(home), "gateway", "run", "--help")
    assert r.returncode == 0
    assert "~/.openclaw-<name>" in r.stdout
    assert "Create a dev config + workspace if missing" in r.stdout
    assert "Dev profile: isolate state under ~/.openclaw-dev" in r.stdout


def test_config_get_gateway_shows_the_effective_section_redacted(home: Path) -> None:
    config = {
        "gateway": {
            "mode": "local",
            "auth": {"token": SECRET},
            "remote": {"password": SECRET},
        }
    }
    from tests.cli.support import write_config

    write_config(home, config)
    r = cli(base_env(home), "config", "get", "gateway")
    assert r.returncode == 0, r.stderr
    import json

    shown = json.loads(r.stdout)
    assert shown["auth"] == {"token": "__OPENCLAW_REDACTED__", "mode": "token"}
    assert shown["remote"] == {"password": "__OPENCLAW_REDACTED__"}
    assert shown["port"] == 18789
    assert SECRET not in r.stdout + r.stderr
    r = cli(base_env(home), "config", "get", "gateway.auth.token")
    assert (r.returncode, r.stdout) == (0, "__OPENCLAW_REDACTED__\n")
    # Port precedence: env beats config; a named profile gets its hashed port.
    r = cli(base_env(home, OPENCLAW_GATEWAY_PORT="127.0.0.1:19877"), "config", "get", "gateway")
    assert json.loads(r.stdout)["port"] == 19877
    r = cli(base_env(home), "--profile", "work", "config", "get", "gateway")
    assert json.loads(r.stdout)["port"] == 41984


def _start(home: Path, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = home.parent / f"{name}.out", home.parent / f"{name}.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openclaw_gateway",
                "gateway",
                "run",
                "--bind",
                "loopback",
                *args,
            ],
            env=base_env(home),
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
        )
    return proc, out, err


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise


def test_runtime_token_survives_a_second_gateway_on_the_same_state_dir(home: Path) -> None:
    local_config(home)
    token_file = home / ".openclaw" / "gateway.runtime-token"
    first, out, _ = _start(home, "first", "--port", str(free_port()))
    try:
        wait_for(out, "[gateway] ready", first)
        token = token_file.read_text()
        # Written atomically (core/atomicfile): owner-only, no temp file left beside it.
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert list(token_file.parent.glob(".gateway.runtime-token*")) == []
        second, _, err2 = _start(home, "second", "--port", str(free_port()))
        try:
            assert second.wait(timeout=60) == 78
        finally:
            _stop(second)
        assert f"gateway already running (pid {first.pid})" in err2.read_text()
        assert token_file.read_text() == token
        assert first.poll() is None
    finally:
        code = _stop(first)
    assert code == 0
    assert not token_file.exists()


def test_force_frees_a_port_held_by_a_plain_listener(home: Path) -> None:
    local_config(home)
    with listener() as (holder, port):
        proc, out, _ = _start(home, "forced", "--port", str(port), "--force", "--token", SECRET)
        try:
            wait_for(out, "[gateway] ready", proc)
            assert wait_dead(holder) == -signal.SIGTERM
            lines = unstamp(out.read_text())
            assert any(
                line.startswith(f"[gateway] force: killed pid {holder.pid} (") for line in lines
            )
        finally:
            code = _stop(proc)
    assert code == 0
    assert SECRET not in out.read_text()


def test_sigterm_during_the_bind_retry_is_a_clean_exit(home: Path) -> None:
    """Issue 13 §5: the busy port is retried 20 x 500 ms; a SIGTERM meanwhile stops the start-up
    through the gateway's own shutdown (exit 0, runtime token file removed), not the default
    action that left the file behind."""
    local_config(home)
    token_file = home / ".openclaw" / "gateway.runtime-token"
    with listener() as (_holder, port):
        proc, out, err = _start(home, "busy", "--port", str(port))
        try:
            wait_for(out, "[gateway] log file:", proc)  # after the runtime token was written
            assert "Generated a runtime token" in err.read_text()
            assert token_file.exists()
            time.sleep(1.5)  # inside the 10 s of EADDRINUSE retries
            assert proc.poll() is None
            started = time.monotonic()
            code = _stop(proc)
        finally:
            _stop(proc)
    assert code == 0
    assert time.monotonic() - started < 5  # long before the retries would have run out
    assert not token_file.exists()
    assert "[shutdown] completed cleanly" in out.read_text()
