"""Which connected node bridges which channel, and what each channel did lately. No trio.

A bridge is a connected node whose approved commands include `channel.send`. It serves the
channels it declared as `channel:<name>` caps, and any channel it sent a `channel.message`
for while connected (learned, forgotten when it disconnects). The oldest connection wins,
so a second bridge for the same channel is a standby.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from openclaw_gateway.server.channels.contract import CHANNEL_CAP_PREFIX, SEND_COMMAND
from openclaw_gateway.server.nodes import NodeSession

Record = dict[str, Any]


@attrs.define
class Activity:
    inbound_at: int | None = None
    outbound_at: int | None = None
    last_error: str | None = None


def declared_channels(node: NodeSession) -> list[str]:
    return [
        c[len(CHANNEL_CAP_PREFIX) :].lower()
        for c in node.effective_caps
        if c.startswith(CHANNEL_CAP_PREFIX) and len(c) > len(CHANNEL_CAP_PREFIX)
    ]


class Bridges:
    def __init__(self) -> None:
        # channel -> node ids that sent messages for it (this connection), oldest first.
        self._learned: dict[str, list[str]] = {}
        # (channel, accountId) -> activity, for channels.status.
        self.activity: dict[tuple[str, str], Activity] = {}

    @staticmethod
    def is_bridge(node: NodeSession) -> bool:
        return SEND_COMMAND in node.effective_commands

    def channels_of(self, node: NodeSession) -> list[str]:
        learned = [c for c, ids in self._learned.items() if node.node_id in ids]
        return sorted(set(declared_channels(node)) | set(learned))

    def learn(self, node: NodeSession, channel: str) -> None:
        ids = self._learned.setdefault(channel, [])
        if node.node_id not in ids:
            ids.append(node.node_id)

    def forget(self, node_id: str) -> None:
        for ids in self._learned.values():
            if node_id in ids:
                ids.remove(node_id)

    def owner(self, channel: str, sessions: Iterable[NodeSession]) -> NodeSession | None:
        ready = sorted(
            (s for s in sessions if self.is_bridge(s) and channel in self.channels_of(s)),
            key=lambda s: s.connected_at_ms,
        )
        return ready[0] if ready else None

    def touch(self, channel: str, account_id: str, **fields: Any) -> None:
        act = self.activity.setdefault((channel, account_id), Activity())
        for name, value in fields.items():
            setattr(act, name, value)
