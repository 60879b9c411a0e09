"""Conversations: the session book, the agent directory, the run manager and who subscribed
to what, started as one supervisor service (`run_conversations`).

Subscriptions are per socket (conn id) and live in memory, as the official ones do:
`sessions.subscribe` -> every `sessions.changed`; `sessions.messages.subscribe {key}` ->
`session.message` for that session, and, for a socket with the `session-scoped-events` cap,
that session's `chat`/`agent` events (hub.py). A closed socket's subscriptions are dropped the next
time an event would reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.agents import AgentDirectory
from openclaw_gateway.server.runs.journal import RunJournal
from openclaw_gateway.server.runs.manager import RunManager
from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.sessions import SessionBook

Record = dict[str, Any]


def session_row(
    rec: Record, *, active: bool = False, titles: bool = True, preview: bool = True
) -> Record:
    """The official session row subset we keep (sessions.list, describe, events)."""
    row: Record = {
        "key": rec["key"],
        "agentId": rec["agentId"],
        "kind": rec.get("kind", "direct"),
        "sessionId": rec["sessionId"],
        "updatedAt": rec["updatedAt"],
        "createdAt": rec.get("createdAt"),
        "label": rec.get("label"),
        "displayName": rec.get("label") or rec.get("derivedTitle"),
        "thinkingLevel": rec.get("thinkingLevel"),
        "verboseLevel": rec.get("verboseLevel"),
        "model": rec.get("model"),
        "modelProvider": rec.get("modelProvider"),
        "lastChannel": rec.get("lastChannel"),
        "messageCount": rec.get("messageCount", 0),
        "hasActiveRun": active,
        "status": "running" if active else "idle",
    }
    if titles:
        row["derivedTitle"] = rec.get("derivedTitle")
    if preview:
        row["lastMessagePreview"] = rec.get("lastMessagePreview")
    return {k: v for k, v in row.items() if v is not None}


def session_defaults(state: GatewayState) -> Record:
    """hello-ok.snapshot.sessionDefaults (official shape)."""
    conv = state.conversations
    agent_id = conv.agents.default_id if conv is not None else K.DEFAULT_AGENT_ID
    # A model in config, or (lean: agents are nodes) a connected node that would take the
    # default agent's turn: the Control UI blocks its composer while this is false.
    configured = (
        conv is not None
        and conv.agents.serving_model(agent_id, state.nodes.sessions.values()) is not None
    )
    return {
        "defaultAgentId": agent_id,
        "modelConfigured": configured,
        "ownership": "sole" if conv is None or len(conv.agents.agents) == 1 else "explicit",
        "selectionRequired": False,
        "mainKey": K.MAIN_KEY,
        "mainSessionKey": K.main_key(agent_id),
        "scope": "per-sender",
    }


RECENT_SESSIONS = 10


def session_summary(state: GatewayState, *, admin: bool) -> tuple[Record, list[Record]]:
    """health/status `sessions` ({path, count, recent}) and the per-agent entries."""
    conv = state.conversations
    if conv is None:
        return {"path": None, "count": 0, "recent": []}, []
    now = state.now_ms()
    path = str(conv.book.store.path) if admin else "[redacted]"
    rows = conv.book.index()  # (key, agentId, updatedAt): no record decoded per call

    def recent(of: list[tuple[str, str, int]]) -> list[Record]:
        return [
            {"key": key, "updatedAt": updated, "age": max(0, now - updated)}
            for key, _agent, updated in of[:RECENT_SESSIONS]
        ]

    agents = []
    for agent in conv.agents.agents:
        own = [r for r in rows if r[1] == agent.id]
        agents.append(
            {
                "agentId": agent.id,
                "isDefault": agent.id == conv.agents.default_id,
                "sessions": {"path": path, "count": len(own), "recent": recent(own)},
            }
        )
    return {"path": path, "count": len(rows), "recent": recent(rows)}, agents


class Conversations:
    def __init__(
        self,
        state: GatewayState,
        book: SessionBook,
        agents: AgentDirectory,
        nursery: trio.Nursery,
        live: Callable[[str], bool],
        journal: RunJournal,
    ) -> None:
        self.state = state
        self.book = book
        self.agents = agents
        self._live = live
        self.session_subscribers: set[str] = set()
        self.message_subscribers: dict[str, set[str]] = {}
        self.runs = RunManager(state, book, agents, nursery, journal, on_message=self.message_added)

    # --- keys --------------------------------------------------------------------------------

    def key(self, raw: Any, agent_id: Any = None) -> K.SessionKey:
        """The canonical session a request names, or INVALID_REQUEST."""
        try:
            key = K.parse(
                raw if isinstance(raw, str) else None,
                agent_id if isinstance(agent_id, str) else None,
                default_agent=self.agents.default_id,
            )
        except K.SessionKeyError as exc:
            raise RpcError("INVALID_REQUEST", str(exc)) from None
        if self.agents.get(key.agent_id) is None:
            raise RpcError("INVALID_REQUEST", f'unknown agent id "{key.agent_id}"')
        return key

    def row(self, rec: Record, **kw: Any) -> Record:
        return session_row(rec, active=self.runs.active(rec["key"]) is not None, **kw)

    def defaults(self) -> Record:
        """The `defaults` of sessions.list and chat.history: the default agent's model."""
        agent = self.agents.get(self.agents.default_id)
        ref = self.agents.model_for(self.agents.default_id)
        provider, _, model = ref.partition("/") if ref and "/" in ref else (None, "", ref)
        out: Record = {"modelProvider": provider, "model": model, "contextTokens": None}
        thinking = (agent.thinking_default if agent else None) or self.agents.thinking_default
        if thinking:
            out["thinkingDefault"] = thinking
        return out

    # --- subscriptions -----------------------------------------------------------------------

    def _targets(self, conn_ids: set[str]) -> set[str]:
        for dead in [c for c in conn_ids if not self._live(c)]:
            conn_ids.discard(dead)
        return conn_ids

    def subscribe_messages(self, conn_id: str, key: str) -> None:
        self.message_subscribers.setdefault(key, set()).add(conn_id)

    def session_members(self, key: str) -> set[str]:
        """Who subscribed to this session's messages (hub.py: session-scoped-events)."""
        return self.message_subscribers.get(key) or set()

    def unsubscribe_messages(self, conn_id: str, key: str) -> None:
        subs = self.message_subscribers.get(key)
        if subs is not None:
            subs.discard(conn_id)
            if not subs:
                del self.message_subscribers[key]

    def session_changed(self, key: str, reason: str, rec: Record | None) -> None:
        targets = self._targets(self.session_subscribers)
        if not targets:
            return
        payload: Record = {"sessionKey": key, "reason": reason, "ts": self.state.now_ms()}
        if rec is not None:
            payload["agentId"] = rec["agentId"]
            payload["session"] = self.row(rec)
        self.state.broadcast("sessions.changed", payload, targets=targets)

    def message_added(self, key: str, message: Record, reason: str) -> None:
        subs = self.message_subscribers.get(key)
        if not subs and not self.session_subscribers:
            return  # nobody listens: skip reading the session row on every turn
        rec = self.book.get(key)
        meta = message.get("__openclaw") or {}
        if subs is not None and self._targets(subs):
            payload: Record = {
                "sessionKey": key,
                "message": message,
                "messageId": meta.get("id"),
                "messageSeq": meta.get("seq"),
            }
            if message.get("runId"):
                payload["runId"] = message["runId"]
            if rec is not None:
                payload["agentId"] = rec["agentId"]
                payload["session"] = self.row(rec)
            self.state.broadcast("session.message", payload, targets=set(subs))
            if not subs:
                self.message_subscribers.pop(key, None)
        self.session_changed(key, "message" if reason == "send" else reason, rec)


async def run_conversations(
    state: GatewayState,
    book: SessionBook,
    agents: AgentDirectory,
    live: Callable[[str], bool],
    *,
    task_status: trio.TaskStatus[Conversations] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Service: closes runs a previous process left unfinished, then hosts the run tasks
    until cancelled (gateway shutdown); a run cut short then is closed at the next start."""
    closed = book.close_interrupted(state.now_ms())
    if closed:
        state.logger.warn("sessions", f"{closed} agent run(s) interrupted by the last shutdown")
    journal = RunJournal(book.store.path, book.tail)
    try:
        async with trio.open_nursery() as nursery:
            conversations = Conversations(state, book, agents, nursery, live, journal)
            state.conversations = conversations
            task_status.started(conversations)
            try:
                await trio.sleep_forever()
            finally:
                state.conversations = None
    finally:
        await journal.aclose()
