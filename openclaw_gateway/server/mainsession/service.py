"""MainSession: system events, wakes, heartbeats and gateway-started agent turns
(the API is described in mainsession/api.py), and the `run_main_session` service.

A wake ("now", or the next heartbeat tick) runs one turn in the session whose events wait:
its message is the pending system lines (`System: [<time>] <text>`) and then the heartbeat
prompt. A scheduled heartbeat runs every `every` on the default agent's main session while
heartbeats are enabled (`set-heartbeats`), skipping a tick when that session is busy. Each
heartbeat (scheduled or woken) publishes a `heartbeat` event and becomes `last-heartbeat`;
its reply is delivered (heartbeat_rules.classify_reply: never an acknowledgment) to the
configured target through the channels' delivery queue.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.cron.jstime import js_iso
from openclaw_gateway.server.mainsession import heartbeat_rules as H
from openclaw_gateway.server.mainsession.api import (
    MAX_PENDING_EVENTS,
    WAKE_MODES,
    AgentTurn,
    DeliveryTarget,
    StartedTurn,
)
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.run import TurnRequest
from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.sessions import text_message

if TYPE_CHECKING:
    from openclaw_gateway.server.runs.service import Conversations

PREVIEW_CHARS = 200


@attrs.frozen
class SystemEvent:
    text: str
    ts: int
    source: str


class MainSession:
    def __init__(
        self,
        state: GatewayState,
        conversations: Conversations,
        settings: H.HeartbeatSettings,
        nursery: trio.Nursery,
        owner: tuple[str, str] | None = None,
    ) -> None:
        self.state = state
        self.conv = conversations
        self.settings = settings
        self.enabled = settings.every_ms > 0
        self._nursery = nursery
        self._owner = owner  # commands.ownerAllowFrom[0] as (channel, peer id)
        self.pending: dict[str, collections.deque[SystemEvent]] = {}
        self._wakes: set[str] = set()
        self._wake = trio.Event()
        self._tick_changed = trio.Event()

    # --- the API (mainsession/api.py) ----------------------------------------------------------

    def main_key(self, agent_id: str | None = None) -> K.SessionKey:
        return self.conv.key(K.MAIN_KEY, agent_id)

    def system_event(
        self,
        text: str,
        *,
        session_key: str | None = None,
        agent_id: str | None = None,
        wake_mode: str = "next-heartbeat",
        source: str = "system-event",
    ) -> K.SessionKey:
        """Queue a system line (committed on return); INVALID_REQUEST for a bad key/mode."""
        if wake_mode not in WAKE_MODES:
            raise RpcError("INVALID_REQUEST", f"wakeMode must be one of {', '.join(WAKE_MODES)}")
        body = text.strip()
        if not body:
            raise RpcError("INVALID_REQUEST", "text required")
        key = self.conv.key(session_key, agent_id) if session_key else self.main_key(agent_id)
        now = self.state.now_ms()
        message = text_message("system", body, now, source=source)
        _rec, stored = self.conv.book.append(key, message, now)
        self.conv.message_added(str(key), stored, "message")
        queue = self.pending.setdefault(str(key), collections.deque(maxlen=MAX_PENDING_EVENTS))
        queue.append(SystemEvent(body, now, source))
        if wake_mode == "now":
            self.wake(str(key))
        return key

    def wake(self, session_key: str | None = None) -> None:
        """Run a turn for the session (default: the main session) as soon as possible."""
        self._wakes.add(session_key or str(self.main_key()))
        self._wake.set()

    def queued_texts(self, session_key: str | None = None) -> list[str]:
        key = session_key or str(self.main_key())
        return [e.text for e in self.pending.get(key, ())]

    async def start_agent_turn(self, turn: AgentTurn) -> StartedTurn:
        """Submit the turn (its message committed on return); UNAVAILABLE/INVALID_REQUEST as
        chat.send. The reply's delivery runs in the background (StartedTurn.finished)."""
        if turn.session_key:
            key = self.conv.key(turn.session_key, turn.agent_id)
        else:
            key = self.main_key(turn.agent_id)
        extra: dict[str, Any] = {}
        if turn.extra_system_prompt:
            extra["extraSystemPrompt"] = turn.extra_system_prompt
        request = TurnRequest(
            key,
            turn.message,
            turn.run_id or f"{turn.origin}:{uuid.uuid4()}",
            origin=turn.origin,
            thinking=turn.thinking,
            model=turn.model,
            timeout_ms=turn.timeout_ms,
            extra=extra,
        )
        run, fresh = await self.conv.runs.submit(request)
        started = StartedTurn(run, fresh)
        self._nursery.start_soon(self._finish_turn, started, turn.deliver)
        return started

    async def _finish_turn(self, started: StartedTurn, deliver: DeliveryTarget | None) -> None:
        try:
            await started.run.done.wait()
            if deliver is not None and started.run.status == "ok" and started.run.text.strip():
                started.delivery_id, started.delivery_error = self.deliver(
                    deliver, started.run.session_key, started.run.text, origin=started.run.run_id
                )
        finally:
            started.finished.set()

    def deliver(
        self, target: DeliveryTarget, session_key: str, text: str, *, origin: str
    ) -> tuple[str | None, str | None]:
        """(delivery id, None) once queued, or (None, why not)."""
        channels = self.state.channels
        if channels is None:
            return None, "channels are not available"
        try:
            out = channels.resolve_target(target, session_key, text, origin=origin)
            return channels.outbox.enqueue(out), None
        except RpcError as exc:
            return None, exc.message

    # --- heartbeats ------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self._tick_changed.set()

    async def run_heartbeats(self) -> None:
        """The scheduled cadence (while enabled and every > 0)."""
        while True:
            self._tick_changed = trio.Event()
            if not self.enabled or self.settings.every_ms <= 0:
                await self._tick_changed.wait()
                continue
            with trio.move_on_after(self.settings.every_ms / 1000):
                await self._tick_changed.wait()
                continue
            self.wake(str(self.main_key()))

    async def run_wakes(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            wakes, self._wakes = sorted(self._wakes), set()
            for key in wakes:
                await self._beat(key)

    async def _beat(self, session_key: str) -> None:
        started_ms = self.state.now_ms()
        events = list(self.pending.get(session_key, ()))
        if not events and self.conv.runs.active(session_key) is not None:
            self._publish({"status": "skipped", "reason": "requests-in-flight"}, started_ms)
            return
        lines = [f"System: [{js_iso(e.ts)}] {e.text}" for e in events]
        message = "\n".join([*lines, "", self.settings.prompt] if lines else [self.settings.prompt])
        try:
            run, _fresh = await self.conv.runs.submit(
                TurnRequest(
                    K.parse(session_key),
                    message,
                    f"heartbeat:{uuid.uuid4()}",
                    origin="heartbeat",
                    timeout_ms=self.settings.timeout_ms,
                )
            )
        except RpcError as exc:  # no agent node: the events wait for the next beat
            reason = "agent-unavailable" if exc.code == "UNAVAILABLE" else "invalid-session"
            self._publish(
                {"status": "skipped", "reason": reason, "message": exc.message}, started_ms
            )
            return
        queue = self.pending.get(session_key)
        for _ in events:
            if queue:
                queue.popleft()
        await run.done.wait()
        if run.status != "ok":
            self._publish({"status": "failed", "reason": run.error or run.status}, started_ms)
            return
        status, text = H.classify_reply(run.text)
        if status != "sent":
            self._publish({"status": status, "silent": True}, started_ms)
            return
        event: dict[str, Any] = {"preview": text[:PREVIEW_CHARS]}
        target = self._heartbeat_target()
        if target is None:
            reason = "target-none" if self.settings.target == "none" else "no-route"
            message_text = H.TARGET_NONE_MESSAGE if reason == "target-none" else H.NO_ROUTE_MESSAGE
            event |= {"status": "skipped", "reason": reason, "message": message_text}
        else:
            delivery_id, error = self.deliver(target, session_key, text, origin=run.run_id)
            if delivery_id is None:
                event |= {"status": "failed", "reason": error, "channel": target.channel}
            else:
                event |= {"status": "sent", "channel": target.channel, "to": target.to}
                event |= {"accountId": target.account_id} if target.account_id else {}
        self._publish(event, started_ms)

    def _heartbeat_target(self) -> DeliveryTarget | None:
        s = self.settings
        if s.target == "none":
            return None
        if s.target == "owner":
            if self._owner is None:
                return None
            return DeliveryTarget(self._owner[0], self._owner[1], s.account_id)
        if s.target == "last":
            channels = self.state.channels
            if channels is None or channels.last_route(str(self.main_key())) is None:
                return None
            return DeliveryTarget("last", s.to, s.account_id)
        return DeliveryTarget(s.target, s.to, s.account_id)

    def _publish(self, fields: dict[str, Any], started_ms: int) -> None:
        now = self.state.now_ms()
        event = {"ts": now, **{k: v for k, v in fields.items() if v is not None}}
        event["durationMs"] = max(0, now - started_ms)
        self.state.last_heartbeat = event
        self.state.broadcast("heartbeat", event)


def owner_route(raw_config: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first concrete `commands.ownerAllowFrom` entry ("<channel>:<id>")."""
    commands = raw_config.get("commands")
    owners = commands.get("ownerAllowFrom") if isinstance(commands, Mapping) else None
    for entry in owners if isinstance(owners, list) else []:
        if isinstance(entry, str) and ":" in entry and "*" not in entry:
            channel, _, peer = entry.partition(":")
            if channel.strip() and peer.strip():
                return channel.strip().lower(), peer.strip()
    return None


async def run_main_session(
    state: GatewayState,
    conversations: Conversations,
    raw_config: Mapping[str, Any],
    *,
    task_status: trio.TaskStatus[MainSession] = trio.TASK_STATUS_IGNORED,
) -> None:
    settings = H.HeartbeatSettings.from_config(raw_config.get("agents"))
    async with trio.open_nursery() as nursery:
        main = MainSession(state, conversations, settings, nursery, owner_route(raw_config))
        nursery.start_soon(main.run_wakes)
        nursery.start_soon(main.run_heartbeats)
        state.main_session = main
        task_status.started(main)
        try:
            await trio.sleep_forever()
        finally:
            state.main_session = None
