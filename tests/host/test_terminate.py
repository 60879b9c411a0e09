"""host/terminate.py: SIGTERM, then SIGKILL after the grace — on real child processes, and
the shared schedule on a fake clock."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trio
import trio.testing

from openclaw_gateway.host.service.detached import proc_start_time
from openclaw_gateway.host.terminate import (
    pinned,
    stop_pids,
    stop_pids_blocking,
    terminate,
)

# Prints its pid once its SIGTERM disposition is set, then waits; "ignore-term" ignores it.
CHILD = (
    "import os, signal, sys, time\n"
    "if 'ignore-term' in sys.argv: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print(os.getpid(), flush=True)\n"
    "time.sleep(60)\n"
)
# A shell that leads its group and waits on a grandchild; prints the grandchild's pid.
PARENT_OF_SLEEPER = "sleep 60 & echo $!; wait"
GENEROUS = 10.0  # a cooperative child dies of SIGTERM long before this


async def _open(*extra: str, shell: str | None = None) -> tuple[trio.Process, int]:
    argv = ["sh", "-c", shell] if shell else [sys.executable, "-c", CHILD, *extra]
    proc = await trio.lowlevel.open_process(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            line += await proc.stdout.receive_some(64)
    await proc.stdout.aclose()
    return proc, int(line)


@contextmanager
def _popen(*extra: str) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, *extra], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert int(proc.stdout.readline()) == proc.pid
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


# -- a trio.Process we started -----------------------------------------------------------------


async def test_a_child_that_ignores_sigterm_gets_sigkill_after_the_grace(
    mock_clock: trio.testing.MockClock,
) -> None:
    mock_clock.autojump_threshold = 0.3  # skip the grace, give the real child real time
    proc, _ = await _open("ignore-term")
    start = trio.current_time()
    assert await terminate(proc, 2.0) == "sigkill"
    assert trio.current_time() - start >= 2.0
    assert proc.returncode == -signal.SIGKILL


async def test_a_child_that_exits_on_sigterm_is_not_sigkilled() -> None:
    proc, _ = await _open()
    start = trio.current_time()
    assert await terminate(proc, GENEROUS) == "sigterm"
    assert proc.returncode == -signal.SIGTERM
    assert trio.current_time() - start < GENEROUS


async def test_an_exited_child_is_not_signalled() -> None:
    proc, _ = await _open()
    proc.kill()
    await proc.wait()
    assert await terminate(proc, GENEROUS) == "exited"
    assert proc.returncode == -signal.SIGKILL


async def test_group_reaches_the_childs_own_children() -> None:
    proc, grandchild = await _open(shell=PARENT_OF_SLEEPER)
    assert proc_start_time(grandchild) is not None
    assert await terminate(proc, GENEROUS, group=True) == "sigterm"
    for _ in range(500):  # the orphan is reaped by whoever adopted it (bounded: 10 s)
        if proc_start_time(grandchild) is None:
            break
        await trio.sleep(0.02)
    else:
        raise AssertionError(f"grandchild {grandchild} outlived its group's SIGTERM")


async def test_without_group_only_the_child_is_signalled() -> None:
    proc, grandchild = await _open(shell=PARENT_OF_SLEEPER)
    try:
        assert await terminate(proc, GENEROUS) == "sigterm"
        assert proc_start_time(grandchild) is not None  # still sleeping
    finally:
        with pinned(grandchild) as send:
            if send is not None:
                send(signal.SIGKILL)


async def test_the_stop_runs_to_its_end_under_a_cancelled_scope() -> None:
    proc, _ = await _open()
    with trio.CancelScope() as scope:
        scope.cancel()
        ending = await terminate(proc, GENEROUS)
    assert ending == "sigterm"
    assert proc.returncode == -signal.SIGTERM


async def test_limit_bounds_the_whole_stop(mock_clock: trio.testing.MockClock) -> None:
    mock_clock.autojump_threshold = 0.3
    proc, _ = await _open("ignore-term")
    try:
        start = trio.current_time()
        assert await terminate(proc, 5.0, limit=1.0) == "alive"
        assert trio.current_time() - start == pytest.approx(1.0)
        assert proc.returncode is None
    finally:
        proc.kill()
        await proc.wait()


# -- bare pids (processes we did not start) ----------------------------------------------------


async def test_stop_pids_escalates_for_a_pid_that_ignores_sigterm() -> None:
    with _popen("ignore-term") as proc, pinned(proc.pid) as send:
        assert send is not None
        ending = await stop_pids(
            send, lambda: proc.poll() is not None, grace=0.3, kill_wait=GENEROUS
        )
        assert ending == "sigkill"
        assert proc.returncode == -signal.SIGKILL


async def test_stop_pids_does_not_sigkill_a_pid_that_exits_on_sigterm() -> None:
    with _popen() as proc, pinned(proc.pid) as send:
        assert send is not None
        ending = await stop_pids(
            send, lambda: proc.poll() is not None, grace=GENEROUS, kill_wait=1.0
        )
        assert ending == "sigterm"
        assert proc.returncode == -signal.SIGTERM


def test_stop_pids_blocking_on_a_real_pid() -> None:
    with _popen("ignore-term") as proc, pinned(proc.pid) as send:
        assert send is not None
        ending = stop_pids_blocking(
            send,
            lambda: proc.poll() is not None,
            grace=0.3,
            kill_wait=GENEROUS,
            sleep=time.sleep,
            clock=time.monotonic,
        )
        assert ending == "sigkill"
        assert proc.returncode == -signal.SIGKILL


def test_pinned_ignores_a_pid_that_is_gone() -> None:
    with _popen() as proc:
        proc.kill()
        proc.wait()
    with pinned(proc.pid) as send:
        assert send is None  # reaped: nothing to pin, no ProcessLookupError escapes


# -- the schedule, on a fake clock ---------------------------------------------------------------


class FakeTarget:
    """Records signals with the fake time they were sent; dies at `dies_at` (or never)."""

    def __init__(self, dies_at: float | None) -> None:
        self.now = 0.0
        self.dies_at = dies_at
        self.sent: list[tuple[signal.Signals, float]] = []

    def send(self, signum: signal.Signals) -> None:
        self.sent.append((signum, self.now))

    def gone(self) -> bool:
        return self.dies_at is not None and self.now >= self.dies_at

    def sleep(self, seconds: float) -> None:
        assert 0 < seconds <= 0.1 + 1e-9  # never longer than the poll
        self.now += seconds

    def run(self) -> str:
        return stop_pids_blocking(
            self.send,
            self.gone,
            grace=2.0,
            kill_wait=1.0,
            sleep=self.sleep,
            clock=lambda: self.now,
        )


def test_schedule_a_target_already_gone_gets_no_signal() -> None:
    target = FakeTarget(dies_at=0.0)
    assert target.run() == "exited"
    assert target.sent == []


def test_schedule_sigterm_only_when_it_is_enough() -> None:
    target = FakeTarget(dies_at=0.35)
    assert target.run() == "sigterm"
    assert target.sent == [(signal.SIGTERM, 0.0)]
    assert target.now == pytest.approx(0.4)  # noticed at the next poll


def test_schedule_sigkill_exactly_at_the_grace() -> None:
    target = FakeTarget(dies_at=2.5)
    assert target.run() == "sigkill"
    assert [s for s, _ in target.sent] == [signal.SIGTERM, signal.SIGKILL]
    assert target.sent[1][1] == pytest.approx(2.0)


def test_schedule_gives_up_after_the_kill_wait() -> None:
    target = FakeTarget(dies_at=None)
    assert target.run() == "alive"
    assert target.now == pytest.approx(3.0)
