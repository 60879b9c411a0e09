"""Sessions and their transcripts (SQLite through state/store.py). No trio, no sockets.

A session is a key (`agent:<agentId>:<rest>`, state/session_keys.py) with metadata and a
transcript. The transcript belongs to the session's current `sessionId`: `sessions.reset`
starts a new id (and drops the old messages), so a reset conversation starts empty.

Bounds: a transcript keeps its newest MAX_TRANSCRIPT_MESSAGES messages (older ones are
pruned in the same transaction that appends), one message's text is at most
MAX_MESSAGE_CHARS, and finished chat-run records are kept RUN_RECORD_RETENTION_MS.

Durability: every change is one store transaction, committed before the caller answers;
`begin_run` stores the user's message and the queued run together, so an acknowledged
chat.send survives a restart or `kill -9` (the run path calls begin_run/finish_run from
server/runs/journal.py, whose connection commits with synchronous=NORMAL, as the official
transcript database: a power cut may lose the last turns). Runs found unfinished at start-up are closed as
`error` ("interrupted"): a retry of the same runId answers `error`, never a second turn.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.store import Record, Store
from openclaw_gateway.state.transcript_tail import Entry, TranscriptTail

MAX_TRANSCRIPT_MESSAGES = 1000
MAX_MESSAGE_CHARS = 100_000
TITLE_CHARS = 60
PREVIEW_CHARS = 120
RUN_RECORD_RETENTION_MS = 24 * 3600 * 1000
TERMINAL = ("ok", "error", "aborted", "timeout")
INTERRUPTED = "interrupted: the gateway stopped before the agent answered"

# Fields sessions.patch may set, and the record key each one lives under.
PATCHABLE = ("label", "thinkingLevel", "model", "modelProvider", "verboseLevel", "lastChannel")


def text_message(
    role: str, text: str, now_ms: int, *, run_id: str | None = None, **extra: Any
) -> Record:
    """A transcript message: the official content-block shape."""
    message: Record = {
        "role": role,
        "content": [{"type": "text", "text": text}],
        "timestamp": now_ms,
    }
    if run_id is not None:
        message["runId"] = run_id
    message.update({k: v for k, v in extra.items() if v is not None})
    return message


def message_text(message: Record) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    return "".join(p for p in parts if isinstance(p, str))


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class SessionBook:
    def __init__(
        self,
        store: Store,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        tail: TranscriptTail | None = None,
    ) -> None:
        self.store = store
        self._new_id = new_id
        # Shared by every book on the same database (the loop's and the run journal's): each
        # notes what it committed, so the recent transcript is read from memory.
        self.tail = tail or TranscriptTail()

    # --- sessions ----------------------------------------------------------------------------

    def get(self, key: str) -> Record | None:
        return self.store.session_get(key)

    def _fresh(self, key: K.SessionKey, now_ms: int) -> Record:
        return {
            "key": str(key),
            "agentId": key.agent_id,
            "sessionId": self._new_id(),
            "kind": "direct",
            "createdAt": now_ms,
            "updatedAt": now_ms,
        }

    def ensure(self, key: K.SessionKey, now_ms: int) -> tuple[Record, bool]:
        """The session, created when missing: (record, created)."""
        with self.store.transaction():
            rec = self.store.session_get(str(key))
            if rec is not None:
                return rec, False
            rec = self._fresh(key, now_ms)
            self.store.session_put(rec)
            return rec, True

    def patch(self, key: K.SessionKey, fields: Record, now_ms: int) -> Record:
        """Set (value) or clear (None) metadata fields; creates the session when missing."""
        with self.store.transaction():
            rec = self.store.session_get(str(key)) or self._fresh(key, now_ms)
            for name, value in fields.items():
                if value is None:
                    rec.pop(name, None)
                else:
                    rec[name] = value
            rec["updatedAt"] = now_ms
            self.store.session_put(rec)
            return rec

    def reset(self, key: K.SessionKey, now_ms: int) -> Record:
        """A new sessionId and an empty transcript; label and settings stay."""
        with self.store.transaction():
            rec = self.store.session_get(str(key)) or self._fresh(key, now_ms)
            old_id = rec["sessionId"]
            self.store.transcript_delete(old_id)
            rec["sessionId"] = self._new_id()
            for derived in ("derivedTitle", "lastMessagePreview", "messageCount"):
                rec.pop(derived, None)
            rec["updatedAt"] = now_ms
            self.store.session_put(rec)
        self.tail.forget(old_id)
        return rec

    def delete(self, key: str) -> bool:
        with self.store.transaction():
            rec = self.store.session_get(key)
            if rec is None:
                return False
            self.store.transcript_delete(rec["sessionId"])
            deleted = self.store.session_delete(key)
        self.tail.forget(rec["sessionId"])
        return deleted

    def listing(self, agent_id: str | None = None) -> list[Record]:
        return self.store.sessions(agent_id)

    def index(self) -> list[tuple[str, str, int]]:
        """(key, agentId, updatedAt), most recently updated first (Store.session_index)."""
        return self.store.session_index()

    def count(self) -> int:
        return self.store.session_count()

    # --- transcript --------------------------------------------------------------------------

    def _append(self, rec: Record, message: Record, now_ms: int) -> Record:
        """Inside a transaction: store one message, prune, refresh the derived metadata.
        The caller notes the stored message in the tail once the transaction committed."""
        seq = self.store.transcript_append(rec["sessionId"], message.get("runId"), message)
        self.store.transcript_prune(rec["sessionId"], MAX_TRANSCRIPT_MESSAGES)
        text = message_text(message)
        if message["role"] == "user" and "derivedTitle" not in rec and text.strip():
            rec["derivedTitle"] = _one_line(text, TITLE_CHARS)
        if message["role"] in ("user", "assistant") and text.strip():
            rec["lastMessagePreview"] = _one_line(text, PREVIEW_CHARS)
        rec["messageCount"] = min(int(rec.get("messageCount", 0)) + 1, MAX_TRANSCRIPT_MESSAGES)
        rec["updatedAt"] = now_ms
        self.store.session_put(rec)
        return {**message, "__openclaw": {"id": f"{rec['sessionId']}:{seq}", "seq": seq}}

    def append(self, key: K.SessionKey, message: Record, now_ms: int) -> tuple[Record, Record]:
        """Append one message (chat.inject, system lines): (session, stored message)."""
        with self.store.transaction():
            rec = self.store.session_get(str(key)) or self._fresh(key, now_ms)
            stored = self._append(rec, message, now_ms)
        self._noted(rec, stored)
        return rec, stored

    def _noted(self, rec: Record, stored: Record | None) -> None:
        if self.store.in_transaction:
            # Joined a caller's transaction that may still roll back: hold nothing for it.
            self.tail.forget(rec["sessionId"])
        elif stored is not None:
            plain = {k: v for k, v in stored.items() if k != "__openclaw"}
            seq = stored["__openclaw"]["seq"]
            self.tail.note(rec["sessionId"], (seq, plain, message_text(plain)))

    def recent(self, key: str, limit: int) -> list[Entry]:
        """The newest `limit` messages of the session as (seq, message, text), oldest first
        (from the tail when it holds them; the messages must not be changed)."""
        rec = self.store.session_get(key)
        if rec is None:
            return []
        sid = rec["sessionId"]

        def load(count: int) -> list[Entry]:
            rows = self.store.transcript_tail(sid, count)
            return [(seq, m, message_text(m)) for seq, m in rows]

        return self.tail.newest(sid, limit, load)

    def history(self, key: str, limit: int) -> tuple[Record | None, list[Record]]:
        rec = self.store.session_get(key)
        if rec is None:
            return None, []
        rows = self.store.transcript_tail(rec["sessionId"], limit)
        sid = rec["sessionId"]
        return rec, [{**m, "__openclaw": {"id": f"{sid}:{seq}", "seq": seq}} for seq, m in rows]

    def history_after(self, rec: Record, after_seq: int, limit: int) -> list[Record]:
        """Up to `limit` messages of the session's transcript newer than `after_seq`."""
        sid = rec["sessionId"]
        rows = self.store.transcript_after(sid, after_seq, limit)
        return [{**m, "__openclaw": {"id": f"{sid}:{seq}", "seq": seq}} for seq, m in rows]

    def last_seq(self, rec: Record) -> int:
        """The newest message's seq (0 when the transcript is empty)."""
        return self.store.transcript_last_seq(rec["sessionId"])

    def first_user_text(self, rec: Record) -> str | None:
        for _seq, message in self.store.transcript_head(rec["sessionId"], 20):
            if message.get("role") == "user":
                return message_text(message)
        return None

    # --- chat runs (idempotency records) ------------------------------------------------------

    def run_record(self, run_id: str) -> tuple[str, str, Record] | None:
        return self.store.chat_run_get(run_id)

    def begin_run(
        self, key: K.SessionKey, run_id: str, message: Record | None, meta: Record, now_ms: int
    ) -> tuple[Record, Record | None]:
        """One transaction: the user's message (if any) and the queued run record."""
        with self.store.transaction():
            rec = self.store.session_get(str(key)) or self._fresh(key, now_ms)
            stored = self._append(rec, message, now_ms) if message is not None else None
            if message is None:
                rec["updatedAt"] = now_ms
                self.store.session_put(rec)
            self.store.chat_run_put(run_id, str(key), "queued", now_ms, meta)
            self.store.chat_runs_prune(now_ms - RUN_RECORD_RETENTION_MS)
        self._noted(rec, stored)
        return rec, stored

    def finish_run(
        self,
        key: K.SessionKey,
        run_id: str,
        status: str,
        message: Record | None,
        meta: Record,
        now_ms: int,
    ) -> Record | None:
        """One transaction: the agent's message (final or partial) and the terminal status."""
        assert status in TERMINAL
        with self.store.transaction():
            stored = rec = None
            if message is not None:
                rec = self.store.session_get(str(key)) or self._fresh(key, now_ms)
                stored = self._append(rec, message, now_ms)
            self.store.chat_run_put(run_id, str(key), status, now_ms, meta)
        if rec is not None:
            self._noted(rec, stored)
        return stored

    def close_interrupted(self, now_ms: int) -> int:
        """Start-up: runs a previous process left queued/running end as `error`."""
        count = 0
        with self.store.transaction():
            for run_id, session_key, meta in self.store.chat_runs_unfinished():
                self.store.chat_run_put(
                    run_id, session_key, "error", now_ms, {**meta, "error": INTERRUPTED}
                )
                count += 1
        return count
