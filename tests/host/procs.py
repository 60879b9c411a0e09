"""Child processes for the CLI unit tests: a plain TCP listener, a lock holder. Bounded reads."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

LISTENER = (
    "import signal, socket, sys\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
    "if 'ignore-term' in sys.argv: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print(s.getsockname()[1], flush=True)\n"
    "sys.stdin.read()\n"
)


def readline(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """One stdout line from `proc`, or AssertionError after `timeout` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no output from pid {proc.pid} within {timeout}s")
    return proc.stdout.readline()


@contextmanager
def listener(*extra: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A python process listening on 127.0.0.1:<port>; `extra` words end up in its argv."""
    with subprocess.Popen(
        [sys.executable, "-c", LISTENER, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            port = int(readline(proc))
            yield proc, port
        finally:
            if proc.poll() is None:
                proc.kill()
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


def wait_dead(proc: subprocess.Popen[str], timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        assert time.monotonic() < deadline, f"pid {proc.pid} still alive"
        time.sleep(0.02)
    return proc.returncode
