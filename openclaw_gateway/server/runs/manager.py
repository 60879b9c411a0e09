"""The run manager: one agent turn at a time per session, the rest queued (FIFO, like the
official `followup` queue), each turn an `agent.turn` invoke on the agent's node.

The seam later work builds on (channels, the OpenAI-compatible HTTP endpoints):

    run, fresh = await manager.submit(TurnRequest(key, message, run_id=...))
    async for event in run.watch():   # RunEvent("delta", text) ... then one terminal event
        ...
    await run.done.wait()             # run.status: ok | error | aborted | timeout

Every turn: the user message and the queued run record are committed (one transaction,
in the run journal's worker thread) before submit returns, and the agent's message and the
terminal status (one more) before the terminal event goes out; the invoke carries the message, sessionKey, runId, agentId, the
thinking/model overrides and the recent transcript (bounded: HISTORY_MESSAGES messages and
HISTORY_CHARS characters, newest kept); node.invoke.progress chunks become `chat` deltas and
`agent` assistant events; the result's `text` (or, failing that, the streamed text) is the
final assistant message. Abort, timeout and a node lost mid-run keep the partial text,
marked `partial: true` with its stopReason.
"""

from __future__ import annotations

import collections
import json
from typing import Any

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.nodes import parse_payload
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs import frames as F
from openclaw_gateway.server.runs.agents import AGENT_COMMAND, AgentDirectory
from openclaw_gateway.server.runs.journal import JournalClosed, RunJournal
from openclaw_gateway.server.runs.live_text import broadcast_delta
from openclaw_gateway.server.runs.run import Run, RunEvent, TurnRequest, record_run
from openclaw_gateway.state.sessions import SessionBook, text_message

MAX_QUEUED_PER_SESSION = 32
HISTORY_MESSAGES = 40
HISTORY_CHARS = 32_000
FINISHED_RUNS_KEPT = 512
Record = dict[str, Any]


class RunManager:
    def __init__(
        self,
        state: GatewayState,
        book: SessionBook,
        agents: AgentDirectory,
        nursery: trio.Nursery,
        journal: RunJournal,
        on_message: Any = None,
    ) -> None:
        self.state = state
        self.book = book
        self.agents = agents
        self.journal = journal
        self._nursery = nursery
        self.live: dict[str, Run] = {}
        self.finished: collections.OrderedDict[str, Run] = collections.OrderedDict()
        self.lanes: dict[str, collections.deque[Run]] = {}
        self._appeared: dict[str, trio.Event] = {}
        # Called with (session_key, stored message, reason) after each transcript change.
        self.on_message = on_message or (lambda key, message, reason: None)

    # --- lookups -----------------------------------------------------------------------------

    def find(self, run_id: str) -> Run | None:
        run = self.live.get(run_id) or self.finished.get(run_id)
        if run is not None:
            return run
        stored = self.book.run_record(run_id)
        if stored is None:
            return None
        session_key, status, meta = stored
        if status in ("queued", "running"):
            return None  # only a crashed process leaves these; closed at start-up
        return record_run(run_id, session_key, status, meta)

    def active(self, session_key: str) -> Run | None:
        lane = self.lanes.get(session_key)
        return lane[0] if lane else None

    def active_count(self) -> int:
        return sum(1 for lane in self.lanes.values() if lane)

    async def wait_for(self, run_id: str, timeout_s: float) -> Run | None:
        """The run once it ended, None if it did not end (or appear) within the timeout."""
        with trio.move_on_after(timeout_s):
            run = self.find(run_id)
            while run is None:
                await self._appeared.setdefault(run_id, trio.Event()).wait()
                run = self.find(run_id)
            await run.done.wait()
            return run
        self._appeared.pop(run_id, None)
        return None

    # --- submit / abort ----------------------------------------------------------------------

    async def submit(self, req: TurnRequest) -> tuple[Run, bool]:
        """(run, True) for a new run, (existing run, False) for a repeated runId. Returns once
        the user's message and the queued run are committed."""
        existing = self.find(req.run_id)
        if existing is not None:
            return existing, False
        key = str(req.key)
        if self.agents.get(req.key.agent_id) is None:
            raise RpcError("INVALID_REQUEST", f'unknown agent id "{req.key.agent_id}"')
        lane = self.lanes.setdefault(key, collections.deque())
        if (
            not lane
            and self.agents.node_for(req.key.agent_id, self.state.nodes.sessions.values()) is None
        ):
            raise RpcError("UNAVAILABLE", self.agents.no_node_message(req.key.agent_id))
        if len(lane) > MAX_QUEUED_PER_SESSION:
            raise RpcError(
                "UNAVAILABLE", f"too many queued messages for session {key}", retryable=True
            )
        now = self.state.now_ms()
        user = text_message("user", req.message, now, run_id=req.run_id)
        meta = {"message": req.message, "origin": req.origin, "acceptedAt": now}
        run = Run(req, accepted_at=now)
        # Known (and queued, in order) before the commit, so that a repeat of this runId
        # meanwhile finds it and a later message of the session queues behind it.
        self.live[req.run_id] = run
        lane.append(run)
        if len(lane) == 1:
            self._nursery.start_soon(self._drive, key)
        try:
            stored = await self.journal.begin_run(req.key, req.run_id, user, meta, now)
        except BaseException:
            run.discarded = True  # not stored: the turn stops and stores nothing either
            self.abort(key, req.run_id)
            raise
        finally:
            run.committed.set()
        if stored is not None:
            run.user_seq = stored["__openclaw"]["seq"]
            self.on_message(key, stored, "send")
        appeared = self._appeared.pop(req.run_id, None)
        if appeared is not None:
            appeared.set()
        return run, True

    def abort(self, session_key: str, run_id: str | None = None) -> list[str]:
        """Abort one run (by id) or every run of the session; returns the aborted run ids."""
        lane = self.lanes.get(session_key) or collections.deque()
        hit = [r for r in lane if run_id is None or r.run_id == run_id]
        for run in hit:
            run.abort_requested = True
            if run.scope is not None:
                run.scope.cancel()
        return [r.run_id for r in hit]

    # --- driving a lane ----------------------------------------------------------------------

    async def _drive(self, key: str) -> None:
        lane = self.lanes[key]
        try:
            while lane:
                # The turn starts while its user message is still being committed: the
                # commit's wait overlaps the agent's work (finish_run queues behind it).
                await self._execute(lane[0])
                lane.popleft()
        finally:
            if not lane:
                self.lanes.pop(key, None)

    def _history(self, run: Run) -> list[Record]:
        """The transcript before this run's message: without the messages of this run and of
        the runs queued behind it (stored, or still being committed)."""
        lane = self.lanes.get(run.session_key) or (run,)
        mine = {r.run_id for r in lane}
        entries = self.book.recent(run.session_key, HISTORY_MESSAGES + len(mine))
        out: list[Record] = []
        budget = HISTORY_CHARS
        for _seq, message, text in reversed(entries):
            if message.get("runId") in mine:
                continue
            if len(text) > budget:
                break
            budget -= len(text)
            out.append(
                {"role": message["role"], "text": text, "timestamp": message.get("timestamp")}
            )
        out.reverse()
        return out[-HISTORY_MESSAGES:]

    def _chat(self, run: Run, payload_of: Any, *, delta: bool = False) -> None:
        run.chat_seq += 1
        # A delta may be dropped for a slow socket (the next one carries the whole text),
        # as the official; a terminal event never is.
        self.state.broadcast("chat", payload_of(run.chat_seq), drop_if_slow=delta or None)

    def _agent(self, run: Run, stream: str, data: Record) -> None:
        run.agent_seq += 1
        ts = self.state.now_ms()
        self.state.broadcast(
            "agent", F.agent_event(run.run_id, run.session_key, run.agent_seq, stream, ts, data)
        )

    def _on_chunk(self, run: Run, chunk: str) -> None:
        if not chunk or run.done.is_set():
            return
        run.text += chunk
        run.live.unsent += chunk
        run._publish(RunEvent("delta", run.text))
        wait = run.live.wait_s(trio.current_time())
        if not wait:
            self._send_live(run)
        elif not run.live.flush_due:  # paced (live_text.py): sent when the window ends
            run.live.flush_due = True
            self._nursery.start_soon(self._send_live_later, run, run.live.generation, wait)

    async def _send_live_later(self, run: Run, generation: int, wait: float) -> None:
        await trio.sleep(wait)
        if run.live.generation == generation and not run.done.is_set():
            self._send_live(run)

    def _send_live(self, run: Run) -> None:
        """The held text as one chat delta and one agent assistant event, one write each."""
        live = run.live
        if not live.unsent:
            return
        ts = self.state.now_ms()
        delta = broadcast_delta(run.text, live.shown)
        with self.state.corked():
            if delta is not None:
                text, (added, replace) = run.text, delta
                self._chat(
                    run,
                    lambda seq: F.chat_delta(
                        run.run_id, run.session_key, seq, text, added, replace, ts
                    ),
                    delta=True,
                )
            self._agent(run, "assistant", {"text": run.text, "delta": live.unsent})
        live.sent(run.text, trio.current_time())

    async def _execute(self, run: Run) -> None:
        req = run.request
        node = (
            None
            if run.abort_requested
            else self.agents.node_for(req.key.agent_id, self.state.nodes.sessions.values())
        )
        if run.abort_requested:
            await self._finish(run, "aborted", None)
            return
        if node is None:
            await self._finish(run, "error", self.agents.no_node_message(req.key.agent_id))
            return
        # "running" stays in memory: a crash closes queued and running runs alike.
        run.status, run.started_at = "running", self.state.now_ms()
        self._agent(run, "lifecycle", {"phase": "start", "startedAt": run.started_at})
        params: Record = {
            "message": req.message,
            "sessionKey": run.session_key,
            "runId": run.run_id,
            "agentId": req.key.agent_id,
            "history": self._history(run),
            **req.extra,
        }
        model = req.model or self.agents.model_for(req.key.agent_id)
        for name, value in (("thinking", req.thinking), ("model", model)):
            if value is not None:
                params[name] = value
        error: str | None = None
        status = "ok"
        result: Record | None = None
        with trio.CancelScope() as scope:
            run.scope = scope
            if run.abort_requested:
                scope.cancel()
            try:
                result = await self.state.nodes.invoke(
                    node,
                    AGENT_COMMAND,
                    json.dumps(params, ensure_ascii=False),
                    req.timeout_ms,
                    run.run_id,
                    session_key=run.session_key,
                    on_progress=lambda chunk: self._on_chunk(run, chunk),
                )
            except RpcError as exc:
                code = ((exc.details or {}).get("nodeError") or {}).get("code")
                status = "timeout" if code == "TIMEOUT" else "error"
                error = (
                    "the agent node disconnected during the run"
                    if code == "NOT_CONNECTED"
                    else exc.message
                )
        run.scope = None
        if scope.cancelled_caught:
            status, error = "aborted", None
        if result is not None:
            answer = result.get("payload")
            if isinstance(result.get("payloadJSON"), str) and result["payloadJSON"]:
                answer = parse_payload(result["payloadJSON"])
            run.answer = answer
            text = answer.get("text") if isinstance(answer, dict) else answer
            if isinstance(text, str) and text:
                run.text = text
            elif not run.text and answer is not None:
                run.text = text if isinstance(text, str) else json.dumps(answer, ensure_ascii=False)
        await self._finish(run, status, error)

    async def _finish(self, run: Run, status: str, error: str | None) -> None:
        await run.committed.wait()
        if run.discarded:
            status, error = "error", "the gateway could not store this message"
        now = self.state.now_ms()
        run.status, run.error, run.ended_at = status, error, now
        message = None
        if run.text or status == "ok":
            extra: Record = {"stopReason": "stop" if status == "ok" else status}
            if status != "ok":
                extra["partial"] = True
                extra["errorMessage"] = error
            message = text_message("assistant", run.text, now, run_id=run.run_id, **extra)
        meta = {
            "message": run.request.message,
            "text": run.text,
            "error": error,
            "startedAt": run.started_at,
            "endedAt": now,
        }
        stored = None
        if not run.discarded:
            try:
                stored = await self.journal.finish_run(
                    run.request.key, run.run_id, status, message, meta, now
                )
            except JournalClosed:
                # Shutting down: the run stays "running" in the database and the next start
                # closes it as interrupted (close_interrupted); the operators still hear its end.
                self.state.logger.warn("sessions", f"run {run.run_id} ended during shutdown")
        with self.state.corked():  # held text, transcript update, final and lifecycle end
            self._send_live(run)
            self._announce_end(run, status, error, stored, now)
        self.live.pop(run.run_id, None)
        if not run.discarded:  # a discarded runId may be sent again
            self.finished[run.run_id] = run
        while len(self.finished) > FINISHED_RUNS_KEPT:
            self.finished.popitem(last=False)
        run.done.set()
        self.state.metrics.run(status, run.request.origin, max(0, now - run.accepted_at) / 1000)
        run._publish(RunEvent(status, run.text, error))

    def _announce_end(
        self, run: Run, status: str, error: str | None, stored: Record | None, now: int
    ) -> None:
        if stored is not None:
            self.on_message(run.session_key, stored, status)
        chat_state = {"ok": "final", "aborted": "aborted"}.get(status, "error")
        kind = "timeout" if status == "timeout" else None
        self._chat(
            run,
            lambda seq: F.chat_terminal(
                run.run_id,
                run.session_key,
                seq,
                chat_state,
                message=stored,
                error=error,
                error_kind=kind,
            ),
        )
        if status in ("ok", "aborted"):
            end: Record = {"phase": "end", "endedAt": now}
            if status == "aborted":
                end["aborted"] = True
            self._agent(run, "lifecycle", end)
        else:
            self._agent(run, "lifecycle", {"phase": "error", "error": error, "endedAt": now})
