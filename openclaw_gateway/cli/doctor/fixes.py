"""The safe repairs of `doctor --fix`. Each re-checks, right before acting, that it is safe.

Safe means: tightening permissions of our own files, removing a lock file or pidfile whose
owner is gone, and pointing an unedited systemd unit at the configured port (no restart). A file a live gateway holds is never removed: the lock is only deleted while
doctor itself holds it (so no gateway can), the pidfile only when its pid is not the gateway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Callable

from openclaw_gateway.cli.doctor.facts import exposed, lock_owner, lock_path, secret_files
from openclaw_gateway.cli.doctor.model import Change, Context
from openclaw_gateway.host.service.detached import is_gateway_process, pidfile, read_record


def fix_state_dir(ctx: Context) -> list[Change]:
    state = ctx.paths.state_dir
    try:
        info = os.stat(state)
    except OSError:
        return []
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.getuid() or not mode & 0o077:
        return []
    os.chmod(state, 0o700)
    return [Change("permissions.state-dir", f"chmod 700 {state} (was {mode:04o})")]


def fix_secret_files(ctx: Context) -> list[Change]:
    changes = []
    for path in secret_files(ctx):
        mode = exposed(path)  # regular files only: a symlink is never followed
        if mode is None:
            continue
        os.chmod(path, 0o600, follow_symlinks=False)
        changes.append(Change("permissions.secrets", f"chmod 600 {path} (was {mode:04o})"))
    return changes


def fix_lock(ctx: Context) -> list[Change]:
    path = lock_path(ctx)
    owner, held = lock_owner(ctx)
    if held:
        return [Change("lock", f"left {path} alone: held by pid {owner}", applied=False)]
    try:
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return [Change("lock", f"left {path} alone: a gateway holds it", applied=False)]
        # Ours now, so no gateway holds it: remove it while holding it.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return [Change("lock", f"removed stale lock {path} (pid {owner} is gone)")]


def fix_pidfile(ctx: Context) -> list[Change]:
    path = pidfile(ctx.paths.state_dir)
    record = read_record(path)
    if record is not None and is_gateway_process(record.pid, record.start_time):
        return [Change("pidfile", f"left {path} alone: pid {record.pid} runs", applied=False)]
    try:
        path.unlink()
    except FileNotFoundError:
        return []
    shown = f"pid {record.pid} is gone" if record is not None else "unreadable"
    return [Change("pidfile", f"removed stale pidfile {path} ({shown})")]


def fix_service_unit(ctx: Context) -> list[Change]:
    """A systemd unit serving another port than the config: rewrite it for the config's port
    (daemon-reload, no restart). A hand-edited unit, or a LaunchAgent, is left to `gateway
    install --force`."""
    from openclaw_gateway.host.service.manager import inspect
    from openclaw_gateway.host.service.results import ServiceError

    svc = ctx.service_context()
    if svc.kind != "systemd":
        return []
    info = inspect(svc)
    if not info.installed or info.port_matches is not False:
        return []
    unit = svc.systemd()
    try:
        refused = unit.retarget_port(info.config_port)
    except ServiceError as exc:
        refused = exc.message
    if refused is not None:
        return [Change("service.unit", f"left {unit.unit_path} alone: {refused}", applied=False)]
    return [
        Change(
            "service.unit",
            f"rewrote {unit.unit_path} for port {info.config_port} (was {info.service_port}; "
            "old unit in .bak); takes effect at the next `openclaw gateway restart`",
        )
    ]


FIXERS: dict[str, Callable[[Context], list[Change]]] = {
    "permissions.state-dir": fix_state_dir,
    "permissions.secrets": fix_secret_files,
    "lock": fix_lock,
    "pidfile": fix_pidfile,
    "service.unit": fix_service_unit,
}
