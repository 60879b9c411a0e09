"""What the doctor's checks and its fixes both read about a state dir, read-only: the lock
file and who holds it (/proc/locks, never by taking it), the files that hold secrets, and
whether others may read a file; and how a path is shown (`~` for home).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from openclaw_gateway.cli.doctor.model import Context
from openclaw_gateway.client.identity import AUTH_FILE, IDENTITY_FILE
from openclaw_gateway.core.paths import shorten_home
from openclaw_gateway.host.lock import LOCK_NAME, read_lock_record
from openclaw_gateway.host.service.detached import is_gateway_process
from openclaw_gateway.host.service.launchd import ENV_FILE_NAME as LAUNCHD_ENV_FILE
from openclaw_gateway.host.service.systemd import ENV_FILE_NAME as SYSTEMD_ENV_FILE


def show(path: Path, ctx: Context) -> str:
    return shorten_home(path, ctx.env)


def lock_path(ctx: Context) -> Path:
    return ctx.paths.lock_dir / LOCK_NAME


def flock_holders(path: Path, proc: Path) -> set[int]:
    """Pids holding a flock on `path`, from /proc/locks (read-only: never takes the lock)."""
    try:
        info = os.stat(path)
        lines = (proc / "locks").read_text().splitlines()
    except OSError:
        return set()
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    holders = set()
    for line in lines:
        parts = line.split()
        # `1: FLOCK  ADVISORY  WRITE 1234 fe:00:5309745 0 EOF` (blocked waiters start with ->)
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == device:
            holders.add(int(parts[4]))
    return holders


def lock_owner(ctx: Context) -> tuple[int | None, bool]:
    """(pid written in the lock file, whether a live process holds the lock)."""
    path = lock_path(ctx)
    record = read_lock_record(path)
    pid = record.pid if record is not None else None
    holders = flock_holders(path, ctx.proc)
    if holders:
        return (pid if pid in holders else min(holders)), True
    # /proc/locks may name another device on some filesystems: a live gateway pid counts too.
    return pid, pid is not None and is_gateway_process(pid)


def secret_files(ctx: Context) -> Iterator[Path]:
    """Files holding secrets that exist (symlinks are reported, never followed)."""
    state = ctx.paths.state_dir
    candidates = [
        ctx.paths.runtime_token_path,
        state / SYSTEMD_ENV_FILE,
        state / LAUNCHD_ENV_FILE,
        state / "identity" / IDENTITY_FILE,
        state / "identity" / AUTH_FILE,
        state / "state" / "gateway.sqlite",  # paired devices and their tokens
        state / "state" / "gateway.sqlite-wal",
    ]
    if _config_has_inline_secret(ctx):
        candidates.append(ctx.paths.config_path)
    for path in candidates:
        if path.is_symlink() or path.exists():
            yield path


def _config_has_inline_secret(ctx: Context) -> bool:
    gw = ctx.config.raw.get("gateway")
    if not isinstance(gw, dict):
        return False
    for section in ("auth", "remote"):
        block = gw.get(section)
        if isinstance(block, dict) and any(
            isinstance(block.get(k), str) and block.get(k) for k in ("token", "password")
        ):
            return True
    return False


def exposed(path: Path) -> int | None:
    """The permission bits when group/others may read or write `path`, else None."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    mode = stat.S_IMODE(info.st_mode)
    return mode if mode & 0o077 else None
