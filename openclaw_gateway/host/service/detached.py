"""No service manager (containers, minimal hosts): the gateway as a detached process.

`start` runs `<python> -m openclaw_gateway gateway run` in a session of its own (setsid: no
controlling terminal, survives the shell), output appended to `<stateDir>/logs/gateway.log`
and `gateway.err.log`, and records it in `<stateDir>/gateway.pid`:

    {"pid": 4242, "startTime": 123456, "port": 18789, "createdAt": "…", "argv": [...]}

A pid alone is not an identity (pids are reused), so a record counts only while /proc shows
the same start time (field 22 of /proc/<pid>/stat) and a gateway command line; anything else
is stale and reclaimed. The state lock (lock.py) stays the real guard against two gateways
on one state dir; the pidfile only says which process *we* started. Each command holds
`gateway.pid.lock` (flock) from its check to its pidfile write or removal, and signals a
recorded pid through a pidfd opened before the identity check (terminate.pinned).

There is no restart on crash or at boot: that needs a service manager (systemd/launchd).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs

from openclaw_gateway.core.atomicfile import write_atomic
from openclaw_gateway.host.service import files
from openclaw_gateway.host.service.results import ServiceError
from openclaw_gateway.host.terminate import pinned, stop_pids_blocking

PIDFILE_NAME = "gateway.pid"
LOCKFILE_NAME = "gateway.pid.lock"
START_TIMEOUT = 30.0  # the systemd unit's TimeoutStartSec
STOP_TIMEOUT = 15.0  # SIGTERM -> clean exit: drain (5 s) + cleanup (2 s) + margin
KILL_WAIT = 5.0
POLL = 0.1
LOG_TAIL_LINES = 12
# A waiting command outlasts one start (health wait) or one stop (SIGTERM grace + SIGKILL).
EXCLUSIVE_TIMEOUT = START_TIMEOUT + STOP_TIMEOUT + KILL_WAIT + 5.0


@attrs.frozen
class PidRecord:
    pid: int
    start_time: int
    port: int | None = None
    created_at: str | None = None


def proc_start_time(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Start time in clock ticks since boot, or None when the pid is gone (or a zombie)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # exited, waiting to be reaped: not running
        return None
    return int(fields[19])


def proc_cmdline(pid: int, proc: Path = Path("/proc")) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def looks_like_gateway(argv: Sequence[str]) -> bool:
    """`python -m openclaw_gateway gateway …`, `openclaw gateway …`, `openclaw-gateway …`.

    Two on purpose: this one is strict because a match lets us signal the pid; the loose
    ports.looks_like_gateway (comm + any "openclaw" word) only makes --force refuse a kill.
    """
    names = [os.path.basename(a) for a in argv]
    if "openclaw_gateway" in argv and "gateway" in argv:
        return True
    if names and names[0] == "openclaw-gateway":
        return True
    return any(n in ("openclaw", "openclaw-gateway") for n in names[:2]) and "gateway" in argv


def is_gateway_process(pid: int, start_time: int | None = None) -> bool:
    started = proc_start_time(pid)
    if started is None or (start_time is not None and started != start_time):
        return False
    return looks_like_gateway(proc_cmdline(pid))


def pidfile(state_dir: Path) -> Path:
    return state_dir / PIDFILE_NAME


def read_record(path: Path) -> PidRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pid, start = int(data["pid"]), int(data["startTime"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    port = data.get("port")
    return PidRecord(pid, start, port if isinstance(port, int) else None, data.get("createdAt"))


def log_paths(state_dir: Path) -> tuple[Path, Path]:
    return state_dir / "logs" / "gateway.log", state_dir / "logs" / "gateway.err.log"


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


# Variables that describe *our* supervisor, not the detached child's (it has none).
_NOT_INHERITED = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
)


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in _NOT_INHERITED}


def _reap(pid: int) -> None:
    """If the gateway is our own child (in-process callers), collect it so it is not a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _alive(record: PidRecord) -> bool:
    _reap(record.pid)
    return proc_start_time(record.pid) == record.start_time


@attrs.define
class DetachedService:
    state_dir: Path
    env: Mapping[str, str]
    program: tuple[str, ...]
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @property
    def pidfile(self) -> Path:
        return pidfile(self.state_dir)

    @contextlib.contextmanager
    def exclusive(self, timeout: float = EXCLUSIVE_TIMEOUT) -> Iterator[None]:
        """Hold `<stateDir>/gateway.pid.lock` (flock): one check -> spawn -> pidfile (or check
        -> stop) at a time, so a start that lost a race cannot remove the winner's pidfile.

        Waits for a concurrent command (a start holds it until health, up to 30 s); the
        detached child never inherits the descriptor (close_fds), so it never holds it.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(
            self.state_dir / LOCKFILE_NAME,
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        try:
            deadline = self.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self.monotonic() >= deadline:
                        raise ServiceError(
                            "Another gateway start/stop/restart is still running on this state "
                            f"dir (it holds {self.state_dir / LOCKFILE_NAME}); try again."
                        ) from None
                    self.sleep(POLL)
            yield
        finally:
            os.close(fd)  # releases the flock

    def running(self) -> PidRecord | None:
        """Read-only: the verified running gateway we started, if any."""
        record = read_record(self.pidfile)
        if record is not None and is_gateway_process(record.pid, record.start_time):
            return record
        return None

    def current(self) -> tuple[PidRecord | None, PidRecord | None]:
        """(the verified running gateway we started, a stale record that was reclaimed)."""
        record = read_record(self.pidfile)
        if record is None:
            if self.pidfile.exists():  # unreadable: not ours to trust, not a process to signal
                files.remove(self.pidfile)
            return None, None
        if is_gateway_process(record.pid, record.start_time):
            return record, None
        files.remove(self.pidfile)
        return None, record

    def spawn(self, port: int) -> tuple[subprocess.Popen[bytes], PidRecord]:
        out_path, err_path = log_paths(self.state_dir)
        out_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            proc = subprocess.Popen(
                list(self.program),
                env=child_env(self.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # setsid: its own session, no controlling terminal
                close_fds=True,
                cwd=str(self.state_dir),
            )
        start = proc_start_time(proc.pid)
        record = PidRecord(
            proc.pid,
            start if start is not None else -1,
            port,
            dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        )
        body = {
            "pid": record.pid,
            "startTime": record.start_time,
            "port": port,
            "createdAt": record.created_at,
            "argv": list(self.program),
        }
        write_atomic(self.pidfile, json.dumps(body) + "\n", 0o600)
        return proc, record

    def wait_ready(
        self,
        proc: subprocess.Popen[bytes],
        healthy: Callable[[], bool],
        timeout: float = START_TIMEOUT,
    ) -> None:
        """Until `healthy()`; ServiceError when the child exits, result still-starting on timeout."""
        deadline = self.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                files.remove(self.pidfile)
                out_path, err_path = log_paths(self.state_dir)
                lines = tail(err_path) or tail(out_path)
                detail = "\n".join(lines) if lines else "(no output)"
                raise ServiceError(
                    f"Gateway start failed: the gateway exited with code {code} before it "
                    f"answered health.\n{detail}",
                    hints=(f"Logs: {err_path}", "openclaw gateway run (foreground, to see why)"),
                )
            if healthy():
                return
            if self.monotonic() >= deadline:
                raise ServiceError(
                    f"Gateway start timed out after {timeout:.0f}s waiting for health "
                    f"(pid {proc.pid} is still running).",
                    hints=("openclaw gateway status --deep",),
                    result="still-starting",
                )
            self.sleep(POLL)

    def stop(self, record: PidRecord, timeout: float = STOP_TIMEOUT) -> str:
        """SIGTERM, SIGKILL after `timeout` (host/terminate.py); removes the pidfile.

        Returns "sigterm" or "sigkill"; ServiceError when even SIGKILL did not end it.
        """
        with pinned(record.pid) as send:
            ending = "exited"
            # Identity checked after the pidfd is open: the process signalled is the one seen.
            if send is not None and _alive(record):
                ending = stop_pids_blocking(
                    send,
                    lambda: not _alive(record),
                    grace=timeout,
                    kill_wait=KILL_WAIT,
                    poll=POLL,
                    sleep=self.sleep,
                    clock=self.monotonic,
                )
        if ending == "alive":
            raise ServiceError(f"Gateway pid {record.pid} did not exit after SIGKILL.")
        files.remove(self.pidfile)
        return "sigkill" if ending == "sigkill" else "sigterm"
