"""The run journal: the two commits of every agent turn, off the event loop.

`begin_run` (the user's message and the queued run record, before chat.send answers) and
`finish_run` (the agent's message and the terminal status) each commit one transaction,
and a commit waits for the disk. They run in a worker thread, one at a time and in the
order they were asked (a CapacityLimiter of 1 is FIFO), on a connection of their own to the
same database file, so the loop keeps serving every other socket meanwhile. Reads (history
for the next invoke, chat.history) stay on the loop's connection and see each committed turn
(WAL readers see the last commit).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.sessions import SessionBook
from openclaw_gateway.state.store import DatabaseError, Record, Store
from openclaw_gateway.state.transcript_tail import TranscriptTail

T = TypeVar("T")


class JournalClosed(DatabaseError):
    """A commit asked for after the gateway closed the journal (shutdown)."""


class RunJournal:
    def __init__(self, path: Path, tail: TranscriptTail) -> None:
        self._store = Store(path, any_thread=True, synchronous="NORMAL")
        # The loop's book shares the tail: what the journal commits is read from memory.
        self._book = SessionBook(self._store, tail=tail)
        self._limiter = trio.CapacityLimiter(1)
        self._closed = False

    async def aclose(self) -> None:
        """Close once the commit in the worker thread (if any) has finished: a task cancelled
        while it waits for its thread does not stop the thread, and closing a connection that
        another thread is using crashes sqlite (seen as a segfault at shutdown)."""
        with trio.CancelScope(shield=True):
            async with self._limiter:
                self._closed = True
                self._store.close()

    def _unless_closed(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs in the worker thread, under the limiter, so `_closed` cannot change meanwhile."""
        if self._closed:
            raise JournalClosed("the run journal is closed (the gateway is shutting down)")
        return fn(*args)

    async def begin_run(
        self, key: K.SessionKey, run_id: str, message: Record, meta: Record, now_ms: int
    ) -> Record | None:
        """Committed when this returns: the stored user message (with its __openclaw seq).
        UNAVAILABLE (retryable) when the database refuses it: nothing was stored."""
        try:
            _rec, stored = await trio.to_thread.run_sync(
                self._unless_closed,
                self._book.begin_run, key, run_id, message, meta, now_ms,
                limiter=self._limiter,
            )  # fmt: skip
        except DatabaseError as exc:
            raise RpcError(
                "UNAVAILABLE", f"could not store the message: {exc}", retryable=True
            ) from None
        return stored

    async def finish_run(
        self,
        key: K.SessionKey,
        run_id: str,
        status: str,
        message: Record | None,
        meta: Record,
        now_ms: int,
    ) -> Record | None:
        return await trio.to_thread.run_sync(
            self._unless_closed,
            self._book.finish_run, key, run_id, status, message, meta, now_ms,
            limiter=self._limiter,
        )  # fmt: skip
