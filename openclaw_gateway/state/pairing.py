"""Pairing records and device tokens (protocol.md §4.5-§4.6). No trio: time comes in as now_ms.

Follows the official device-pairing kernels (openclaw-state-worker-runtime-*.mjs): one pending
request per device; a compatible re-request refreshes it, an incompatible one (more scopes or
roles) *supersedes* it with a new requestId. A pending request is an immutable snapshot of
what the operator is shown, and approving a requestId grants exactly that snapshot, so a client
cannot widen an approval after it was displayed (security.md item 16). Each operation is one
store transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable

import attrs

from openclaw_gateway.security.auth import safe_equal
from openclaw_gateway.security.devices import b64url
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
from openclaw_gateway.state.store import Record, Store

PENDING_TTL_MS = 300_000


def new_token() -> str:
    return b64url(secrets.token_bytes(32))


@attrs.frozen
class Forbidden:
    message: str


@attrs.frozen
class Requested:
    request: Record
    created: bool
    superseded: tuple[str, ...] = ()


class Book:
    """Pairing and token operations over a Store; each public method is one transaction."""

    def __init__(
        self,
        store: Store,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        mint: Callable[[], str] = new_token,
    ) -> None:
        self.store = store
        self._new_id = new_id
        self._mint = mint

    def _prune(self, now_ms: int) -> None:
        for p in self.store.list_pending():
            if int(p.get("refreshedAtMs") or p["ts"]) + PENDING_TTL_MS <= now_ms:
                self.store.delete_pending(p["requestId"])

    # --- reads -------------------------------------------------------------------------------

    def paired(self, device_id: str) -> tuple[Record | None, dict[str, Record]]:
        rec = self.store.get_paired(device_id)
        return rec, (self.store.tokens_for(device_id) if rec else {})

    def pending(self, request_id: str, now_ms: int) -> Record | None:
        with self.store.transaction():
            self._prune(now_ms)
            return self.store.get_pending(request_id)

    def listing(self, now_ms: int) -> tuple[list[Record], list[tuple[Record, dict[str, Record]]]]:
        with self.store.transaction():
            self._prune(now_ms)
            pending = self.store.list_pending()
            paired = [(p, self.store.tokens_for(p["deviceId"])) for p in self.store.list_paired()]
        return pending, paired

    # --- pending requests --------------------------------------------------------------------

    def request(self, req: Record, now_ms: int) -> Requested:
        """Create or refresh the device's pending request. `req` carries deviceId, publicKey,
        role, scopes, silent and client metadata."""
        with self.store.transaction():
            self._prune(now_ms)
            device_id = req["deviceId"]
            is_repair = self.store.get_paired(device_id) is not None
            existing = sorted(self.store.pending_for(device_id), key=lambda p: -p["ts"])
            if len(existing) == 1 and covered(existing[0], req):
                old = existing[0]
                fresh = dict(old)
                for key in ("publicKey", "displayName", "platform", "deviceFamily", "clientId",
                            "clientMode", "remoteIp"):  # fmt: skip
                    if req.get(key) is not None:
                        fresh[key] = req[key]
                fresh.update(
                    silent=bool(old.get("silent") and req.get("silent")),
                    isRepair=bool(old.get("isRepair") or is_repair),
                    refreshedAtMs=now_ms,
                )
                self.store.put_pending(fresh)
                return Requested(fresh, created=False)
            for old in existing:
                self.store.delete_pending(old["requestId"])
            role = req.get("role") or (existing[0].get("role") if existing else None)
            roles = unique(*(p.get("roles") for p in existing), req.get("roles"), [role or ""])
            record = {
                k: v
                for k, v in {
                    "requestId": self._new_id(),
                    "deviceId": device_id,
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
            self.store.put_pending(record)
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
        with self.store.transaction():
            self._prune(now_ms)
            pending = self.store.get_pending(request_id)
            if pending is None:
                return None
            existing, tokens = self.paired(pending["deviceId"])
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
            self.store.delete_pending(request_id)
            self.store.put_paired(device)
            for role, scopes in next_scopes.items():
                self.store.put_token(
                    device["deviceId"], self._token(role, scopes, tokens.get(role), now_ms)
                )
            return device

    def reject(self, request_id: str, now_ms: int) -> Record | None:
        with self.store.transaction():
            self._prune(now_ms)
            pending = self.store.get_pending(request_id)
            if pending is None:
                return None
            self.store.delete_pending(request_id)
            return {"requestId": request_id, "deviceId": pending["deviceId"]}

    def remove(self, device_id: str) -> Record | None:
        with self.store.transaction():
            if not self.store.delete_paired(device_id.strip()):
                return None
            self.store.delete_pending_for(device_id.strip())
            return {"deviceId": device_id.strip()}

    def touch(self, device_id: str, patch: Record) -> None:
        with self.store.transaction():
            rec = self.store.get_paired(device_id)
            if rec is not None:
                rec.update({k: v for k, v in patch.items() if v is not None})
                self.store.put_paired(rec)

    def set_node_approval(self, device_id: str, approval: Record | None) -> bool:
        """Store (or with None, drop) a node's approved command surface on its pairing
        record. False if the device is not paired."""
        with self.store.transaction():
            rec = self.store.get_paired(device_id)
            if rec is None:
                return False
            rec.pop("nodeApproval", None)
            if approval is not None:
                rec["nodeApproval"] = approval
            self.store.put_paired(rec)
            return True

    # --- device tokens -----------------------------------------------------------------------

    def _token(self, role: str, scopes: list[str], existing: Record | None, now_ms: int) -> Record:
        token: Record = {
            "token": self._mint(),
            "role": role,
            "scopes": scopes,
            "createdAtMs": existing["createdAtMs"] if existing else now_ms,
        }
        if existing:
            token["rotatedAtMs"] = now_ms
            if existing.get("lastUsedAtMs") is not None:
                token["lastUsedAtMs"] = existing["lastUsedAtMs"]
        return token

    def ensure_token(
        self, device_id: str, role: str, scopes: Iterable[str], now_ms: int
    ) -> Record | None:
        """Reuse the role's active token when it covers `scopes`, else mint one; None when the
        device or role is not approved or `scopes` exceed the approved baseline."""
        with self.store.transaction():
            device, tokens = self.paired(device_id)
            if device is None or role not in approved_roles(device):
                return None
            requested = normalize_scopes(scopes)
            baseline = normalize_scopes(access_scopes(device))
            if not scopes_allow(role, requested, baseline):
                return None
            current = tokens.get(role)
            if (
                current
                and not current.get("revokedAtMs")
                and scopes_allow(role, current["scopes"], baseline)
                and scopes_allow(role, requested, current["scopes"])
            ):
                return current
            fresh = self._token(role, requested, current, now_ms)
            self.store.put_token(device_id, fresh)
            return fresh

    def verify_token(
        self, device_id: str, role: str, token: str, scopes: Iterable[str], now_ms: int
    ) -> str | None:
        """None if `token` is the device's live token for `role` and covers `scopes`, else the
        reason (`scope-mismatch` maps to AUTH_SCOPE_MISMATCH)."""
        with self.store.transaction():
            device, tokens = self.paired(device_id)
            if device is None:
                return "device-not-paired"
            entry = tokens.get(role)
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
            entry["lastUsedAtMs"] = now_ms
            self.store.put_token(device_id, entry)
            device.update(lastSeenAtMs=now_ms, lastSeenReason="device-token-auth")
            self.store.put_paired(device)
            return None

    def rotate(
        self,
        device_id: str,
        role: str,
        scopes: list[str] | None,
        caller_scopes: list[str] | None,
        now_ms: int,
    ) -> Record | str:
        """The new token record, or the denial reason."""
        with self.store.transaction():
            device, tokens = self.paired(device_id.strip())
            role = role.strip()
            if device is None or role not in approved_roles(device):
                return "unknown-device-or-role"
            current = tokens.get(role)
            wanted = normalize_scopes(
                scopes if scopes is not None else (current or device)["scopes"]
            )
            if not scopes_allow(role, wanted, normalize_scopes(access_scopes(device))):
                return "scope-outside-approved-baseline"
            if caller_scopes is not None and missing_scope(role, wanted, caller_scopes):
                return "caller-missing-scope"
            fresh = self._token(role, wanted, current, now_ms)
            fresh["rotatedAtMs"] = now_ms
            self.store.put_token(device["deviceId"], fresh)
            return fresh

    def revoke(
        self, device_id: str, role: str, caller_scopes: list[str] | None, now_ms: int
    ) -> Record | str:
        with self.store.transaction():
            device, tokens = self.paired(device_id.strip())
            role = role.strip()
            current = tokens.get(role)
            if device is None or current is None or role not in approved_roles(device):
                return "unknown-device-or-role"
            target = normalize_scopes(current.get("scopes", device.get("scopes")))
            if caller_scopes is not None and missing_scope(role, target, caller_scopes):
                return "caller-missing-scope"
            current["revokedAtMs"] = now_ms
            self.store.put_token(device["deviceId"], current)
            return current
