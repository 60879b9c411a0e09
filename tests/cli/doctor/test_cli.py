"""`openclaw doctor` as a real process: output, --json shape, exit codes, --fix next to a live
gateway (whose lock, port and runtime token it must leave alone)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli.doctor.support import Install, dead_pid
from tests.cli.support import cli, wait_for
from tests.server.integration.support import free_port

SUPERVISOR_ENV = ("INVOCATION_ID", "SYSTEMD_EXEC_PID", "JOURNAL_STREAM", "NOTIFY_SOCKET")


def _env(install: Install) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENCLAW_") and k not in SUPERVISOR_ENV
    }
    env.update(install.env, PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


def _local(body: dict[str, Any]) -> list[dict[str, str]]:
    return [c for c in body["checks"] if not c["id"].startswith("service.")]


def test_human_and_json_output_and_the_fix(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    install.config_path.chmod(0o644)
    lock = install.state / "tmp" / "gateway.state.lock"
    lock.parent.mkdir()
    gone = dead_pid()
    lock.write_text(json.dumps({"pid": gone}))
    env = _env(install)

    r = cli(env, "doctor")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == [
        "OpenClaw doctor",
        f"Config: {install.config_path}",
        f"State: {install.state}",
    ]
    at = lines.index(
        "[fail] permissions.secrets: secret files readable by others: ~/.openclaw/openclaw.json (0644)"
    )
    assert (
        lines[at + 1] == "       fix: chmod 600 ~/.openclaw/openclaw.json (openclaw doctor --fix)"
    )
    assert f"[warn] lock: stale state lock from pid {gone}, which is no longer running" in lines
    assert lines[-1].startswith("Summary: ")

    r = cli(env, "doctor", "--json")
    assert r.returncode == 1
    body = json.loads(r.stdout)
    assert body["ok"] is False
    assert lines[-1] == "Summary: {ok} ok, {warn} warn, {fail} fail".format(**body["summary"])
    # The service checks depend on this host's service manager; the rest is what was planted.
    planted = {c["id"]: c["status"] for c in _local(body)}
    assert {k: v for k, v in planted.items() if v != "ok"} == {
        "permissions.secrets": "fail",
        "lock": "warn",
    }
    assert body["changes"] == []
    assert {tuple(c) for c in body["checks"]} == {("id", "status", "message", "fix")}

    r = cli(env, "doctor", "--fix", "--json")
    assert r.returncode == 0, r.stdout
    body = json.loads(r.stdout)
    assert body["ok"] is True
    assert {c["status"] for c in _local(body)} == {"ok"}
    assert body["changes"] == [
        {
            "id": "lock",
            "action": f"removed stale lock {lock} (pid {gone} is gone)",
            "applied": True,
        },
        {
            "id": "permissions.secrets",
            "action": f"chmod 600 {install.config_path} (was 0644)",
            "applied": True,
        },
    ]
    assert stat.S_IMODE(install.config_path.stat().st_mode) == 0o600
    assert not lock.exists()
    r = cli(env, "doctor", "--fix")
    assert r.returncode == 0
    assert "Changes: none (nothing safe to fix)" in r.stdout.splitlines()


def test_fix_leaves_a_live_gateway_alone(tmp_path: Path) -> None:
    install = Install(tmp_path)
    port = free_port()
    install.write_config(
        {
            "gateway": {"mode": "local", "bind": "loopback", "port": port},
            "logging": {"file": str(tmp_path / "gw.log")},
        }
    )
    env = _env(install)
    out = tmp_path / "gw.out"
    with out.open("wb") as sink:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
            env=env,
            cwd=install.home,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(out, "[gateway] ready", gateway)
        lock = install.state / "tmp" / "gateway.state.lock"
        token = install.state / "gateway.runtime-token"
        before = (lock.read_text(), token.read_text())
        r = cli(env, "doctor", "--fix", "--json")
        body = json.loads(r.stdout)
        checks = {c["id"]: c for c in body["checks"]}
        assert checks["port"]["message"] == (
            f"port {port} is held by this state dir's gateway (pid {gateway.pid})"
        )
        assert checks["lock"]["message"] == (
            f"state lock held by a running gateway (pid {gateway.pid})"
        )
        assert checks["auth.secret"]["status"] == "ok"
        assert body["changes"] == []
        assert (lock.read_text(), token.read_text()) == before
        assert token.read_text().strip() not in r.stdout
        assert gateway.poll() is None
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0
