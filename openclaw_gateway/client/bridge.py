"""Write a channel bridge in Python: a node that brings a chat channel's messages to the
gateway and posts the agent's replies back (the contract: README "Channel bridges").

    bridge = BridgeNode("ws://127.0.0.1:18789", token=…, device_store=IdentityStore(dir),
                        channels=("terminal",))

    @bridge.on_send
    async def post(msg: ChannelSend) -> None:
        await my_chat_api.post(msg.to, msg.text)      # raise to make the gateway retry

    async with bridge.running():
        await bridge.message("terminal", "alice", "hello")   # -> the agent; reply via post

It declares `channel.send` and `channel:<name>` for each channel; an operator approves the
node once. A send repeated by the gateway's retry (same idempotency key) is answered without
posting twice (the newest SEEN_SENDS keys are remembered).
"""

from __future__ import annotations

import collections
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.client.invoke_context import CURRENT_INVOKE
from openclaw_gateway.client.node_host import NodeHost
from openclaw_gateway.client.session import DEFAULT_CALL_TIMEOUT

SEND_COMMAND = "channel.send"
SEEN_SENDS = 1024


@attrs.frozen
class ChannelSend:
    channel: str
    to: str
    text: str
    account_id: str
    peer_kind: str
    reply_to: str | None = None
    thread_id: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ChannelSend:
        raw_peer = params.get("peer")
        peer: dict[str, Any] = raw_peer if isinstance(raw_peer, dict) else {}
        return cls(
            channel=str(params.get("channel", "")),
            to=str(params.get("to") or peer.get("id") or ""),
            text=str(params.get("text", "")),
            account_id=str(params.get("accountId") or "default"),
            peer_kind=str(peer.get("kind") or "direct"),
            reply_to=params.get("replyToMessageId"),
            thread_id=params.get("threadId"),
        )


SendHandler = Callable[[ChannelSend], Awaitable[None] | None]


class BridgeNode(NodeHost):
    def __init__(
        self,
        url: str,
        *,
        device_store: IdentityStore,
        channels: tuple[str, ...],
        token: str | None = None,
        display_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        caps = tuple(f"channel:{c}" for c in channels)
        super().__init__(
            url,
            device_store=device_store,
            token=token,
            display_name=display_name,
            caps=caps,
            **kwargs,
        )
        self.channels = channels
        self._handler: SendHandler | None = None
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.commands[SEND_COMMAND] = self._send

    def on_send(self, fn: SendHandler) -> SendHandler:
        self._handler = fn
        return fn

    async def _send(self, params: Any) -> dict[str, Any]:
        if self._handler is None:
            raise RuntimeError("this bridge has no send handler (BridgeNode.on_send)")
        key = (CURRENT_INVOKE.get() or {}).get("idempotencyKey")
        if isinstance(key, str) and key in self._seen:
            return {"delivered": True, "duplicate": True}
        result = self._handler(ChannelSend.from_params(params or {}))
        if inspect.isawaitable(result):
            await result
        if isinstance(key, str):
            self._seen[key] = None
            while len(self._seen) > SEEN_SENDS:
                self._seen.popitem(last=False)
        return {"delivered": True}

    async def message(
        self,
        channel: str,
        peer_id: str,
        text: str,
        *,
        peer_kind: str = "direct",
        account_id: str | None = None,
        sender: str | None = None,
        message_id: str | None = None,
        thread_id: str | None = None,
        timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> dict[str, Any]:
        """Send one inbound message; returns the gateway's answer ({runId, sessionKey, …})
        once the gateway committed it."""
        if self.client is None:
            raise RuntimeError("the bridge is not running (use `async with bridge.running()`)")
        payload: dict[str, Any] = {
            "channel": channel,
            "peer": {"kind": peer_kind, "id": peer_id},
            "text": text,
        }
        for name, value in (
            ("accountId", account_id),
            ("from", sender),
            ("messageId", message_id),
            ("threadId", thread_id),
        ):
            if value is not None:
                payload[name] = value
        answer = await self.client.call(
            "node.event", {"event": "channel.message", "payload": payload}, timeout=timeout
        )
        return answer if isinstance(answer, dict) else {}
