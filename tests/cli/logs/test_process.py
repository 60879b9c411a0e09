"""`openclaw logs --follow` as a real process across an in-process gateway restart.

The gateway runs with a generated runtime token (no token in config), so after SIGUSR2 the
token is new: the follower must re-read credentials and keep tailing the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.server.integration.support import free_port

LOGS = [sys.executable, "-X", "faulthandler", "-m", "openclaw_gateway", "logs"]
INTERRUPT_BOUND = 10.0  # real seconds from SIGINT to exit
BOUND = 40.0  # real seconds for any one wait
SUPERVISOR_ENV = ("INVOCATION_ID", "SYSTEMD_EXEC_PID", "JOURNAL_STREAM", "NOTIFY_SOCKET")


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENCLAW_") and k not in SUPERVISOR_ENV
    }
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", NO_COLOR="1", OPENCLAW_SKIP_CRON="1")
    return env


def _wait(path: Path, predicate: str, count: int, *procs: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + BOUND
    while True:
        text = path.read_text(errors="replace") if path.exists() else ""
        if text.count(predicate) >= count:
            return text
        for proc in procs:
            assert proc.poll() is None, f"pid {proc.pid} exited {proc.returncode}:\n{text}"
        assert time.monotonic() < deadline, f"no {count}x {predicate!r} in {BOUND}s:\n{text}"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise


def _signal_state(pid: int) -> str:
    """The kernel's view of a process's signals, per thread (blocked, ignored, caught, pending),
    for the report on a follower that outlived SIGINT."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        status = (task / "status").read_text().splitlines()
        wanted = [s for s in status if s.startswith(("Name", "State", "Sig", "ShdPnd"))]
        lines.append(f"task {task.name}: " + "; ".join(wanted))
    return "\n".join(lines)


def _interrupt(follower: subprocess.Popen[bytes], out: Path) -> tuple[int | None, str]:
    """Ctrl-C; the follower's exit code, or None when it was still running INTERRUPT_BOUND
    later (then it is killed), with what was seen of it then: its signal state, whether its
    output still grew, and whether a second SIGINT ended it."""
    follower.send_signal(signal.SIGINT)
    try:
        return follower.wait(timeout=INTERRUPT_BOUND), ""
    except subprocess.TimeoutExpired:
        pass
    report = [_signal_state(follower.pid)]
    size = out.stat().st_size
    follower.send_signal(signal.SIGINT)
    try:
        code: int | None = follower.wait(timeout=2)
    except subprocess.TimeoutExpired:
        code = None
    report.append(f"output grew after SIGINT: {out.stat().st_size > size}")
    report.append(f"second SIGINT: {'exit ' + str(code) if code is not None else 'still running'}")
    if code is None:
        follower.kill()
        follower.wait(timeout=10)
    return None, "\n".join(report)


def _start_gateway(tmp_path: Path) -> tuple[Path, dict[str, str], subprocess.Popen[bytes], Path]:
    home = tmp_path / "home"
    (home / ".openclaw").mkdir(parents=True)
    config = {
        "gateway": {"mode": "local", "bind": "loopback", "port": free_port()},
        "logging": {"file": str(tmp_path / "gw.log")},  # the tests read it as gw.log
    }
    (home / ".openclaw" / "openclaw.json").write_text(json.dumps(config))
    env = _env(home)
    gw_out = tmp_path / "gw.out"
    with gw_out.open("wb") as sink:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return home, env, gateway, gw_out


@contextlib.contextmanager
def _sigint_not_ignored() -> Iterator[None]:
    """Children started inside get SIGINT at its default, as from a terminal. A test runner
    started as a background job (`cmd &` in a script, nohup) has SIGINT ignored, an ignored
    signal stays ignored across fork and exec, and Ctrl-C then rightly does nothing to the
    follower (seen as a follower "stuck" after SIGINT in background full-suite runs only).
    A caught signal is reset to the default at exec, so catching it here is enough."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_follower(
    home: Path, env: dict[str, str], out_path: Path, err_path: Path
) -> subprocess.Popen[bytes]:
    """`openclaw logs --follow --json`, polling every 200 ms, its output in the two files."""
    with out_path.open("wb") as out, err_path.open("wb") as err, _sigint_not_ignored():
        return subprocess.Popen(
            [*LOGS, "--follow", "--json", "--interval", "200"],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )


def test_ctrl_c_ends_a_follower_with_exit_0(tmp_path: Path) -> None:
    home, env, gateway, gw_out = _start_gateway(tmp_path)
    logs_out, logs_err = tmp_path / "logs.out", tmp_path / "logs.err"
    try:
        _wait(gw_out, "[gateway] ready", 1, gateway)
        follower = _start_follower(home, env, logs_out, logs_err)
        _wait(logs_out, '"message":"ready"', 1, gateway, follower)
        code, stuck = _interrupt(follower, logs_out)
        assert code is not None, f"still running {INTERRUPT_BOUND}s after SIGINT:\n{stuck}"
        assert code == 0, logs_err.read_text(errors="replace")[-2000:]
        assert "Traceback" not in logs_err.read_text(errors="replace")
    finally:
        assert _stop(gateway) == 0


def test_follow_survives_an_in_process_restart(tmp_path: Path) -> None:
    home, env, gateway, gw_out = _start_gateway(tmp_path)
    log_file = tmp_path / "gw.log"
    token_file = home / ".openclaw" / "gateway.runtime-token"
    logs_out, logs_err = tmp_path / "logs.out", tmp_path / "logs.err"
    follower: subprocess.Popen[bytes] | None = None
    try:
        _wait(gw_out, "[gateway] ready", 1, gateway)
        first_token = token_file.read_text()
        follower = _start_follower(home, env, logs_out, logs_err)
        _wait(logs_out, '"message":"ready"', 1, gateway, follower)
        gateway.send_signal(signal.SIGUSR2)
        _wait(gw_out, "[gateway] ready", 2, gateway)
        text = _wait(logs_out, '"message":"ready"', 2, gateway, follower)
        assert token_file.read_text() != first_token  # a new runtime token after the restart
        records = [json.loads(line) for line in text.splitlines()]
        messages = [r.get("message") for r in records if r["type"] == "log"]
        assert "received SIGUSR2; restarting" in messages
        assert any(str(m).startswith("restart mode: in-process restart (") for m in messages)
        assert [r["type"] for r in records].count("meta") == 1  # same file, one source
        # Every line of the file exactly once, in order, across the restart.
        raws = [r["raw"] for r in records if r["type"] == "log"]
        assert raws == log_file.read_text().splitlines()[: len(raws)]
        for secret in (first_token.strip(), token_file.read_text().strip()):
            assert secret not in text + logs_err.read_text()
    finally:
        try:
            if (
                follower is not None
            ):  # Ctrl-C -> exit 0 is test_ctrl_c_ends_a_follower_with_exit_0's
                _interrupt(follower, logs_out)
        finally:
            assert _stop(gateway) == 0  # also when the follower failed: no process outlives us
