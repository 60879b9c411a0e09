"""Helpers for the CLI tests: a scratch HOME, config writing, in-process and subprocess runs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"
STAMP = re.compile(rf"^{TS} ")


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """The parent's environment minus every OPENCLAW_* variable, with HOME under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", NO_COLOR="1")
    env.update(extra)
    return env


def write_config(home: Path, data: dict[str, Any] | str, *, state: str = ".openclaw") -> Path:
    path = home / state / "openclaw.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def local_config(home: Path, **gateway: Any) -> Path:
    """mode=local, the file log inside tmp (never /tmp/openclaw)."""
    return write_config(
        home,
        {"gateway": {"mode": "local", **gateway}, "logging": {"file": str(home / "gw.log")}},
    )


def unstamp(text: str) -> list[str]:
    """Lines with the `<ISO ts> ` prefix removed (and checked where present)."""
    return [STAMP.sub("", line) for line in text.splitlines()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m openclaw_gateway <args>` to completion (for paths that never serve)."""
    return subprocess.run(
        [sys.executable, "-m", "openclaw_gateway", *args],
        env=env,
        cwd=env["HOME"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until `needle` shows up in the file `path` (or the process dies, or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(errors="replace") if path.exists() else ""
        if needle in text:
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} before {needle!r}:\n{text}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {needle!r} within {timeout}s:\n{text}")
        time.sleep(0.05)
