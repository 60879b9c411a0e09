"""A second Store on the live database in the same process (the run journal's connection)
must not drop the first one's POSIX locks: close() of any descriptor of a database file
releases all of a process's locks on it, after which another process closing its connection
believes it is the last one and deletes the WAL under the gateway (committed changes then
vanish). Regression: the official node host interop test lost its pairing row this way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openclaw_gateway.state.store import Store

OTHER_PROCESS = """
import sys
from pathlib import Path
from openclaw_gateway.state.store import Store
store = Store(Path(sys.argv[1]))
print(len(store.list_paired()))
store.close()
"""


def _other_process_reads(path: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return int(out.stdout)


def test_a_second_store_keeps_the_first_ones_wal_alive(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite"
    main = Store(path)
    journal = Store(path, any_thread=True, synchronous="NORMAL")
    try:
        wal = Path(f"{path}-wal")
        inode = os.stat(wal).st_ino
        assert _other_process_reads(path) == 0  # opens and closes its own connection
        with main.transaction():
            main.put_paired({"deviceId": "dev-1", "publicKey": "K"})
        assert os.stat(wal).st_ino == inode  # the WAL the gateway writes is still the file's
        assert _other_process_reads(path) == 1  # and what it committed is visible
    finally:
        journal.close()
        main.close()
    reopened = Store(path)
    try:
        assert [p["deviceId"] for p in reopened.list_paired()] == ["dev-1"]
    finally:
        reopened.close()


def test_a_new_database_is_still_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite"
    Store(path).close()
    assert path.stat().st_mode & 0o777 == 0o600
