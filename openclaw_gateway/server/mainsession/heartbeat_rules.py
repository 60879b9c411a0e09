"""Heartbeat settings and the official reply rules, pure.

`agents.defaults.heartbeat` {every (default "30m"; "0m" disables the cadence), prompt,
target ("owner" default | "last" | "none" | a channel id), to, accountId, timeoutSeconds}.
A reply is not delivered when it is empty (`ok-empty`) or an acknowledgment: `NO_REPLY`,
or `HEARTBEAT_OK` at its start or end with at most ACK_MAX_CHARS left (`ok-token`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from openclaw_gateway.server.cron.pacing import DurationError, parse_duration_ms

DEFAULT_EVERY_MS = 30 * 60 * 1000
DEFAULT_PROMPT = (
    "Follow the heartbeat monitor scratch context when provided. Recurring tasks are "
    "automations; create or change their schedules with the automations tool, not heartbeat "
    "scratch. Do not infer or repeat old tasks from prior chats. If nothing needs attention, "
    "reply NO_REPLY."
)
ACK_TOKEN = "HEARTBEAT_OK"
SILENT_TOKEN = "NO_REPLY"
ACK_MAX_CHARS = 300
MAX_TIMEOUT_MS = 600_000
TARGET_NONE_MESSAGE = "Heartbeat delivery is disabled by configuration (target: none)."
NO_ROUTE_MESSAGE = (
    "Heartbeat has no delivery route yet. Message your bot once, or set "
    "agents.defaults.heartbeat.target."
)


@attrs.frozen
class HeartbeatSettings:
    every_ms: int = DEFAULT_EVERY_MS  # 0: no cadence (wakes still run a turn)
    prompt: str = DEFAULT_PROMPT
    target: str = "owner"
    to: str | None = None
    account_id: str | None = None
    timeout_ms: int = MAX_TIMEOUT_MS

    @classmethod
    def from_config(cls, agents: Any) -> HeartbeatSettings:
        defaults = agents.get("defaults") if isinstance(agents, Mapping) else None
        hb = defaults.get("heartbeat") if isinstance(defaults, Mapping) else None
        hb = hb if isinstance(hb, Mapping) else {}
        every = DEFAULT_EVERY_MS
        if isinstance(hb.get("every"), str):
            try:
                every = parse_duration_ms(hb["every"])
            except DurationError:
                every = DEFAULT_EVERY_MS
        timeout = hb.get("timeoutSeconds")
        timeout_ms = (
            int(timeout * 1000)
            if isinstance(timeout, int | float) and timeout > 0
            else min(every or MAX_TIMEOUT_MS, MAX_TIMEOUT_MS)
        )

        def text(name: str) -> str | None:
            value = hb.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else None

        return cls(
            every_ms=every,
            prompt=text("prompt") or DEFAULT_PROMPT,
            target=(text("target") or "owner").lower(),
            to=text("to"),
            account_id=text("accountId"),
            timeout_ms=timeout_ms,
        )


def classify_reply(text: str) -> tuple[str, str]:
    """(status, text to deliver): `ok-empty`, `ok-token` (nothing to deliver) or `sent`."""
    body = text.strip()
    if not body:
        return "ok-empty", ""
    if body == SILENT_TOKEN:
        return "ok-token", ""
    stripped = body
    if stripped.startswith(ACK_TOKEN):
        stripped = stripped[len(ACK_TOKEN) :].strip()
    elif stripped.endswith(ACK_TOKEN):
        stripped = stripped[: -len(ACK_TOKEN)].strip()
    if stripped != body and len(stripped) <= ACK_MAX_CHARS:
        return "ok-token", ""
    return "sent", body
