"""One device's pairing records in memory, and the pairing operations on them. Pure.

`DeviceRecords` holds what the store keeps for one device id: the paired record, its device
tokens by role and its live pending requests. The operations (request, approve, ensure and
verify a token, touch) follow the official device-pairing kernels and change these records in
memory only; `pairing.Book` loads them, runs one or several operations, and writes what
changed in one transaction (or nothing when nothing changed). Records are replaced, never
changed in place, so a record an operation returned stays as it was returned.

Last-seen granularity: `lastSeenAtMs` (paired record) and `lastUsedAtMs` (device token) are
kept to SEEN_GRANULARITY_MS. A connect within a minute of the recorded time that changes
nothing else writes nothing, so a client reconnecting in a loop costs no disk writes; `devices
list` shows last-seen to the minute anyway.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from openclaw_gateway.security.auth import safe_equal
from openclaw_gateway.security.pairing_rules import (
    OPERATOR,
    access_scopes,
    approved_record,
    approved_roles,
    covered,
    missing_scope,
    normalize_scopes,
    role_token_scopes,
    scopes_allow,
    token_scopes,
    unique,
)

Record = dict[str, Any]
PENDING_TTL_MS = 300_000
SEEN_GRANULARITY_MS = 60_000
_REQUEST_METADATA = (
    "publicKey",
    "displayName",
    "platform",
    "deviceFamily",
    "clientId",
    "clientMode",
    "remoteIp",
)


@attrs.frozen
class Forbidden:
    message: str


@attrs.frozen
class Requested:
    request: Record
    created: bool
    superseded: tuple[str, ...] = ()


def pending_live(record: Record, now_ms: int) -> bool:
    return int(record.get("refreshedAtMs") or record["ts"]) + PENDING_TTL_MS > now_ms


def _recent(recorded: Any, now_ms: int) -> bool:
    return isinstance(recorded, int) and 0 <= now_ms - recorded < SEEN_GRANULARITY_MS


@attrs.define
class DeviceRecords:
    device_id: str
    paired: Record | None
    tokens: dict[str, Record] = attrs.field(repr=False)  # token records hold the secrets
    pending: list[Record]  # live requests only, oldest first
    new_id: Callable[[], str] = attrs.field(repr=False)
    mint: Callable[[], str] = attrs.field(repr=False)

    def copy(self) -> DeviceRecords:
        return attrs.evolve(
            self,
            paired=copy.deepcopy(self.paired),
            tokens=copy.deepcopy(self.tokens),
            pending=copy.deepcopy(self.pending),
        )

    def same_records(self, other: DeviceRecords) -> bool:
        return (self.paired, self.tokens, self.pending) == (
            other.paired,
            other.tokens,
            other.pending,
        )

    def live_pending(self, request_id: str) -> Record | None:
        return next((p for p in self.pending if p["requestId"] == request_id), None)

    # --- pending requests --------------------------------------------------------------------

    def request(self, req: Record, now_ms: int) -> Requested:
        """Create or refresh the device's pending request. `req` carries deviceId, publicKey,
        role, scopes, silent and client metadata."""
        is_repair = self.paired is not None
        existing = sorted(self.pending, key=lambda p: -p["ts"])
        if len(existing) == 1 and covered(existing[0], req):
            old = existing[0]
            fresh = dict(old)
            for key in _REQUEST_METADATA:
                if req.get(key) is not None:
                    fresh[key] = req[key]
            fresh.update(
                silent=bool(old.get("silent") and req.get("silent")),
                isRepair=bool(old.get("isRepair") or is_repair),
                refreshedAtMs=now_ms,
            )
            self.pending = [fresh if p is old else p for p in self.pending]
            return Requested(fresh, created=False)
        role = req.get("role") or (existing[0].get("role") if existing else None)
        roles = unique(*(p.get("roles") for p in existing), req.get("roles"), [role or ""])
        record = {
            k: v
            for k, v in {
                "requestId": self.new_id(),
                "deviceId": self.device_id,
                "publicKey": req["publicKey"],
                "displayName": req.get("displayName"),
                "platform": req.get("platform"),
                "deviceFamily": req.get("deviceFamily"),
                "clientId": req.get("clientId"),
                "clientMode": req.get("clientMode"),
                "role": role,
                "roles": roles,
                "scopes": unique(*(p.get("scopes") for p in existing), req.get("scopes")),
                "remoteIp": req.get("remoteIp"),
                "silent": bool(req.get("silent")) and all(p.get("silent") for p in existing),
                "isRepair": is_repair,
                "ts": now_ms,
            }.items()
            if v is not None
        }
        self.pending = [record]
        return Requested(record, True, tuple(p["requestId"] for p in existing))

    def approve(
        self,
        request_id: str,
        caller_scopes: list[str] | None,
        now_ms: int,
        approved_via: str = "owner",
        access: Record | None = None,
    ) -> Record | Forbidden | None:
        """Grant exactly the pending snapshot. None for an unknown requestId."""
        pending = self.live_pending(request_id)
        if pending is None:
            return None
        existing, tokens = self.paired, self.tokens
        requested_roles = unique(pending.get("roles"), [pending.get("role") or ""])
        for scope in unique(pending.get("scopes")):
            if not any(scope.startswith(f"{r}.") for r in requested_roles):
                return Forbidden(f"invalid scope for requested roles: {scope}")
        approved = unique(
            (existing or {}).get("approvedScopes", (existing or {}).get("scopes")),
            pending.get("scopes"),
        )
        next_scopes: dict[str, list[str]] = {}
        for role in requested_roles:
            scopes = token_scopes(role, pending, tokens.get(role), approved, existing)
            next_scopes[role] = scopes
            if role == OPERATOR and scopes:
                needed = unique(role_token_scopes(role, pending.get("scopes")), scopes)
                if caller_scopes is None:
                    return Forbidden(f"missing scope: {needed[0]}")
                missing = missing_scope(OPERATOR, needed, caller_scopes)
                if missing is not None:
                    return Forbidden(f"missing scope: {missing}")
        device = approved_record(pending, existing, requested_roles, approved, now_ms,
                                  approved_via, access)  # fmt: skip
        self.pending = [p for p in self.pending if p is not pending]
        self.paired = device
        fresh = {
            role: self._token(role, s, tokens.get(role), now_ms) for role, s in next_scopes.items()
        }
        self.tokens = {**tokens, **fresh}
        return device

    # --- the paired record -------------------------------------------------------------------

    def touch(self, patch: Record) -> None:
        """Apply the patch's non-None fields; `lastSeenAtMs` only moves when something else
        changed or the recorded time is a minute old (SEEN_GRANULARITY_MS)."""
        rec = self.paired
        if rec is None:
            return
        fields = {k: v for k, v in patch.items() if v is not None}
        seen = fields.pop("lastSeenAtMs", None)
        changed = any(rec.get(k) != v for k, v in fields.items())
        if seen is not None and (changed or not _recent(rec.get("lastSeenAtMs"), seen)):
            fields["lastSeenAtMs"] = seen
            changed = True
        if changed:
            self.paired = {**rec, **fields}

    # --- device tokens -----------------------------------------------------------------------

    def _token(self, role: str, scopes: list[str], existing: Record | None, now_ms: int) -> Record:
        token: Record = {
            "token": self.mint(),
            "role": role,
            "scopes": scopes,
            "createdAtMs": existing["createdAtMs"] if existing else now_ms,
        }
        if existing:
            token["rotatedAtMs"] = now_ms
            if existing.get("lastUsedAtMs") is not None:
                token["lastUsedAtMs"] = existing["lastUsedAtMs"]
        return token

    def ensure_token(self, role: str, scopes: Iterable[str], now_ms: int) -> Record | None:
        """Reuse the role's active token when it covers `scopes`, else mint one; None when the
        device or role is not approved or `scopes` exceed the approved baseline."""
        device = self.paired
        if device is None or role not in approved_roles(device):
            return None
        requested = normalize_scopes(scopes)
        baseline = normalize_scopes(access_scopes(device))
        if not scopes_allow(role, requested, baseline):
            return None
        current = self.tokens.get(role)
        if (
            current
            and not current.get("revokedAtMs")
            and scopes_allow(role, current["scopes"], baseline)
            and scopes_allow(role, requested, current["scopes"])
        ):
            return current
        fresh = self._token(role, requested, current, now_ms)
        self.tokens = {**self.tokens, role: fresh}
        return fresh

    def verify_token(self, role: str, token: str, scopes: Iterable[str], now_ms: int) -> str | None:
        """None if `token` is the device's live token for `role` and covers `scopes` (its
        `lastUsedAtMs` is brought up to date, to the minute), else the reason (`scope-mismatch`
        maps to AUTH_SCOPE_MISMATCH)."""
        device = self.paired
        if device is None:
            return "device-not-paired"
        entry = self.tokens.get(role)
        if entry is None:
            return "token-missing"
        if entry.get("revokedAtMs"):
            return "token-revoked"
        if not token.strip() or not safe_equal(token, entry["token"]):
            return "token-mismatch"
        baseline = normalize_scopes(access_scopes(device))
        if not scopes_allow(role, entry["scopes"], baseline):
            return "scope-mismatch"
        if not scopes_allow(role, normalize_scopes(scopes), entry["scopes"]):
            return "scope-mismatch"
        if not _recent(entry.get("lastUsedAtMs"), now_ms):
            self.tokens = {**self.tokens, role: {**entry, "lastUsedAtMs": now_ms}}
        return None

    def rotate(
        self, role: str, scopes: list[str] | None, caller_scopes: list[str] | None, now_ms: int
    ) -> Record | str:
        """A fresh token for `role` (never beyond the approval or the caller), or why not."""
        device = self.paired
        if device is None or role not in approved_roles(device):
            return "unknown-device-or-role"
        current = self.tokens.get(role)
        wanted = normalize_scopes(scopes if scopes is not None else (current or device)["scopes"])
        if not scopes_allow(role, wanted, normalize_scopes(access_scopes(device))):
            return "scope-outside-approved-baseline"
        if caller_scopes is not None and missing_scope(role, wanted, caller_scopes):
            return "caller-missing-scope"
        fresh = self._token(role, wanted, current, now_ms)
        fresh["rotatedAtMs"] = now_ms
        self.tokens = {**self.tokens, role: fresh}
        return fresh

    def revoke(self, role: str, caller_scopes: list[str] | None, now_ms: int) -> Record | str:
        device = self.paired
        current = self.tokens.get(role)
        if device is None or current is None or role not in approved_roles(device):
            return "unknown-device-or-role"
        target = normalize_scopes(current.get("scopes", device.get("scopes")))
        if caller_scopes is not None and missing_scope(role, target, caller_scopes):
            return "caller-missing-scope"
        revoked = {**current, "revokedAtMs": now_ms}
        self.tokens = {**self.tokens, role: revoked}
        return revoked
