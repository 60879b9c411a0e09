"""One gateway per state directory: an exclusive lock file with the owner's pid.

The lock is an `fcntl.flock` on `<stateDir>/tmp/gateway.state.lock`: the kernel drops it when
the owner dies (even on kill -9), so a stale file from a dead pid is reclaimed by simply
locking it again. The JSON inside (pid, port, createdAt) is for humans and error messages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import IO

from openclaw_gateway.errors import EXIT_CONFIG, StartupError

LOCK_NAME = "gateway.state.lock"


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "tmp" / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self, *, port: int, config_path: Path) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = "unknown"
            with contextlib.suppress(ValueError, KeyError):
                owner = str(json.loads(fh.read() or "{}")["pid"])
            fh.close()
            raise StartupError(
                f"gateway already running (pid {owner}) for state dir {self.path.parent.parent}; "
                "stop it first (openclaw gateway stop) or use another --profile",
                exit_code=EXIT_CONFIG,
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "createdAt": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "configPath": str(config_path),
                    "stateDir": str(self.path.parent.parent),
                    "port": port,
                }
            )
        )
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None
