"""The bridge contract (README "Channel bridges"), pure.

A bridge is a node that declares the `channel.send` command (and `channel:<name>` caps for
the channels it serves) and sends `channel.message` node events:

    {channel, accountId?, peer: {kind: "direct"|"group"|"channel", id}, from?, text,
     messageId?, threadId?}

A reply goes back as a `channel.send` invoke on the bridge that owns the channel:

    {channel, accountId, peer: {kind, id}, to, text, replyToMessageId?, threadId?}
"""

from __future__ import annotations

from typing import Any

import attrs

from openclaw_gateway.core.routing import DEFAULT_ACCOUNT_ID, PEER_KINDS

MESSAGE_EVENT = "channel.message"
SEND_COMMAND = "channel.send"
CHANNEL_CAP_PREFIX = "channel:"
MAX_TEXT_CHARS = 32_000
MAX_ID_CHARS = 256


class ContractError(ValueError):
    """A channel.message payload the gateway cannot route (the message says why)."""


@attrs.frozen
class Inbound:
    channel: str
    account_id: str
    peer_kind: str
    peer_id: str
    text: str
    sender: str | None = None
    message_id: str | None = None
    thread_id: str | None = None


def _ident(payload: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ContractError(f"{name} must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise ContractError(f"{name} longer than {MAX_ID_CHARS} characters")
    return value.strip()


def parse_inbound(payload: Any) -> Inbound:
    if not isinstance(payload, dict):
        raise ContractError("channel.message payload must be an object")
    channel = _ident(payload, "channel", required=True)
    peer = payload.get("peer")
    if not isinstance(peer, dict):
        raise ContractError("peer must be an object {kind, id}")
    kind = peer.get("kind")
    if kind not in PEER_KINDS:
        raise ContractError('peer.kind must be "direct", "group" or "channel"')
    peer_id = _ident(peer, "id", required=True)
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ContractError("text must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        raise ContractError(f"text longer than {MAX_TEXT_CHARS} characters")
    assert channel is not None and peer_id is not None
    return Inbound(
        channel=channel.lower(),
        account_id=(_ident(payload, "accountId", required=False) or DEFAULT_ACCOUNT_ID).lower(),
        peer_kind=str(kind),
        peer_id=peer_id,
        text=text,
        sender=_ident(payload, "from", required=False),
        message_id=_ident(payload, "messageId", required=False),
        thread_id=_ident(payload, "threadId", required=False),
    )


@attrs.frozen
class Outgoing:
    """One message for a channel: what `channel.send` receives (plus where it came from)."""

    channel: str
    to: str
    text: str
    account_id: str = DEFAULT_ACCOUNT_ID
    peer_kind: str = "direct"
    reply_to: str | None = None
    thread_id: str | None = None
    origin: str = ""  # session key, cron:<jobId>, heartbeat: shown in the delivery record

    def send_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "channel": self.channel,
            "accountId": self.account_id,
            "peer": {"kind": self.peer_kind, "id": self.to},
            "to": self.to,
            "text": self.text,
        }
        if self.reply_to is not None:
            params["replyToMessageId"] = self.reply_to
        if self.thread_id is not None:
            params["threadId"] = self.thread_id
        return params

    def record(self) -> dict[str, Any]:
        return {**self.send_params(), "origin": self.origin}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Outgoing:
        peer = rec.get("peer") or {}
        return cls(
            channel=str(rec["channel"]),
            to=str(rec["to"]),
            text=str(rec["text"]),
            account_id=str(rec.get("accountId") or DEFAULT_ACCOUNT_ID),
            peer_kind=str(peer.get("kind") or "direct"),
            reply_to=rec.get("replyToMessageId"),
            thread_id=rec.get("threadId"),
            origin=str(rec.get("origin") or ""),
        )
