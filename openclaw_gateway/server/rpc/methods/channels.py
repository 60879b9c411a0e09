"""channels.status: the connected bridges and their channels, in the official payload shape
(what `openclaw channels status` renders): one account entry per (channel, accountId) seen,
`running`/`connected` while a bridge serves the channel, lastInboundAt/lastOutboundAt from
the traffic, the bridge node's id and name; `statusIssues` for a channel whose last send
failed."""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.core.routing import DEFAULT_ACCOUNT_ID
from openclaw_gateway.protocol.schema import Bool, Num, Str, obj
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check

Record = dict[str, Any]
PARAMS = obj(probe=Bool(), timeoutMs=Num(), channel=Str())


def _accounts(ctx: CallContext) -> dict[str, dict[str, Record]]:
    state = ctx.state
    channels = state.channels
    out: dict[str, dict[str, Record]] = {}
    if channels is None:
        return out
    bridges = channels.bridges
    for node in state.nodes.sessions.values():
        if not bridges.is_bridge(node):
            continue
        for name in bridges.channels_of(node):
            out.setdefault(name, {}).setdefault(DEFAULT_ACCOUNT_ID, {})
    for (name, account), _act in bridges.activity.items():
        out.setdefault(name, {}).setdefault(account, {})
    for name, accounts in out.items():
        owner = bridges.owner(name, state.nodes.sessions.values())
        for account_id in list(accounts):
            act = bridges.activity.get((name, account_id))
            entry: Record = {
                "accountId": account_id,
                "enabled": True,
                "configured": True,
                "running": owner is not None,
                "connected": owner is not None,
                "mode": "bridge",
            }
            if owner is not None:
                entry["bridgeNodeId"] = owner.node_id
                if owner.display_name:
                    entry["name"] = owner.display_name
            if act is not None:
                entry["lastInboundAt"] = act.inbound_at
                entry["lastOutboundAt"] = act.outbound_at
                if act.last_error:
                    entry["lastError"] = act.last_error
            accounts[account_id] = {k: v for k, v in entry.items() if v is not None}
    return out


@registry.method("channels.status", scope=S.READ)
def channels_status(ctx: CallContext, params: Any) -> Record:
    p = check("channels.status", PARAMS, params if params is not None else {})
    found = _accounts(ctx)
    wanted = p.get("channel")
    if isinstance(wanted, str):
        name = wanted.strip().lower()
        if name not in found:
            raise RpcError("INVALID_REQUEST", f"unknown channel: {wanted}")
        found = {name: found[name]}
    order = sorted(found)
    payload: Record = {
        "ts": ctx.state.now_ms(),
        "channelOrder": order,
        "channelLabels": {c: c for c in order},
        "channelDetailLabels": {c: f"{c} (bridge)" for c in order},
        "channelSystemImages": {},
        "channelMeta": [{"id": c, "label": c, "detailLabel": f"{c} (bridge)"} for c in order],
        "eventLoop": ctx.state.loop.snapshot(),
        "channels": {},
        "channelAccounts": {},
        "channelDefaultAccountId": {},
        "statusIssues": [],
    }
    for name in order:
        accounts = [found[name][a] for a in sorted(found[name])]
        default = found[name].get(DEFAULT_ACCOUNT_ID) or accounts[0]
        summary: Record = {"configured": True, "running": default["running"]}
        if default.get("lastError"):
            summary["lastError"] = default["lastError"]
        payload["channels"][name] = summary
        payload["channelAccounts"][name] = accounts
        payload["channelDefaultAccountId"][name] = DEFAULT_ACCOUNT_ID
        for account in accounts:
            if account.get("lastError"):
                payload["statusIssues"].append(
                    {
                        "channel": name,
                        "accountId": account["accountId"],
                        "kind": "runtime",
                        "message": f"last send failed: {account['lastError']}",
                    }
                )
    return payload
