"""Channels: the router, the bridges and the delivery queue, and the `run_channels` service.

An inbound `channel.message` from an approved bridge (node.event) is routed (routing.py) to
an agent's session, remembered as that session's route (lastChannel, lastTo, lastAccountId,
lastPeerKind, lastThreadId: what `channel: "last"` resolves to), and submitted as a turn of
the run manager, so operators see it live (`sessions.changed`, `chat`). When the turn ends
with text, the reply is queued for the bridge (outbox.py) as a reply to the message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.channels.bridges import Bridges
from openclaw_gateway.server.channels.contract import ContractError, Inbound, Outgoing
from openclaw_gateway.server.channels.outbox import Outbox
from openclaw_gateway.server.channels.routing import Router
from openclaw_gateway.server.nodes import NodeSession
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.run import Run, TurnRequest
from openclaw_gateway.state.store import Store

if TYPE_CHECKING:
    from openclaw_gateway.server.mainsession.api import DeliveryTarget
    from openclaw_gateway.server.runs.service import Conversations

Record = dict[str, Any]
ROUTE_FIELDS = ("lastChannel", "lastTo", "lastAccountId", "lastPeerKind", "lastThreadId")


class Channels:
    def __init__(
        self,
        state: GatewayState,
        conversations: Conversations,
        router: Router,
        outbox: Outbox,
        nursery: trio.Nursery,
    ) -> None:
        self.state = state
        self.conv = conversations
        self.router = router
        self.outbox = outbox
        self.bridges = outbox.bridges
        self._nursery = nursery

    # --- bridges coming and going (NodeRegistry watchers) ---------------------------------

    def node_changed(self, node: NodeSession, connected: bool) -> None:
        if not connected:
            self.bridges.forget(node.node_id)
        elif self.bridges.is_bridge(node):
            self.outbox.wake()  # messages waiting for this bridge's channels

    # --- inbound -------------------------------------------------------------------------

    async def inbound(self, node: NodeSession, msg: Inbound) -> Run:
        """Route one message and start its turn; returns once the message is committed."""
        if not self.bridges.is_bridge(node):
            raise ContractError(
                "channel.message needs a bridge: declare and get approved the channel.send "
                "command, so the reply can go back"
            )
        self.bridges.learn(node, msg.channel)
        now = self.state.now_ms()
        self.bridges.touch(msg.channel, msg.account_id, inbound_at=now)
        route = self.router.route(msg, self.conv.agents.default_id)
        if self.conv.agents.get(route.agent_id) is None:
            raise ContractError(f'binding names an unknown agent id "{route.agent_id}"')
        fields: Record = {
            "lastChannel": msg.channel,
            "lastTo": msg.peer_id,
            "lastAccountId": msg.account_id,
            "lastPeerKind": msg.peer_kind,
            "lastThreadId": msg.thread_id,
        }
        if msg.peer_kind != "direct":
            fields["kind"] = "group"
        self.conv.book.patch(route.session_key, fields, now)
        run_id = f"channel:{msg.channel}:{msg.message_id or uuid.uuid4()}"
        text = (
            msg.text
            if msg.sender is None or msg.peer_kind == "direct"
            else (f"{msg.sender}: {msg.text}")
        )
        run, fresh = await self.conv.runs.submit(
            TurnRequest(route.session_key, text, run_id, origin="channel")
        )
        if fresh:
            self._nursery.start_soon(self._reply, run, msg)
        return run

    async def _reply(self, run: Run, msg: Inbound) -> None:
        await run.done.wait()
        if run.status != "ok" or not run.text.strip():
            return
        out = Outgoing(
            channel=msg.channel,
            to=msg.peer_id,
            text=run.text,
            account_id=msg.account_id,
            peer_kind=msg.peer_kind,
            reply_to=msg.message_id,
            thread_id=msg.thread_id,
            origin=run.session_key,
        )
        try:
            self.outbox.enqueue(out)
        except RpcError as exc:
            self.state.logger.error("channels", f"reply of {run.run_id} not queued: {exc.message}")

    # --- outbound targets ----------------------------------------------------------------

    def last_route(self, session_key: str | None) -> Record | None:
        """The session's own route, else the most recently active channel session's."""
        rec = self.conv.book.get(session_key) if session_key else None
        if rec is not None and rec.get("lastChannel"):
            return rec
        for row in self.conv.book.listing():
            if row.get("lastChannel") and row.get("lastTo"):
                return row
        return None

    def resolve_target(
        self, target: DeliveryTarget, session_key: str | None, text: str, *, origin: str
    ) -> Outgoing:
        route = self.last_route(session_key) if target.channel == "last" else None
        if target.channel == "last" and route is None:
            raise RpcError("INVALID_REQUEST", 'no channel route yet for channel "last"')
        channel = str(route["lastChannel"]) if route else target.channel.lower()
        same = route is not None
        to = target.to or (str(route["lastTo"]) if same and route else None)
        if not to:
            raise RpcError("INVALID_REQUEST", f'no recipient ("to") for channel "{channel}"')
        account = target.account_id or (route.get("lastAccountId") if route else None)
        kind = route.get("lastPeerKind") if route and not target.to else None
        return Outgoing(
            channel=channel,
            to=to,
            text=text,
            account_id=str(account or "default"),
            peer_kind=str(kind or "direct"),
            thread_id=target.thread_id or (route.get("lastThreadId") if route else None),
            origin=origin,
        )


async def run_channels(
    state: GatewayState,
    conversations: Conversations,
    store: Store,
    raw_config: Mapping[str, Any],
    *,
    task_status: trio.TaskStatus[Channels] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Service: the delivery queue's sender and the reply tasks, until cancelled."""
    outbox = Outbox(state, store, Bridges())
    async with trio.open_nursery() as nursery:
        channels = Channels(state, conversations, Router.from_config(raw_config), outbox, nursery)
        nursery.start_soon(outbox.send_forever)
        state.nodes.watchers.append(channels.node_changed)
        state.channels = channels
        task_status.started(channels)
        try:
            await trio.sleep_forever()
        finally:
            state.channels = None
            state.nodes.watchers.remove(channels.node_changed)
