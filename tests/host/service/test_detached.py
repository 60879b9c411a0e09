"""Detached mode (no service manager, as on this machine) with real gateway processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from openclaw_gateway.cli.run_start import port_conflict_code
from openclaw_gateway.client import GatewayClient
from openclaw_gateway.host.ports import listeners_on
from openclaw_gateway.host.service.detached import DetachedService, is_gateway_process, read_record
from tests.host.service.conftest import TOKEN, Home, base_env, write_config

DEADLINE = 15.0


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port_closed(port: int, timeout: float = 5.0) -> bool:
    """A killed process's memory goes (empty cmdline: "gone") a moment before its descriptors
    are closed, so the listener may outlive `_wait_gone` by a few milliseconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _port_open(port):
            return True
        time.sleep(0.05)
    return False


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_gateway_process(pid):
            return True
        time.sleep(0.05)
    return False


def test_start_status_stop(home: Home) -> None:
    code, body = home.cli_json("gateway", "start")
    assert code == 0, body
    assert body["action"] == "start" and body["ok"] is True and body["result"] == "started"
    record = read_record(home.state / "gateway.pid")
    assert record is not None and record.port == home.port
    assert is_gateway_process(record.pid, record.start_time)
    assert _port_open(home.port)
    # It runs in a session of its own (setsid), not in ours.
    assert os.getsid(record.pid) == record.pid != os.getsid(0)

    status = home.cli("gateway", "status", "--json", check_rc=0)
    service = json.loads(status.stdout)["service"]
    assert service["mode"] == "detached"
    assert service["loaded"] is True
    assert service["runtime"] == {"status": "running", "pid": record.pid}
    assert json.loads(status.stdout)["rpc"]["ok"] is True

    # Non-interactive stop needs --force and changes nothing without it.
    refused = home.cli("gateway", "stop")
    assert refused.returncode == 1
    assert "re-run with --force if you really mean it" in refused.stderr
    assert is_gateway_process(record.pid, record.start_time)

    stopped = home.cli("gateway", "stop", "--force", check_rc=0)
    assert stopped.stdout.strip() == f"Gateway stopped (detached pid {record.pid})."
    assert not _port_open(home.port)
    assert not (home.state / "gateway.pid").exists()
    assert _wait_gone(record.pid)

    # Stopping what is not running is a successful no-op.
    code, body = home.cli_json("gateway", "stop", "--force")
    assert code == 0
    assert body["result"] == "not-loaded"
    assert body["message"] == "Gateway service not running."


def test_second_start_refuses(home: Home) -> None:
    home.cli("gateway", "start", check_rc=0)
    first = read_record(home.state / "gateway.pid")
    assert first is not None
    again = home.cli("gateway", "start")
    assert again.returncode == 1
    assert f"Gateway already running (detached, pid {first.pid})" in again.stderr
    assert read_record(home.state / "gateway.pid") == first
    home.cli("gateway", "stop", "--force", check_rc=0)


def test_start_refuses_when_a_foreground_gateway_owns_the_state_dir(home: Home) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
        env=home.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_port(home.port, proc)
        refused = home.cli("gateway", "start")
        assert refused.returncode == 1
        assert f"gateway already running (pid {proc.pid})" in refused.stderr
        assert not (home.state / "gateway.pid").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_kill9_then_start_reclaims_the_stale_pidfile(home: Home) -> None:
    home.cli("gateway", "start", check_rc=0)
    old = read_record(home.state / "gateway.pid")
    assert old is not None
    os.kill(old.pid, signal.SIGKILL)
    assert _wait_gone(old.pid)
    code, body = home.cli_json("gateway", "start")
    assert code == 0, body
    assert body["warnings"] == [
        f"Removed a stale pidfile: pid {old.pid} is no longer the gateway it recorded."
    ]
    new = read_record(home.state / "gateway.pid")
    assert new is not None and new.pid != old.pid
    assert is_gateway_process(new.pid, new.start_time)
    home.cli("gateway", "stop", "--force", check_rc=0)


def test_a_reused_pid_is_not_trusted(home: Home) -> None:
    """A pidfile naming a live process that is not our gateway is stale, never signalled."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        home.state.mkdir(parents=True, exist_ok=True)
        (home.state / "gateway.pid").write_text(
            json.dumps({"pid": sleeper.pid, "startTime": 1, "port": home.port})
        )
        code, body = home.cli_json("gateway", "stop", "--force")
        assert code == 0 and body["result"] == "not-loaded"
        assert sleeper.poll() is None  # untouched
        assert not (home.state / "gateway.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_start_reports_a_gateway_that_exits(home: Home) -> None:
    (home.state / "openclaw.json").write_text(json.dumps({"gateway": {"port": home.port}}))
    code, body = home.cli_json("gateway", "start")
    assert code == 1
    error = str(body["error"])
    assert error.startswith("Gateway start failed: the gateway exited with code 78")
    assert "gateway.mode" in error  # the gateway's own reason, from its log
    assert not (home.state / "gateway.pid").exists()


def test_install_and_uninstall_without_a_service_manager(home: Home) -> None:
    code, body = home.cli_json("gateway", "install")
    assert code == 1
    assert body["ok"] is False
    assert str(body["error"]).startswith("Gateway install failed: no supported service manager")
    assert not (home.root / ".config").exists()
    home.cli("gateway", "start", check_rc=0)
    record = read_record(home.state / "gateway.pid")
    assert record is not None
    code, body = home.cli_json("gateway", "uninstall")
    assert code == 0 and body["result"] == "uninstalled"
    assert _wait_gone(record.pid)
    assert not (home.state / "gateway.pid").exists()


def _wait_port(port: int, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while not _port_open(port):
        if proc is not None and proc.poll() is not None:
            pytest.fail(
                f"gateway exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        assert time.monotonic() < deadline, "gateway did not listen in time"
        time.sleep(0.05)


async def test_restart_new_pid_and_clients_reconnect(home: Home) -> None:
    await trio.to_thread.run_sync(lambda: home.cli("gateway", "start", check_rc=0))
    old = read_record(home.state / "gateway.pid")
    assert old is not None
    url = f"ws://127.0.0.1:{home.port}"
    async with GatewayClient(url, token=TOKEN, reconnect=True) as client:
        assert client.connects == 1
        done = await trio.to_thread.run_sync(lambda: home.cli("gateway", "restart", "--json"))
        assert done.returncode == 0, done.stdout + done.stderr
        body = json.loads(done.stdout)
        assert body["result"] == "restarted"
        new = read_record(home.state / "gateway.pid")
        assert new is not None and new.pid != old.pid
        assert body["message"] == f"Gateway restarted (detached, pid {old.pid} -> {new.pid})."
        seen = []
        with trio.fail_after(DEADLINE):
            async for event in client.events():
                seen.append(event.name)
                if event.name == "shutdown":
                    assert event.payload["reason"] == "gateway stopping"
                    break
            # The client exposes a counter, not an event, for its reconnects.
            while client.connects < 2:  # noqa: ASYNC110
                await trio.sleep(0.05)
        health = await client.call("health", None)
        assert health["ok"] is True
    await trio.to_thread.run_sync(lambda: home.cli("gateway", "stop", "--force", check_rc=0))
    assert not _port_open(home.port)


def test_restart_and_stop_signal_a_foreground_gateway(home: Home, tmp_path: Path) -> None:
    """`restart` sends SIGUSR2 to the verified foreground gateway; `stop` sends SIGTERM."""
    console = tmp_path / "foreground.log"
    with open(console, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
            env=home.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_port(home.port, proc)
        lock = home.state / "tmp" / "gateway.state.lock"
        before = json.loads(lock.read_text())
        done = home.cli("gateway", "restart", check_rc=0)
        after = json.loads(lock.read_text())  # `restart` returned after the run re-locked
        assert after["pid"] == before["pid"] == proc.pid
        assert after["createdAt"] != before["createdAt"]
        assert done.stdout.strip() == (
            f"Gateway restart request sent to foreground process on port {home.port}: {proc.pid}."
        )
        assert "received SIGUSR2" in console.read_text()
        assert proc.poll() is None  # restarted in process: same pid
        _wait_port(home.port, proc)
        audit = (home.state / "logs" / "gateway-restart.log").read_text()
        assert f"action=restart mode=sigusr2 pid={proc.pid}" in audit

        stopped = home.cli("gateway", "stop", "--force", check_rc=0)
        assert stopped.stdout.strip() == (
            f"Gateway stop signal sent to unmanaged process on port {home.port}: {proc.pid}."
        )
        assert proc.wait(DEADLINE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_taken_by_another_gateway_is_78_under_a_service_manager(
    home: Home, tmp_path: Path
) -> None:
    """Restart=always + RestartPreventExitStatus=78: a second gateway must not loop.

    (~10 s: the gateway retries EADDRINUSE for 10 s first, as the official one does. The
    foreground exit 1 for the same conflict is unchanged and covered by the run tests; here
    the same owners give 1 without the service markers.)
    """
    first = subprocess.Popen(
        [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
        env=home.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(home.port)
        other = tmp_path / "other-home"  # another state dir: past the lock, onto the port
        write_config(other, home.port)
        env = base_env(other)
        env.update(OPENCLAW_SERVICE_MARKER="openclaw", OPENCLAW_SERVICE_KIND="gateway")
        second = subprocess.run(
            [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert second.returncode == 78, second.stderr
        assert f"Port {home.port} is already in use." in second.stderr
        owners = listeners_on(home.port)
        assert port_conflict_code(1, owners, {}) == 1
        assert port_conflict_code(1, owners, {"INVOCATION_ID": "x"}) == 78
    finally:
        first.terminate()
        first.wait(DEADLINE)


def test_stop_kills_a_gateway_that_ignores_sigterm(home: Home) -> None:
    """SIGTERM, then SIGKILL once the stop budget is spent (a short budget here)."""
    home.cli("gateway", "start", check_rc=0)
    record = read_record(home.state / "gateway.pid")
    assert record is not None
    os.kill(record.pid, signal.SIGSTOP)  # a wedged gateway: SIGTERM stays pending
    service = DetachedService(home.state, home.env, ())
    started = time.monotonic()
    assert service.stop(record, timeout=0.5) == "sigkill"
    assert time.monotonic() - started < 5
    assert _wait_gone(record.pid)
    assert not (home.state / "gateway.pid").exists()
    assert _wait_port_closed(home.port)


def test_two_concurrent_starts_leave_one_gateway_and_its_pidfile(home: Home) -> None:
    """Issue 13 §5: check -> spawn -> pidfile runs under gateway.pid.lock, so the start that
    loses the race sees the winner and refuses; it never removes the winner's pidfile."""
    argv = [sys.executable, "-m", "openclaw_gateway", "gateway", "start"]
    racers = [
        subprocess.Popen(
            argv,
            env=home.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = []
    for proc in racers:
        out, err = proc.communicate(timeout=60)
        outcomes.append((proc.returncode, out, err))
    try:
        assert sorted(code for code, _, _ in outcomes) == [0, 1], outcomes
        record = read_record(home.state / "gateway.pid")
        assert record is not None, outcomes
        assert is_gateway_process(record.pid, record.start_time)
        winner = next(out for code, out, _ in outcomes if code == 0)
        loser = next(err for code, _, err in outcomes if code == 1)
        assert f"Gateway started (detached, pid {record.pid}" in winner
        assert f"Gateway already running (detached, pid {record.pid})" in loser
        assert _port_open(home.port)
    finally:
        home.cli("gateway", "stop", "--force", check_rc=0)
    assert not (home.state / "gateway.pid").exists()
    assert _wait_gone(record.pid)
