"""One gateway per state directory: an exclusive lock file with the owner's pid.

The lock is an `fcntl.flock` on `<stateDir>/tmp/gateway.state.lock`: the kernel drops it when
the owner dies (even on kill -9), so a stale file from a dead pid is reclaimed by simply
locking it again. The JSON inside (pid, port, createdAt) is for humans and error messages.

Within one process the lock is re-entrant (counted): the run command takes it before it writes
anything into the state dir (the runtime token), and the supervisor's own acquire then nests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import IO

import attrs

from openclaw_gateway.core.errors import EXIT_CONFIG, StartupError

LOCK_NAME = "gateway.state.lock"

# Locks this process holds: absolute lock path -> (open file, nesting count).
_HELD: dict[str, tuple[IO[str], int]] = {}


class StateLockError(StartupError):
    """Another live process owns this state directory (exit 78, as the official gateway)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=EXIT_CONFIG)


@attrs.frozen
class LockRecord:
    """What the owner wrote into the lock file (the one reader of that format)."""

    pid: int
    created_at: str | None = None  # changes on every acquire, also across in-process restarts


def parse_lock_record(text: str) -> LockRecord | None:
    try:
        data = json.loads(text or "{}")
        pid = int(data["pid"])
    except (ValueError, KeyError, TypeError):
        return None
    created = data.get("createdAt")
    return LockRecord(pid, created if isinstance(created, str) else None)


def read_lock_record(path: Path) -> LockRecord | None:
    """A lock file's record, without taking the lock (None: no file, or not readable)."""
    try:
        return parse_lock_record(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _owner_pid(fh: IO[str]) -> str:
    with contextlib.suppress(OSError):
        fh.seek(0)
        record = parse_lock_record(fh.read())
        if record is not None:
            return str(record.pid)
    return "unknown"


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "tmp" / LOCK_NAME
        self._key = os.path.abspath(self.path)
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self, *, port: int, config_path: Path) -> None:
        if self._fh is not None:
            return
        nested = _HELD.get(self._key)
        if nested is not None:
            _HELD[self._key] = (nested[0], nested[1] + 1)
            self._fh = nested[0]
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner_pid(fh)
            fh.close()
            raise StateLockError(
                f"gateway already running (pid {owner}) for state dir {self.path.parent.parent}; "
                "stop it first (openclaw gateway stop) or use another --profile"
            ) from None
        except BaseException:
            fh.close()
            raise
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
        _HELD[self._key] = (fh, 1)
        self._fh = fh

    def release(self) -> None:
        fh = self._fh
        if fh is None:
            return
        self._fh = None
        held = _HELD.get(self._key)
        if held is not None and held[0] is fh and held[1] > 1:
            _HELD[self._key] = (fh, held[1] - 1)
            return
        _HELD.pop(self._key, None)
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
