"""One agent turn as the run manager (manager.py) and its callers see it: the request, the
run's state, its events for watchers (the OpenAI endpoints, agent.wait), and a finished run
known only from its stored record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio

from openclaw_gateway.server.runs.live_text import LiveText
from openclaw_gateway.state import session_keys as K

DEFAULT_TURN_TIMEOUT_MS = 600_000
WATCH_BUFFER = 256
Record = dict[str, Any]


@attrs.frozen
class TurnRequest:
    key: K.SessionKey
    message: str
    run_id: str
    origin: str = "chat"  # chat | agent | cron
    thinking: str | None = None
    model: str | None = None
    timeout_ms: int = DEFAULT_TURN_TIMEOUT_MS
    extra: dict[str, Any] = attrs.field(factory=dict)  # more agent.turn params (cron: jobId…)


@attrs.frozen
class RunEvent:
    kind: str  # delta | ok | error | aborted | timeout
    text: str
    error: str | None = None


@attrs.define(eq=False)
class Run:
    request: TurnRequest
    status: str = "queued"
    text: str = ""
    error: str | None = None
    accepted_at: int = 0
    started_at: int | None = None
    ended_at: int | None = None
    user_seq: int | None = None
    done: trio.Event = attrs.field(factory=trio.Event)
    # Set once begin_run committed (or failed: then `discarded`); finishing waits for it.
    committed: trio.Event = attrs.field(factory=trio.Event)
    discarded: bool = False
    scope: trio.CancelScope | None = None
    abort_requested: bool = False
    # The agent node's decoded answer (`{"text": …}` and anything else it said, e.g. a paced
    # cron job's `nextCheck`).
    answer: Any = None
    chat_seq: int = 0
    agent_seq: int = 0
    live: LiveText = attrs.field(factory=LiveText)
    watchers: list[trio.MemorySendChannel[RunEvent]] = attrs.field(factory=list)

    @property
    def run_id(self) -> str:
        return self.request.run_id

    @property
    def session_key(self) -> str:
        return str(self.request.key)

    def _publish(self, event: RunEvent) -> None:
        for tx in list(self.watchers):
            try:
                tx.send_nowait(event)
            except trio.WouldBlock:
                pass  # a slow watcher misses a delta; the text is cumulative and done is set
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.watchers.remove(tx)
        if event.kind != "delta":
            for tx in self.watchers:
                tx.close()
            self.watchers.clear()

    async def watch(self) -> AsyncIterator[RunEvent]:
        """Deltas, then one terminal event (at once when the run already ended)."""
        if self.done.is_set():
            yield RunEvent(self.status, self.text, self.error)
            return
        tx, rx = trio.open_memory_channel[RunEvent](WATCH_BUFFER)
        self.watchers.append(tx)
        async with rx:
            async for event in rx:
                yield event


def record_run(run_id: str, session_key: str, status: str, meta: Record) -> Run:
    """A finished run known only from its stored record (after a restart)."""
    key = K.parse(session_key)
    run = Run(TurnRequest(key, str(meta.get("message", "")), run_id), status=status)
    run.text = str(meta.get("text", ""))
    run.error = meta.get("error")
    run.started_at, run.ended_at = meta.get("startedAt"), meta.get("endedAt")
    run.done.set()
    return run
