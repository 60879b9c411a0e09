"""Pairing rules as pure functions over plain records (protocol.md §4.5-§4.6, §5.2).

Scope arithmetic (official operator-scope-compat.ts / device-auth.ts) and the record shapes an
approval produces (device-pairing-approval.kernel.ts). No I/O, no clock: pairing.py applies them
inside store transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openclaw_gateway.security import scopes as S

Record = dict[str, Any]
OPERATOR = "operator"


def unique(*lists: Iterable[str] | None) -> list[str]:
    """Trimmed, de-duplicated, first-seen order."""
    out: dict[str, None] = {}
    for items in lists:
        for item in items or ():
            if item.strip():
                out[item.strip()] = None
    return list(out)


def normalize_scopes(scopes: Iterable[str] | None) -> list[str]:
    """Official normalizeDeviceAuthScopes: dedupe, add implied read/write, sort."""
    out = set(unique(scopes))
    if S.ADMIN in out:
        out |= {S.READ, S.WRITE}
    elif S.WRITE in out:
        out.add(S.READ)
    return sorted(out)


def missing_scope(role: str, requested: Iterable[str], allowed: Iterable[str]) -> str | None:
    """The first requested scope the role's allowed scopes do not cover (implications apply)."""
    have = [a.strip() for a in allowed]
    for scope in requested:
        s = scope.strip()
        if not s:
            continue
        ok = (
            S.scope_satisfied(s, have)
            if role == OPERATOR
            else s.startswith(f"{role}.") and s in have
        )
        if not ok:
            return scope
    return None


def scopes_allow(role: str, requested: Iterable[str], allowed: Iterable[str]) -> bool:
    return missing_scope(role, requested, allowed) is None


def role_token_scopes(role: str, scopes: Iterable[str] | None) -> list[str]:
    """Scopes owned by one token role: operator.* for operators, the rest for other roles."""
    normalized = normalize_scopes(scopes)
    is_op = role == OPERATOR
    return [s for s in normalized if s.startswith("operator.") == is_op]


def access_scopes(paired: Record | None) -> list[str]:
    if paired is None:
        return []
    return sorted(set(unique(paired.get("approvedScopes", paired.get("scopes")))))


def approved_roles(paired: Record) -> list[str]:
    return unique(paired.get("roles"), [paired["role"]] if paired.get("role") else [])


def effective_roles(paired: Record, tokens: dict[str, Record]) -> list[str]:
    """Roles with an active (non-revoked) token, bounded by the approved roles."""
    approved = set(approved_roles(paired))
    return [r for r, t in tokens.items() if not t.get("revokedAtMs") and r in approved]


def covered(existing: Record, incoming: Record) -> bool:
    """A re-request the pending snapshot already covers (same key and role, no new roles or
    scopes) refreshes it; anything wider must be shown to the operator as a new request."""
    if existing["publicKey"] != incoming["publicKey"]:
        return False
    if (existing.get("role") or None) != (incoming.get("role") or None):
        return False
    in_roles = unique(incoming.get("roles"), [incoming.get("role") or ""])
    if not set(in_roles) <= set(unique(existing.get("roles"), [existing.get("role") or ""])):
        return False
    have = normalize_scopes(existing.get("scopes"))
    return all(
        any(scopes_allow(r, [s], have) for r in in_roles)
        for s in normalize_scopes(incoming.get("scopes"))
    )


def token_scopes(
    role: str,
    pending: Record,
    token: Record | None,
    approved: list[str],
    existing: Record | None,
) -> list[str]:
    """Official resolveApprovedTokenScopes."""
    wanted = role_token_scopes(role, pending.get("scopes"))
    if wanted:
        baseline = role_token_scopes(
            role, (existing or {}).get("approvedScopes", (existing or {}).get("scopes"))
        )
        delta = [s for s in wanted if s not in baseline] if token and baseline else wanted
        if not delta and token:
            return role_token_scopes(role, token["scopes"])
        return role_token_scopes(role, unique(token["scopes"] if token else None, delta))
    return role_token_scopes(role, token["scopes"] if token else approved)


def approved_record(
    pending: Record,
    existing: Record | None,
    requested_roles: list[str],
    approved: list[str],
    now_ms: int,
    approved_via: str,
    access: Record | None,
) -> Record:
    prior = (existing or {}).get("approvedVia")
    if approved_via != "owner" and existing and prior in ("owner", "bootstrap"):
        approved_via = prior
    access = access or {}
    record: dict[str, Any] = {
        "deviceId": pending["deviceId"],
        "publicKey": pending["publicKey"],
        "displayName": access.get("displayName", pending.get("displayName")),
        "platform": pending.get("platform"),
        "deviceFamily": pending.get("deviceFamily"),
        "clientId": pending.get("clientId"),
        "clientMode": pending.get("clientMode"),
        "role": pending.get("role"),
        "roles": unique(approved_roles(existing) if existing else None, requested_roles),
        "scopes": approved,
        "approvedScopes": approved,
        "remoteIp": access.get("remoteIp", pending.get("remoteIp")),
        "approvedVia": approved_via,
        "createdAtMs": (existing or {}).get("createdAtMs", now_ms),
        "approvedAtMs": now_ms,
        "lastSeenAtMs": access.get("lastSeenAtMs", (existing or {}).get("lastSeenAtMs")),
        "lastSeenReason": access.get("lastSeenReason", (existing or {}).get("lastSeenReason")),
        # A node's approved command surface (node.pair.approve) survives device re-approval.
        "nodeApproval": (existing or {}).get("nodeApproval"),
    }
    return {k: v for k, v in record.items() if v is not None}
