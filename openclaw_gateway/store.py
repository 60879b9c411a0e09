"""The embedded state database: the only module that speaks SQL (stdlib sqlite3, WAL).

`<stateDir>/state/gateway.sqlite` holds paired devices, pending pairing requests and device
tokens. Rows are a key plus a JSON document (the record shapes live in pairing.py), which keeps
the SQL small and the schema stable while records grow fields.

Durability: every state change runs inside `transaction()` (BEGIN IMMEDIATE ... COMMIT), and
callers answer the client only after it returns, so a `kill -9` after an acknowledged change
loses nothing. synchronous=FULL makes the commit durable across power loss too. Calls are
synchronous: local SQLite answers in microseconds, well under one event-loop tick.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Record = dict[str, Any]
DB_NAME = "gateway.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS paired_devices (
  device_id TEXT PRIMARY KEY,
  data TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pairing_requests (
  request_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS pairing_requests_device ON pairing_requests(device_id);
CREATE TABLE IF NOT EXISTS device_tokens (
  device_id TEXT NOT NULL REFERENCES paired_devices(device_id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (device_id, role)
) STRICT;
"""


def db_path(state_dir: Path) -> Path:
    return state_dir / "state" / DB_NAME


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if str(path) != ":memory:":
            # Device tokens are bearer secrets: owner-only. SQLite gives the -wal/-shm files
            # the main file's mode, so creating it 0600 first covers them too.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in `transaction`).
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._depth = 0
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        return cls(db_path(state_dir))

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One atomic unit; nested calls join the outermost transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        self._db.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> Record | None:
        row = self._db.execute(sql, args).fetchone()
        return json.loads(row[0]) if row else None

    def _all(self, sql: str, *args: Any) -> list[Record]:
        return [json.loads(row[0]) for row in self._db.execute(sql, args).fetchall()]

    # --- paired devices ----------------------------------------------------------------------

    def get_paired(self, device_id: str) -> Record | None:
        return self._one("SELECT data FROM paired_devices WHERE device_id = ?", device_id)

    def list_paired(self) -> list[Record]:
        return self._all("SELECT data FROM paired_devices ORDER BY device_id")

    def put_paired(self, record: Record) -> None:
        self._db.execute(
            "INSERT INTO paired_devices(device_id, data) VALUES (?, ?) "
            "ON CONFLICT(device_id) DO UPDATE SET data = excluded.data",
            (record["deviceId"], json.dumps(record)),
        )

    def delete_paired(self, device_id: str) -> bool:
        cur = self._db.execute("DELETE FROM paired_devices WHERE device_id = ?", (device_id,))
        return cur.rowcount > 0

    # --- device tokens -----------------------------------------------------------------------

    def tokens_for(self, device_id: str) -> dict[str, Record]:
        rows = self._all("SELECT data FROM device_tokens WHERE device_id = ?", device_id)
        return {r["role"]: r for r in rows}

    def put_token(self, device_id: str, record: Record) -> None:
        self._db.execute(
            "INSERT INTO device_tokens(device_id, role, data) VALUES (?, ?, ?) "
            "ON CONFLICT(device_id, role) DO UPDATE SET data = excluded.data",
            (device_id, record["role"], json.dumps(record)),
        )

    # --- pending pairing requests ------------------------------------------------------------

    def get_pending(self, request_id: str) -> Record | None:
        return self._one("SELECT data FROM pairing_requests WHERE request_id = ?", request_id)

    def list_pending(self) -> list[Record]:
        return self._all("SELECT data FROM pairing_requests ORDER BY rowid")

    def pending_for(self, device_id: str) -> list[Record]:
        return self._all("SELECT data FROM pairing_requests WHERE device_id = ?", device_id)

    def put_pending(self, record: Record) -> None:
        self._db.execute(
            "INSERT INTO pairing_requests(request_id, device_id, data) VALUES (?, ?, ?) "
            "ON CONFLICT(request_id) DO UPDATE SET data = excluded.data",
            (record["requestId"], record["deviceId"], json.dumps(record)),
        )

    def delete_pending(self, request_id: str) -> bool:
        cur = self._db.execute("DELETE FROM pairing_requests WHERE request_id = ?", (request_id,))
        return cur.rowcount > 0

    def delete_pending_for(self, device_id: str) -> None:
        self._db.execute("DELETE FROM pairing_requests WHERE device_id = ?", (device_id,))

    def counts(self) -> dict[str, int]:
        """Row counts per table (tests assert that an attack changed nothing)."""
        out = {}
        for table in ("paired_devices", "pairing_requests", "device_tokens"):
            out[table] = int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return out
