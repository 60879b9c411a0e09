"""Processes the bench and the tests share: our gateway as a `gateway run` subprocess of this
checkout (config under `<base>/home`, output in `<base>/stdout.txt` and `stderr.txt`), the
wait until it listens, the SIGTERM stop, and how Chromium is launched.

Plain stdlib, no sibling imports: scripts/bench_*.py import it as `bench_procs` (the
script's own folder is first on sys.path), the tests as `scripts.bench_procs`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_TIMEOUT_S = 10.0

CHROMIUM = "/usr/bin/chromium"  # the Debian package; never a downloaded browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_missing() -> str | None:
    """Why Chromium cannot be driven here (the browser or Playwright is missing), or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright missing (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment minus anything that could point a process at a real install."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}


def write_config(home: Path, config: dict[str, Any]) -> Path:
    """`<home>/.openclaw/openclaw.json`; returns the state dir."""
    state = home / ".openclaw"
    state.mkdir(parents=True, exist_ok=True)
    (state / "openclaw.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return state


@dataclass(frozen=True)
class Spawned:
    proc: subprocess.Popen[bytes]
    env: dict[str, str]  # what it runs with (HOME, state dir, this checkout on PYTHONPATH)
    started: float  # time.perf_counter() just before the process was started


def spawn_gateway(
    base: Path, port: int, config: dict[str, Any], args: Sequence[str] = ()
) -> Spawned:
    """`python -m openclaw_gateway gateway run --port <port> --bind loopback <args>` in `base`,
    with `config` as `<base>/home/.openclaw/openclaw.json`; returns at once (see wait_listening)."""
    home = base / "home"
    state = write_config(home, config)
    env = clean_env()
    env |= {
        "HOME": str(home),
        "OPENCLAW_STATE_DIR": str(state),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    }
    argv = [sys.executable, "-m", "openclaw_gateway", "gateway", "run", "--port", str(port)]
    argv += ["--bind", "loopback", *args]
    with (base / "stdout.txt").open("wb") as out, (base / "stderr.txt").open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=base
        )
    return Spawned(proc, env, started)


def output(base: Path) -> str:
    """What a spawned gateway wrote so far."""
    parts = []
    for name in ("stdout.txt", "stderr.txt"):
        text = (base / name).read_text(encoding="utf-8", errors="replace")
        parts.append(f"--- {name} ---\n{text}")
    return "\n".join(parts)


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> str | None:
    """Until something accepts on 127.0.0.1:`port`; None then, else why not (the process
    ended, or `timeout` seconds passed)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return f"gateway exited early ({proc.returncode})"
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return None
        except OSError:
            if time.monotonic() > deadline:
                return f"gateway never listened on port {port} within {timeout}s"
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, a bounded wait, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=STOP_TIMEOUT_S)
