"""`channel.*` node events (our extension for channel bridges): relayed to operators holding
operator.read as `node.event`, from an approved node only, at most MAX_NODE_EVENT_BYTES and
NODE_EVENT_LIMIT per NODE_EVENT_WINDOW_MS per node (security/node_rules.py), and encoded once
for every reader; a `channel.message` is then routed to an agent (server/channels)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.codec import NotJsonError
from openclaw_gateway.security import node_rules as R
from openclaw_gateway.server.channels.contract import ContractError, parse_inbound
from openclaw_gateway.server.nodes import NodeSession
from openclaw_gateway.server.rpc.context import CallContext, GatewayState

Record = dict[str, Any]


def _too_large(size: int) -> RpcError:
    return RpcError(
        "INVALID_REQUEST",
        f"node event payload too large ({size} bytes; max {R.MAX_NODE_EVENT_BYTES})",
    )


def relay_channel_event(
    ctx: CallContext, session: NodeSession | None, node_id: str, p: dict[str, Any]
) -> Any:
    """Our extension for channel bridges: relay to operators holding operator.read, from an
    approved node only, capped in size and rate, encoded once for every reader."""
    state = ctx.state
    if session is None or session.approval is None:
        raise RpcError(
            "FORBIDDEN",
            "channel events need an approved node: run `openclaw nodes pending`, then "
            "`openclaw nodes approve <requestId>`",
            details={"code": "NODE_NOT_APPROVED", "nodeId": node_id},
        )
    payload = p.get("payload")
    text = p.get("payloadJSON")
    if payload is None and isinstance(text, str):
        if len(text.encode("utf-8")) > R.MAX_NODE_EVENT_BYTES:
            raise _too_large(len(text.encode("utf-8")))
        with contextlib.suppress(NotJsonError):
            payload = codec.parse_json(text)
    encoded = codec.encode(payload)
    size = len(encoded.encode("utf-8"))
    if size > R.MAX_NODE_EVENT_BYTES:
        raise _too_large(size)
    caller = ctx.caller
    budget = state.nodes.event_budget.consume(
        "node.event", node_id, caller.remote_ip, caller.conn_id, state.now_ms()
    )
    if not budget.allowed:
        raise RpcError(
            "UNAVAILABLE",
            f"rate limit exceeded for node.event; retry after "
            f"{math.ceil(budget.retry_after_ms / 1000)}s",
            retryable=True,
            retry_after_ms=budget.retry_after_ms,
            details={"method": "node.event", "limit": state.nodes.event_budget.limit_text()},
        )
    relay = (
        f'{{"nodeId":{codec.encode(node_id)},"event":{codec.encode(p["event"])},'
        f'"payload":{encoded},"ts":{state.now_ms()}}}'
    )
    state.broadcast("node.event", codec.Encoded(relay))
    return payload


async def route_inbound(state: GatewayState, session: NodeSession, payload: Any) -> Record:
    """A bridge's `channel.message`: to its agent's session (server/channels); answers
    the run and session it started, for the bridge's own bookkeeping."""
    try:
        msg = parse_inbound(payload)
        if state.channels is None:
            raise RpcError("UNAVAILABLE", "channels are not available yet")
        run = await state.channels.inbound(session, msg)
    except ContractError as exc:
        raise RpcError("INVALID_REQUEST", f"invalid channel.message: {exc}") from None
    return {"runId": run.run_id, "sessionKey": run.session_key}
