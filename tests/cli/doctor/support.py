"""A scratch install for the doctor tests: HOME, state dir, config, and real child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openclaw_gateway.cli.doctor.model import Check, Context
from openclaw_gateway.cli.doctor.runner import Report, run_doctor
from openclaw_gateway.host.service.manager import Context as ServiceContext
from tests.host.procs import readline

GOOD_TOKEN = "doctor-good-token-3f9a1c7e5b2d4a60"

# Holds the real StateLock of a state dir until stdin closes.
LOCK_HOLDER = (
    "import sys; from pathlib import Path\n"
    "from openclaw_gateway.host.lock import StateLock\n"
    "StateLock(Path(sys.argv[1])).acquire(port=1, config_path=Path(sys.argv[1]) / 'c.json')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


class Install:
    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.state = self.home / ".openclaw"
        self.state.mkdir(parents=True, mode=0o700)
        self.state.chmod(0o700)
        self.config_path = self.state / "openclaw.json"
        self.env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", ""),
            "OPENCLAW_DISABLE_BONJOUR": "1",
        }

    def write_config(self, body: dict[str, Any] | str, mode: int = 0o600) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.config_path.write_text(text, encoding="utf-8")
        self.config_path.chmod(mode)

    def good_config(self, port: int, **gateway: Any) -> None:
        self.write_config(
            {
                "gateway": {
                    "mode": "local",
                    "bind": "loopback",
                    "port": port,
                    "auth": {"mode": "token", "token": GOOD_TOKEN},
                    **gateway,
                }
            }
        )

    def context(self, **extra: Any) -> Context:
        # No service manager unless a test brings one (a recorded fake systemctl).
        extra.setdefault(
            "service",
            ServiceContext(env=self.env, sd_booted_marker=self.home / "no-systemd"),
        )
        return Context.from_env(self.env, **extra)

    def doctor(self, *, fix: bool = False, **extra: Any) -> Report:
        return run_doctor(self.context(**extra), fix=fix, refresh=lambda: self.context(**extra))


def by_id(report: Report) -> dict[str, Check]:
    return {c.id: c for c in report.checks}


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


@contextmanager
def lock_holder(state: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert readline(proc) == "locked\n"
            yield proc
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
