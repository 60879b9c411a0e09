"""Keep trio's autojump clock from jumping while a worker thread runs.

The autojump clock jumps to the next deadline as soon as no task is runnable. A task waiting
for `trio.to_thread.run_sync` (the run journal's sqlite commit, a config file read) is not
runnable, so virtual time flies through every pending deadline while the thread works for a
few real milliseconds: a turn that should finish at once times out, a heartbeat never comes.
How far time flies depends on the machine's load, which made such tests flaky.

`hold_virtual_time_during_threads` (an autouse fixture in conftest.py) wraps
`trio.to_thread.run_sync` so that, only under an autojump clock, a spinner task stays runnable
(it checkpoints in a loop) until the thread is done: virtual time stands still, as it would if
the work had been instant. Outside an autojump clock the real function runs untouched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import trio
import trio.testing

_real_run_sync = trio.to_thread.run_sync


def autojump_active() -> bool:
    """Whether this trio run is on a MockClock that currently autojumps."""
    try:
        clock = trio.lowlevel.current_clock()
    except RuntimeError:  # not inside trio.run
        return False
    return isinstance(clock, trio.testing.MockClock) and clock.autojump_threshold != math.inf


async def _stay_runnable() -> None:
    while True:
        # A short real sleep hands the GIL to the worker thread; a bare checkpoint loop
        # would hold it and slow the thread down many times over.
        time.sleep(0.0002)  # noqa: ASYNC251  (meant to block: see above)
        await trio.lowlevel.checkpoint()


async def run_sync_holding_time(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if not autojump_active():
        return await _real_run_sync(fn, *args, **kwargs)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stay_runnable)
        try:
            return await _real_run_sync(fn, *args, **kwargs)
        finally:
            nursery.cancel_scope.cancel()
