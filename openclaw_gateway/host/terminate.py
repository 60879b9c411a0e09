"""Stopping processes: SIGTERM, then SIGKILL once a grace has passed. Said once, here.

One rule, two shapes:

- `terminate(proc, grace)`: a trio.Process we started (a cron command, the Tailscale route
  claim, an ssh tunnel). It waits on the process itself, so it always reaps it, and runs
  shielded: a stop usually runs because of a cancellation, which must not cut it short.
  `group=True` signals the process group the child leads (start_new_session), so its own
  children go too.
- `stop_pids(send, gone, ...)` and `stop_pids_blocking(...)`: processes we did not start (the
  detached gateway a pidfile records, the listeners `--force` frees), so nothing to wait on:
  `send(signum)` signals them and `gone()` is polled. `pinned(pid)` gives the `send` for one
  such process through a pidfd, so the identity check and the signal see the same process. The trio one serves `gateway run
  --force`, the blocking one the service commands (they have no event loop). Both follow one
  schedule (`_schedule`), so the grace and poll rule cannot drift apart.

Each returns how it ended: "exited" (gone before any signal), "sigterm", "sigkill", or
"alive" (still there when the last wait ran out).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
from collections.abc import Callable, Generator, Iterator
from typing import Literal

import trio

Ending = Literal["exited", "sigterm", "sigkill", "alive"]
POLL = 0.1  # how often `gone()` is asked, in seconds

Send = Callable[[signal.Signals], None]


async def terminate(
    proc: trio.Process, grace: float, *, group: bool = False, limit: float = math.inf
) -> Ending:
    """SIGTERM `proc` (its process group with `group`), SIGKILL after `grace` seconds, reap it.

    Shielded from outside cancellation. `limit` bounds the whole stop (the SIGKILL wait
    included); past it the process is left unreaped and the result is "alive".
    """
    ending: Ending = "alive"
    with trio.move_on_after(limit, shield=True):
        if proc.returncode is not None:
            return "exited"
        _signal(proc, signal.SIGTERM, group)
        with trio.move_on_after(grace):
            await proc.wait()
        if proc.returncode is not None:
            return "sigterm"
        _signal(proc, signal.SIGKILL, group)
        await proc.wait()
        ending = "sigkill"
    return ending


def _signal(proc: trio.Process, signum: signal.Signals, group: bool) -> None:
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signum)
            if os.getpgid(proc.pid) == proc.pid:
                return  # the group signal reached the child itself
    # No group, or the child left it (setpgid): signal the child directly.
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signum)


@contextlib.contextmanager
def pinned(pid: int) -> Iterator[Send | None]:
    """`send` bound to the process that is `pid` *now* (through a pidfd), None if it is gone.

    Check the process's identity inside the block: once the pidfd is open, a signal can only
    reach that process, never one that reused the pid after the check (os.kill by pid could).
    A process that exited meanwhile is not an error.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        yield None
        return

    def send(signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(fd, signum)

    try:
        yield send
    finally:
        os.close(fd)


def _schedule(
    send: Send,
    gone: Callable[[], bool],
    grace: float,
    kill_wait: float,
    poll: float,
    clock: Callable[[], float],
) -> Generator[float, None, Ending]:
    """The rule without I/O: yields how long to sleep, returns how it ended."""
    if gone():
        return "exited"
    send(signal.SIGTERM)
    if (yield from _until(gone, clock() + grace, poll, clock)):
        return "sigterm"
    send(signal.SIGKILL)
    if (yield from _until(gone, clock() + kill_wait, poll, clock)):
        return "sigkill"
    return "alive"


def _until(
    gone: Callable[[], bool], deadline: float, poll: float, clock: Callable[[], float]
) -> Generator[float, None, bool]:
    """True once `gone()` holds, False when the deadline passes first (checked once more)."""
    while True:
        if gone():
            return True
        now = clock()
        if now >= deadline:
            return False
        yield min(poll, deadline - now)


class _Steps:
    """Iterates over a schedule's sleeps and keeps what it returned."""

    def __init__(self, schedule: Generator[float, None, Ending]) -> None:
        self._schedule = schedule
        self.ending: Ending = "alive"

    def __iter__(self) -> Generator[float, None, None]:
        self.ending = yield from self._schedule


async def stop_pids(
    send: Send, gone: Callable[[], bool], *, grace: float, kill_wait: float, poll: float = POLL
) -> Ending:
    """SIGTERM, poll `gone()` up to `grace`, SIGKILL, poll up to `kill_wait` more (trio)."""
    steps = _Steps(_schedule(send, gone, grace, kill_wait, poll, trio.current_time))
    for delay in steps:
        await trio.sleep(delay)
    return steps.ending


def stop_pids_blocking(
    send: Send,
    gone: Callable[[], bool],
    *,
    grace: float,
    kill_wait: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    poll: float = POLL,
) -> Ending:
    """stop_pids for callers without an event loop; they bring their own `sleep` and `clock`."""
    steps = _Steps(_schedule(send, gone, grace, kill_wait, poll, clock))
    for delay in steps:
        sleep(delay)
    return steps.ending
