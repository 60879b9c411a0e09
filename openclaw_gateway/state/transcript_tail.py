"""The newest messages of recently used transcripts, in memory (no trio, no sockets).

Every agent turn sends the agent the recent transcript (server/runs/manager.py). Reading it
back from SQLite and decoding each message's JSON cost about 1 ms per turn of a 40-message
history — half the gateway's share of a turn. The session book (state/sessions.py) notes each
message here once its transaction has committed, so the next turn reads it from memory.

Correctness rules:
- A session's entry holds a contiguous run of its newest messages (by seq). A noted message
  whose seq does not follow the newest held one means something was missed: the entry is
  dropped and the next read loads from the database again.
- Two connections write (the run journal's worker thread and the loop): a lock guards the
  table, and a load installs what it read only if nothing was noted for that transcript while
  it read, so a commit that raced the read is never lost.
- Bounded: at most MAX_SESSIONS transcripts (least recently used dropped), MAX_MESSAGES each.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable

from openclaw_gateway.state.store import Record

MAX_SESSIONS = 256
MAX_MESSAGES = 96

# (seq, message as stored, its text): messages are treated as immutable once stored.
Entry = tuple[int, Record, str]


class TranscriptTail:
    def __init__(self, max_sessions: int = MAX_SESSIONS, max_messages: int = MAX_MESSAGES) -> None:
        self.max_sessions = max_sessions
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._tails: OrderedDict[str, deque[Entry]] = OrderedDict()
        # Transcripts being read from the database -> whether a note or forget came meanwhile.
        self._loading: dict[str, bool] = {}

    def note(self, session_id: str, entry: Entry) -> None:
        """A committed message of `session_id`."""
        with self._lock:
            self._touched(session_id)
            tail = self._tails.get(session_id)
            if tail is None:
                return
            if tail and tail[-1][0] + 1 != entry[0]:
                del self._tails[session_id]
                return
            tail.append(entry)

    def forget(self, session_id: str) -> None:
        """The transcript was deleted (reset or delete of its session)."""
        with self._lock:
            self._touched(session_id)
            self._tails.pop(session_id, None)

    def newest(
        self, session_id: str, limit: int, load: Callable[[int], list[Entry]]
    ) -> list[Entry]:
        """The newest `limit` messages, oldest first; `load(n)` reads the newest n from the
        database when they are not held (called without the lock)."""
        if limit > self.max_messages:
            return load(limit)
        with self._lock:
            tail = self._tails.get(session_id)
            if tail is not None:
                self._tails.move_to_end(session_id)
                return list(tail)[-limit:] if limit else []
            if session_id in self._loading:  # another read of it is under way: no install
                return load(limit)
            self._loading[session_id] = False
        try:
            loaded = load(self.max_messages)
        except BaseException:
            with self._lock:
                self._loading.pop(session_id, None)
            raise
        with self._lock:
            raced = self._loading.pop(session_id)
            if not raced and session_id not in self._tails:
                self._tails[session_id] = deque(loaded, maxlen=self.max_messages)
                while len(self._tails) > self.max_sessions:
                    self._tails.popitem(last=False)
        return loaded[-limit:] if limit else []

    def _touched(self, session_id: str) -> None:
        if session_id in self._loading:
            self._loading[session_id] = True
