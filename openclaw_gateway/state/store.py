"""The embedded state database: the only module that speaks SQL (stdlib sqlite3, WAL).

`<stateDir>/state/gateway.sqlite` holds paired devices, pending pairing requests, device
tokens, cron jobs (definition + scheduler state), cron run records, and conversations:
sessions (key -> metadata), their transcripts (one row per message) and chat runs (runId ->
status, the idempotency record of chat.send/agent). Rows are a key plus a JSON document (the
record shapes live in state/device_records.py, state/sessions.py, server/cron/), which keeps
the SQL small and the schema stable while records grow fields.

Durability: every state change runs inside `transaction()` (BEGIN IMMEDIATE ... COMMIT), and
callers answer the client only after it returns, so a `kill -9` after an acknowledged change
loses nothing. Reads of several rows use `reading()` (BEGIN DEFERRED: a snapshot, no write
lock, nothing to sync). synchronous=FULL makes the commit durable across power loss too, and
that is its price: each COMMIT waits for an fsync of the WAL. Calls are synchronous and run on
the event loop, so a write stalls it for that fsync: about 0.4 ms on the development VM
(median of 200 single-row commits), typically milliseconds on an SSD and tens of milliseconds
on a spinning disk. Reads never fsync (well under a millisecond for a small table). The one hot
path that commits per agent turn (server/runs/journal.py) does so from a worker thread on its
own connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openclaw_gateway.state.schema import SCHEMA as _SCHEMA

Record = dict[str, Any]
DB_NAME = "gateway.sqlite"
# What the database raises when it refuses a change (locked, full, I/O): callers outside
# this module catch it without importing sqlite3.
DatabaseError = sqlite3.Error


# When a pending request was last created or refreshed; the same expression as the index
# `pairing_requests_seen`, so SQLite can use it (device_records.pending_live in SQL).
_PENDING_SEEN = (
    "coalesce(nullif(json_extract(data, '$.refreshedAtMs'), 0), json_extract(data, '$.ts'))"
)


def db_path(state_dir: Path) -> Path:
    return state_dir / "state" / DB_NAME


class Store:
    def __init__(self, path: Path, *, synchronous: str = "FULL", any_thread: bool = False) -> None:
        """`any_thread`: the caller serializes use across threads (server/runs/journal.py);
        `synchronous` NORMAL: a commit survives a crash of the process, not of the machine."""
        assert synchronous in ("FULL", "NORMAL")
        path.parent.mkdir(parents=True, exist_ok=True)
        if str(path) != ":memory:":
            # Device tokens are bearer secrets: owner-only. SQLite gives the -wal/-shm files
            # the main file's mode, so creating it 0600 first covers them too. Only a file
            # that does not exist yet is opened here: close() of any descriptor of a database
            # file drops every POSIX lock this process holds on it, so opening and closing a
            # live database (a second Store in the same process: server/runs/journal.py) lets
            # another process believe it is the last connection and delete the WAL under us
            # (sqlite.org/howtocorrupt.html §2.2; tests/state/test_store_second_connection.py).
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in `transaction`).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=not any_thread)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        # One transaction for the whole schema: one fsync under synchronous=FULL instead of
        # one per statement (this is on the start-up path).
        self._db.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
        self._depth = 0
        self._reading = False
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        return cls(db_path(state_dir))

    def close(self) -> None:
        self._db.close()

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One atomic unit; nested calls join the outermost transaction."""
        if self._reading:
            raise RuntimeError("a write inside a read-only snapshot")
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

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A consistent read of several rows without the write lock (a deferred transaction
        that only reads); inside `transaction()` or another read it joins that one."""
        if self._depth or self._reading:
            yield self
            return
        self._db.execute("BEGIN DEFERRED")
        self._reading = True
        try:
            yield self
        finally:
            self._reading = False
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

    def delete_pending_seen_before(self, cutoff_ms: int) -> int:
        """Drop requests last created or refreshed at or before `cutoff_ms` (by the index,
        without decoding the rows)."""
        cur = self._db.execute(
            f"DELETE FROM pairing_requests WHERE {_PENDING_SEEN} <= ?", (cutoff_ms,)
        )
        return cur.rowcount

    def count_pending(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM pairing_requests").fetchone()[0])

    def delete_oldest_pending_of_busiest_ip(self) -> str | None:
        """Drop the oldest request of the remote address that holds the most (ties: the
        address with the oldest request). Returns its requestId."""
        row = self._db.execute(
            f"""
            WITH by_ip AS (
              SELECT request_id, {_PENDING_SEEN} AS seen,
                     coalesce(json_extract(data, '$.remoteIp'), '') AS ip
              FROM pairing_requests
            ), busiest AS (
              SELECT ip FROM by_ip GROUP BY ip ORDER BY count(*) DESC, min(seen) LIMIT 1
            )
            SELECT request_id FROM by_ip WHERE ip = (SELECT ip FROM busiest)
            ORDER BY seen LIMIT 1
            """
        ).fetchone()
        if row is None:
            return None
        self.delete_pending(row[0])
        return str(row[0])

    # --- cron jobs and runs -------------------------------------------------------------------

    def cron_jobs(self) -> list[tuple[Record, Record]]:
        """Every job as (definition, state), in creation order."""
        rows = self._db.execute("SELECT job_json, state_json FROM cron_jobs ORDER BY rowid")
        return [(json.loads(j), json.loads(s)) for j, s in rows.fetchall()]

    def cron_job(self, job_id: str) -> tuple[Record, Record] | None:
        row = self._db.execute(
            "SELECT job_json, state_json FROM cron_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def cron_job_by_declaration(self, key: str) -> tuple[Record, Record] | None:
        row = self._db.execute(
            "SELECT job_json, state_json FROM cron_jobs WHERE declaration_key = ?", (key,)
        ).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def cron_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM cron_jobs").fetchone()[0])

    def cron_put_job(self, job: Record, state: Record) -> None:
        self._db.execute(
            "INSERT INTO cron_jobs(id, declaration_key, job_json, state_json, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "declaration_key = excluded.declaration_key, job_json = excluded.job_json, "
            "state_json = excluded.state_json, updated_at = excluded.updated_at",
            (
                job["id"],
                job.get("declarationKey"),
                json.dumps(job),
                json.dumps(state),
                int(job.get("updatedAtMs", 0)),
            ),
        )

    def cron_put_state(self, job_id: str, state: Record) -> bool:
        cur = self._db.execute(
            "UPDATE cron_jobs SET state_json = ? WHERE id = ?", (json.dumps(state), job_id)
        )
        return cur.rowcount > 0

    def cron_delete_job(self, job_id: str) -> bool:
        cur = self._db.execute("DELETE FROM cron_jobs WHERE id = ?", (job_id,))
        return cur.rowcount > 0

    def cron_insert_run(self, run_id: str, job_id: str, started_at_ms: int, entry: Record) -> None:
        self._db.execute(
            "INSERT INTO cron_runs(run_id, job_id, status, started_at_ms, entry_json) "
            "VALUES (?, ?, 'running', ?, ?)",
            (run_id, job_id, started_at_ms, json.dumps(entry)),
        )

    def cron_finish_run(self, run_id: str, status: str, finished_at_ms: int, entry: Record) -> None:
        self._db.execute(
            "UPDATE cron_runs SET status = ?, finished_at_ms = ?, entry_json = ? WHERE run_id = ?",
            (status, finished_at_ms, json.dumps(entry), run_id),
        )

    def cron_running(self) -> list[tuple[str, str, int, Record]]:
        """Runs still marked running: (run_id, job_id, started_at_ms, entry)."""
        rows = self._db.execute(
            "SELECT run_id, job_id, started_at_ms, entry_json FROM cron_runs "
            "WHERE status = 'running' ORDER BY started_at_ms"
        ).fetchall()
        return [(r, j, int(t), json.loads(e)) for r, j, t, e in rows]

    def cron_runs(self, job_id: str | None = None) -> list[tuple[str, Record]]:
        """Finished runs (status, entry), oldest first; one job's or all."""
        sql = "SELECT status, entry_json FROM cron_runs WHERE status != 'running'"
        args: tuple[Any, ...] = ()
        if job_id is not None:
            sql += " AND job_id = ?"
            args = (job_id,)
        rows = self._db.execute(sql + " ORDER BY finished_at_ms, rowid", args).fetchall()
        return [(s, json.loads(e)) for s, e in rows]

    def cron_run_count(self, job_id: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM cron_runs WHERE job_id = ?", (job_id,))
        return int(row.fetchone()[0])

    def cron_prune_runs(self, job_id: str, *, keep: int, older_than_ms: int) -> int:
        """Retention: a job's finished runs beyond the newest `keep`, and any older than
        `older_than_ms`."""
        cur = self._db.execute(
            "DELETE FROM cron_runs WHERE job_id = ? AND status != 'running' AND ("
            "finished_at_ms < ? OR run_id NOT IN (SELECT run_id FROM cron_runs "
            "WHERE job_id = ? AND status != 'running' "
            "ORDER BY finished_at_ms DESC, rowid DESC LIMIT ?))",
            (job_id, older_than_ms, job_id, keep),
        )
        return cur.rowcount

    # --- sessions, transcripts, chat runs (state/sessions.py owns the record shapes) ---------

    def session_get(self, key: str) -> Record | None:
        return self._one("SELECT data FROM sessions WHERE key = ?", key)

    def session_put(self, record: Record) -> None:
        self._db.execute(
            "INSERT INTO sessions(key, agent_id, session_id, updated_at, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET agent_id = excluded.agent_id, "
            "session_id = excluded.session_id, updated_at = excluded.updated_at, data = excluded.data",
            (
                record["key"],
                record["agentId"],
                record["sessionId"],
                int(record["updatedAt"]),
                json.dumps(record, ensure_ascii=False),
            ),
        )

    def session_delete(self, key: str) -> bool:
        return self._db.execute("DELETE FROM sessions WHERE key = ?", (key,)).rowcount > 0

    def sessions(self, agent_id: str | None = None) -> list[Record]:
        """Every session, most recently updated first (one agent's, or all)."""
        if agent_id is None:
            return self._all("SELECT data FROM sessions ORDER BY updated_at DESC, key")
        return self._all(
            "SELECT data FROM sessions WHERE agent_id = ? ORDER BY updated_at DESC, key", agent_id
        )

    def session_index(self) -> list[tuple[str, str, int]]:
        """(key, agentId, updatedAt) of every session, most recently updated first: what the
        health/status summaries need, read from the columns (no record is decoded)."""
        return self._db.execute(
            "SELECT key, agent_id, updated_at FROM sessions ORDER BY updated_at DESC, key"
        ).fetchall()

    def session_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def transcript_append(self, session_id: str, run_id: str | None, message: Record) -> int:
        """Append one message; returns its seq (1, 2, ... per session id)."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM transcript WHERE session_id = ?", (session_id,)
        ).fetchone()
        seq = int(row[0]) + 1
        self._db.execute(
            "INSERT INTO transcript(session_id, seq, run_id, data) VALUES (?, ?, ?, ?)",
            (session_id, seq, run_id, json.dumps(message, ensure_ascii=False)),
        )
        return seq

    def transcript_tail(self, session_id: str, limit: int) -> list[tuple[int, Record]]:
        """The newest `limit` messages as (seq, message), oldest first."""
        rows = self._db.execute(
            "SELECT seq, data FROM transcript WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
            (session_id, limit),
        ).fetchall()
        return [(int(seq), json.loads(data)) for seq, data in reversed(rows)]

    def transcript_after(
        self, session_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, Record]]:
        """Up to `limit` messages with seq > `after_seq` as (seq, message), oldest first."""
        rows = self._db.execute(
            "SELECT seq, data FROM transcript WHERE session_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (session_id, after_seq, limit),
        ).fetchall()
        return [(int(seq), json.loads(data)) for seq, data in rows]

    def transcript_last_seq(self, session_id: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM transcript WHERE session_id = ?", (session_id,)
        ).fetchone()
        return int(row[0])

    def transcript_head(self, session_id: str, limit: int) -> list[tuple[int, Record]]:
        rows = self._db.execute(
            "SELECT seq, data FROM transcript WHERE session_id = ? ORDER BY seq LIMIT ?",
            (session_id, limit),
        ).fetchall()
        return [(int(seq), json.loads(data)) for seq, data in rows]

    def transcript_count(self, session_id: str) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM transcript WHERE session_id = ?", (session_id,)
        )
        return int(row.fetchone()[0])

    def transcript_prune(self, session_id: str, keep: int) -> int:
        """Bound: drop all but the newest `keep` messages of a session."""
        cur = self._db.execute(
            "DELETE FROM transcript WHERE session_id = ? AND seq <= "
            "(SELECT COALESCE(MAX(seq), 0) FROM transcript WHERE session_id = ?) - ?",
            (session_id, session_id, keep),
        )
        return cur.rowcount

    def transcript_delete(self, session_id: str) -> None:
        self._db.execute("DELETE FROM transcript WHERE session_id = ?", (session_id,))

    def chat_run_get(self, run_id: str) -> tuple[str, str, Record] | None:
        """(session_key, status, data) of a chat run."""
        row = self._db.execute(
            "SELECT session_key, status, data FROM chat_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return (row[0], row[1], json.loads(row[2])) if row else None

    def chat_run_put(
        self, run_id: str, session_key: str, status: str, now_ms: int, data: Record
    ) -> None:
        self._db.execute(
            "INSERT INTO chat_runs(run_id, session_key, status, updated_at, data) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at, data = excluded.data",
            (run_id, session_key, status, now_ms, json.dumps(data, ensure_ascii=False)),
        )

    def chat_runs_unfinished(self) -> list[tuple[str, str, Record]]:
        rows = self._db.execute(
            "SELECT run_id, session_key, data FROM chat_runs "
            "WHERE status IN ('queued', 'running') ORDER BY updated_at"
        ).fetchall()
        return [(r, k, json.loads(d)) for r, k, d in rows]

    def chat_runs_prune(self, older_than_ms: int) -> int:
        cur = self._db.execute(
            "DELETE FROM chat_runs WHERE status NOT IN ('queued', 'running') AND updated_at < ?",
            (older_than_ms,),
        )
        return cur.rowcount

    # --- channel deliveries (server/channels/outbox.py) --------------------------------------

    def delivery_put(
        self, delivery_id: str, channel: str, status: str, next_at: int, now_ms: int, data: Record
    ) -> None:
        self._db.execute(
            "INSERT INTO deliveries(id, channel, status, next_at, updated_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
            "next_at = excluded.next_at, updated_at = excluded.updated_at, data = excluded.data",
            (delivery_id, channel, status, next_at, now_ms, json.dumps(data, ensure_ascii=False)),
        )

    def delivery_get(self, delivery_id: str) -> tuple[str, Record] | None:
        row = self._db.execute(
            "SELECT status, data FROM deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def deliveries(self, status: str, limit: int) -> list[tuple[str, int, Record]]:
        """(id, next_at, data): pending ones soonest first, finished ones newest first."""
        order = "next_at" if status == "pending" else "updated_at DESC"
        rows = self._db.execute(
            f"SELECT id, next_at, data FROM deliveries WHERE status = ? ORDER BY {order} LIMIT ?",
            (status, limit),
        ).fetchall()
        return [(i, n, json.loads(d)) for i, n, d in rows]

    def delivery_count(self, status: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM deliveries WHERE status = ?", (status,))
        return int(row.fetchone()[0])

    def delivery_prune_finished(self, keep: int) -> int:
        cur = self._db.execute(
            "DELETE FROM deliveries WHERE status != 'pending' AND id NOT IN (SELECT id FROM "
            "deliveries WHERE status != 'pending' ORDER BY updated_at DESC LIMIT ?)",
            (keep,),
        )
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        """Row counts per table (tests assert that an attack changed nothing)."""
        out = {}
        for table in ("paired_devices", "pairing_requests", "device_tokens"):
            out[table] = int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return out
