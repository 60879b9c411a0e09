"""lock.py: one gateway per state dir (flock), stale files reclaimed, re-entrant in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openclaw_gateway.host.lock import LOCK_NAME, StateLock, StateLockError
from tests.host.procs import readline

HOLDER = (
    "import sys; from pathlib import Path; from openclaw_gateway.host.lock import StateLock; "
    "lock = StateLock(Path(sys.argv[1])); lock.acquire(port=1, config_path=Path('c.json')); "
    "print('ready', flush=True); sys.stdin.read()"
)


def _lock_pid(state: Path) -> int | None:
    try:
        return int(json.loads((state / "tmp" / LOCK_NAME).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_acquire_writes_the_owner_and_release_clears_it(tmp_path: Path) -> None:
    lock = StateLock(tmp_path)
    lock.acquire(port=19001, config_path=tmp_path / "openclaw.json")
    try:
        data = json.loads((tmp_path / "tmp" / LOCK_NAME).read_text())
        assert data["pid"] == os.getpid()
        assert data["port"] == 19001
        assert data["stateDir"] == str(tmp_path)
    finally:
        lock.release()
    assert (tmp_path / "tmp" / LOCK_NAME).read_text() == ""
    lock.release()  # idempotent


def test_in_process_acquires_nest(tmp_path: Path) -> None:
    outer, inner = StateLock(tmp_path), StateLock(tmp_path)
    outer.acquire(port=1, config_path=tmp_path / "c")
    inner.acquire(port=2, config_path=tmp_path / "c")
    inner.release()
    assert _lock_pid(tmp_path) == os.getpid()  # still held by the outer owner
    outer.release()
    assert _lock_pid(tmp_path) is None


def test_a_stale_lock_file_from_a_dead_pid_is_reclaimed(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    dead = int(done.stdout)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / LOCK_NAME).write_text(json.dumps({"pid": dead, "port": 1}))
    lock = StateLock(tmp_path)
    lock.acquire(port=2, config_path=tmp_path / "c")
    try:
        assert _lock_pid(tmp_path) == os.getpid()
    finally:
        lock.release()


def test_a_live_owner_in_another_process_blocks_with_exit_78(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert readline(holder).strip() == "ready"
            with pytest.raises(StateLockError) as info:
                StateLock(tmp_path).acquire(port=3, config_path=tmp_path / "c")
            assert info.value.exit_code == 78
            assert str(info.value) == (
                f"gateway already running (pid {holder.pid}) for state dir {tmp_path}; stop it "
                "first (openclaw gateway stop) or use another --profile"
            )
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=30)
    # The kernel dropped the lock with the process: it can be taken again.
    deadline = time.monotonic() + 10
    lock = StateLock(tmp_path)
    while True:
        try:
            lock.acquire(port=4, config_path=tmp_path / "c")
            break
        except StateLockError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    lock.release()
