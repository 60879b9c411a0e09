"""Channel routing config, pure: top-level `bindings` and `session.dmScope` (official keys).

`bindings: [{agentId, match: {channel, accountId?, peer?: {kind, id}}, session?: {dmScope?,
groupScope?}}]`: who answers a channel message (server/channels/routing.py applies it).
An omitted `accountId` matches only the channel's default account, `"*"` every account
(docs/concepts/agent-bindings.md). Bad entries are config issues with their key path
(core/config.validate reports them; `gateway run` exits 78), never silently skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

DM_SCOPES = ("main", "per-peer", "per-channel-peer", "per-account-channel-peer")
GROUP_SCOPES = ("main", "per-group")
PEER_KINDS = ("direct", "group", "channel")
DEFAULT_ACCOUNT_ID = "default"
ANY_ACCOUNT = "*"

# (key path segments, message): core/config wraps these into its Issue.
RawIssue = tuple[tuple[str, ...], str]


@attrs.frozen
class Binding:
    agent_id: str
    channel: str
    account_id: str | None = None  # None: the default account only; "*": any account
    peer_kind: str | None = None
    peer_id: str | None = None
    dm_scope: str | None = None
    group_scope: str | None = None


def _choice(options: tuple[str, ...]) -> str:
    return "Invalid option: expected one of " + "|".join(f'"{o}"' for o in options)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_bindings(raw: Any) -> tuple[tuple[Binding, ...], list[RawIssue]]:
    if raw is None:
        return (), []
    if not isinstance(raw, list):
        return (), [(("bindings",), "Invalid input: expected array")]
    out: list[Binding] = []
    issues: list[RawIssue] = []
    for index, entry in enumerate(raw):
        at = ("bindings", str(index))
        if not isinstance(entry, Mapping):
            issues.append((at, "Invalid input: expected object"))
            continue
        if entry.get("type") == "acp":
            continue  # ACP conversations: not routed by this gateway
        agent_id = _text(entry.get("agentId"))
        if agent_id is None:
            issues.append(((*at, "agentId"), "Invalid input: expected non-empty string"))
        match = entry.get("match")
        if not isinstance(match, Mapping):
            issues.append(((*at, "match"), "Invalid input: expected object"))
            continue
        channel = _text(match.get("channel"))
        if channel is None:
            issues.append(((*at, "match", "channel"), "Invalid input: expected non-empty string"))
        account = match.get("accountId")
        if account is not None and _text(account) is None:
            issues.append(((*at, "match", "accountId"), "Invalid input: expected string"))
        peer = match.get("peer")
        kind = peer_id = None
        if peer is not None:
            if not isinstance(peer, Mapping):
                issues.append(((*at, "match", "peer"), "Invalid input: expected object"))
            else:
                kind, peer_id = peer.get("kind"), _text(peer.get("id"))
                if kind not in PEER_KINDS:
                    issues.append(((*at, "match", "peer", "kind"), _choice(PEER_KINDS)))
                if peer_id is None:
                    issues.append(
                        ((*at, "match", "peer", "id"), "Invalid input: expected non-empty string")
                    )
        session = entry.get("session")
        session = session if isinstance(session, Mapping) else {}
        dm, group = session.get("dmScope"), session.get("groupScope")
        if dm is not None and dm not in DM_SCOPES:
            issues.append(((*at, "session", "dmScope"), _choice(DM_SCOPES)))
        if group is not None and group not in GROUP_SCOPES:
            issues.append(((*at, "session", "groupScope"), _choice(GROUP_SCOPES)))
        acct = _text(account)
        if agent_id and channel:
            out.append(
                Binding(
                    agent_id=agent_id,
                    channel=channel.lower(),
                    account_id=acct.lower() if acct else None,
                    peer_kind=kind if isinstance(kind, str) else None,
                    peer_id=peer_id,
                    dm_scope=dm if isinstance(dm, str) else None,
                    group_scope=group if isinstance(group, str) else None,
                )
            )
    return tuple(out), issues


def dm_scope(raw_config: Mapping[str, Any]) -> tuple[str, list[RawIssue]]:
    """`session.dmScope` (default "main", as the official)."""
    session = raw_config.get("session")
    value = session.get("dmScope") if isinstance(session, Mapping) else None
    if value is None:
        return "main", []
    if value not in DM_SCOPES:
        return "main", [(("session", "dmScope"), _choice(DM_SCOPES))]
    return str(value), []


def routing_issues(raw_config: Mapping[str, Any]) -> list[RawIssue]:
    return parse_bindings(raw_config.get("bindings"))[1] + dm_scope(raw_config)[1]
