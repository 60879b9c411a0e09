"""Runs as PID 1 of private mount+net+pid namespaces (see test_systemd_e2e.py); not a test.

Inside: tmpfs over /run/systemd (with the `system` dir sd_booted() looks for) and over the
account home, a real `systemd --user`, and our CLI installing, starting, stopping and
uninstalling the gateway through it. Every observation is written as one JSON object to
stdout at the end (also when a step fails), and the test asserts on it. Every wait is bounded;
leaving this process kills the namespace (and everything in it) via --kill-child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

SCRATCH = Path(sys.argv[1])
HOME = Path(sys.argv[2])  # the account home, covered by a tmpfs here
PORT = int(sys.argv[3])
TOKEN = sys.argv[4]
UNIT = "openclaw-gateway.service"
STEP_TIMEOUT = 20.0
OUT: dict[str, Any] = {"steps": []}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False, env=ENV
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv} -> {done.returncode}: {done.stdout}{done.stderr}")
    return done


def cli(*args: str) -> dict[str, Any]:
    started = time.monotonic()
    done = sh(sys.executable, "-m", "openclaw_gateway", *args, check=False)
    took = round(time.monotonic() - started, 2)
    try:
        body = json.loads(done.stdout) if "--json" in args else None
    except ValueError:
        body = None
    return {
        "rc": done.returncode,
        "json": body,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "took": took,
    }


def show() -> dict[str, str]:
    props = "ActiveState,SubState,Result,MainPID,NRestarts,ExecMainStatus,ExecMainCode,StatusText"
    done = sh("systemctl", "--user", "show", UNIT, f"--property={props}", check=False)
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def wait_for(what: str, predicate: Any, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        state = show()
        if predicate(state):
            return state
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out waiting for {what}: {state}")
        time.sleep(0.1)


def step(name: str, **data: Any) -> None:
    OUT["steps"].append({"name": name, **data})


def write_config(mode: str = '"mode": "local", ') -> None:
    (HOME / ".openclaw").mkdir(parents=True, exist_ok=True)
    gateway = f'{mode}"bind": "loopback", "port": {PORT}, "auth": {{"token": "{TOKEN}"}}'
    log = SCRATCH / "gateway.jsonl"
    (HOME / ".openclaw" / "openclaw.json").write_text(
        f'{{"gateway": {{{gateway}}}, "logging": {{"file": "{log}"}}}}'
    )


def main() -> None:
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
    os.makedirs("/run/systemd/system")
    # The home becomes an empty tmpfs, except what this Python needs from it (e.g. a pyenv
    # interpreter under ~/.pyenv): those top-level entries are bind-mounted back.
    keep = sorted(
        {
            HOME / Path(p).relative_to(HOME).parts[0]
            for p in (os.path.realpath(sys.executable), os.path.realpath(__file__))
            if Path(p).is_relative_to(HOME)
        }
    )
    parked = []
    for index, path in enumerate(keep):
        spot = SCRATCH / f"keep{index}"
        spot.mkdir()
        subprocess.run(["mount", "--bind", str(path), str(spot)], check=True)
        parked.append((spot, path))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", str(HOME)], check=True)
    for spot, path in parked:
        path.mkdir()
        subprocess.run(["mount", "--move", str(spot), str(path)], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    runtime = SCRATCH / "run"
    runtime.mkdir(mode=0o700)
    ENV["XDG_RUNTIME_DIR"] = str(runtime)
    ENV["XDG_CONFIG_HOME"] = str(SCRATCH / "config")
    write_config()

    # An operator drop-in: a short watchdog and quick restarts keep the test fast; output to a
    # file (no journald here). TimeoutAbortSec: a SIGSTOPped process cannot act on the watchdog
    # SIGABRT, so systemd must go on to SIGKILL soon rather than after TimeoutStopSec.
    dropin = SCRATCH / "config" / "systemd" / "user" / f"{UNIT}.d"
    dropin.mkdir(parents=True)
    log = SCRATCH / "service.log"
    (dropin / "test.conf").write_text(
        f"[Service]\nWatchdogSec=2\nRestartSec=1\nTimeoutAbortSec=1\n"
        f"StandardOutput=append:{log}\nStandardError=append:{log}\n"
    )

    manager = subprocess.Popen(
        ["/lib/systemd/systemd", "--user"],
        env=ENV,
        stdout=open(SCRATCH / "systemd.log", "w"),  # noqa: SIM115 - lives as long as we do
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while not (runtime / "systemd" / "private").exists():
        if manager.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("systemd --user did not come up")
        time.sleep(0.05)
    sh("systemctl", "--user", "is-system-running", "--wait", check=False)

    install = cli("gateway", "install", "--json")
    step("install", **install, show=show())
    status = cli("gateway", "status", "--json")
    step("status", **status)
    step("status-human", **cli("gateway", "status"))
    step("start-again", **cli("gateway", "start", "--json"))

    first = show()
    os.kill(int(first["MainPID"]), signal.SIGKILL)
    after_kill = wait_for(
        "restart after SIGKILL",
        lambda s: (
            s.get("NRestarts") == "1"
            and s.get("SubState") == "running"
            and s.get("MainPID") not in ("0", first["MainPID"])
        ),
        10,
    )
    step("sigkill", before=first, after=after_kill)

    os.kill(int(after_kill["MainPID"]), signal.SIGSTOP)  # its watchdog pings stop for real
    after_watchdog = wait_for(
        "restart after the watchdog fired",
        lambda s: (
            s.get("NRestarts") == "2"
            and s.get("SubState") == "running"
            and s.get("MainPID") not in ("0", after_kill["MainPID"])
        ),
        12,
    )
    step("watchdog", before=after_kill, after=after_watchdog)

    stop = cli("gateway", "stop", "--force", "--json")
    step("stop", **stop, show=show())

    write_config(mode="")  # no gateway.mode: the gateway refuses to start, exit 78
    start = cli("gateway", "start", "--json")
    time.sleep(3)  # three RestartSec periods: a restart would have happened by now
    step("start-broken", **start, show=show())

    write_config()
    restart = cli("gateway", "restart", "--json")
    step("restart", **restart, show=show())

    uninstall = cli("gateway", "uninstall", "--json")
    unit_dir = SCRATCH / "config" / "systemd" / "user"
    left = sorted(str(p.relative_to(unit_dir)) for p in unit_dir.rglob("*"))
    enabled = sh("systemctl", "--user", "is-enabled", UNIT, check=False)
    step(
        "uninstall",
        **uninstall,
        left=left,
        env_file=(HOME / ".openclaw" / "gateway.systemd.env").exists(),
        is_enabled=enabled.stdout.strip() + enabled.stderr.strip(),
        show=show(),
    )
    sh("systemctl", "--user", "exit", check=False)
    try:
        manager.wait(10)
    except subprocess.TimeoutExpired:
        manager.kill()
    OUT["manager_rc"] = manager.returncode


ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": str(HOME),
    "NO_COLOR": "1",
    "LANG": "C.UTF-8",
}

if __name__ == "__main__":
    try:
        main()
    except Exception:
        OUT["error"] = traceback.format_exc()
    for name in ("service.log", "systemd.log"):
        path = SCRATCH / name
        OUT[name] = path.read_text(errors="replace")[-4000:] if path.exists() else None
    print(json.dumps(OUT))
