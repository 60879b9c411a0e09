"""Which agent answers a channel message, and in which session. Pure.

Agent: the most specific matching binding (core/routing.py) — a peer match, then a concrete
account, then the `"*"` account fallback; within a tier the first in config order — else the
default agent. Session: the official buildAgentPeerSessionKey rules — direct messages by
`session.dmScope` (the binding's own override first): `main` -> agent:<id>:main, `per-peer`
-> agent:<id>:direct:<peer>, `per-channel-peer` -> agent:<id>:<channel>:direct:<peer>,
`per-account-channel-peer` -> agent:<id>:<channel>:<account>:direct:<peer>; groups and
channels always get agent:<id>:<channel>:<kind>:<peer> (unless groupScope "main").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from openclaw_gateway.core.routing import (
    ANY_ACCOUNT,
    DEFAULT_ACCOUNT_ID,
    Binding,
    dm_scope,
    parse_bindings,
)
from openclaw_gateway.server.channels.contract import Inbound
from openclaw_gateway.state import session_keys as K


@attrs.frozen
class Route:
    agent_id: str
    session_key: K.SessionKey
    binding: Binding | None


def _tier(binding: Binding, msg: Inbound) -> int | None:
    """0 peer, 1 account, 2 any account; None when the binding does not match."""
    if binding.channel != msg.channel:
        return None
    account = binding.account_id
    if account not in (None, ANY_ACCOUNT) and account != msg.account_id:
        return None
    if account is None and msg.account_id != DEFAULT_ACCOUNT_ID:
        return None
    if binding.peer_kind is not None:
        same = binding.peer_kind == msg.peer_kind and binding.peer_id == msg.peer_id
        return 0 if same else None
    return 2 if account == ANY_ACCOUNT else 1


def peer_session_rest(msg: Inbound, dm: str, group_scope: str | None) -> str:
    peer = msg.peer_id.lower()
    if msg.peer_kind == "direct":
        if dm == "per-account-channel-peer":
            return f"{msg.channel}:{msg.account_id}:direct:{peer}"
        if dm == "per-channel-peer":
            return f"{msg.channel}:direct:{peer}"
        if dm == "per-peer":
            return f"direct:{peer}"
        return K.MAIN_KEY
    if group_scope == "main":
        return K.MAIN_KEY
    return f"{msg.channel}:{msg.peer_kind}:{peer}"


@attrs.frozen
class Router:
    bindings: tuple[Binding, ...] = ()
    dm_scope: str = "main"

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None) -> Router:
        """Issues were reported by config validation before the start (exit 78)."""
        raw = raw or {}
        return cls(parse_bindings(raw.get("bindings"))[0], dm_scope(raw)[0])

    def route(self, msg: Inbound, default_agent: str) -> Route:
        best: tuple[int, Binding] | None = None
        for binding in self.bindings:
            tier = _tier(binding, msg)
            if tier is not None and (best is None or tier < best[0]):
                best = (tier, binding)
        chosen = best[1] if best is not None else None
        agent_id = K.normalize_agent_id(chosen.agent_id) if chosen else default_agent
        dm = (chosen.dm_scope if chosen else None) or self.dm_scope
        rest = peer_session_rest(msg, dm, chosen.group_scope if chosen else None)
        return Route(agent_id, K.SessionKey(agent_id, rest), chosen)
