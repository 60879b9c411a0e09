"""The device stage of admission: proof, device-token auth, pairing, token issuance.

`make_stage(...)` returns the callable admission.py runs for a connect that carries a `device`
(protocol.md §4). Order, as the official connect-auth.ts / connect-device-pairing.ts run it:
1. the signed proof (devices.verify_proof) against *this socket's* challenge nonce; a nonce
   already spent in this process fails as a nonce mismatch;
2. when the shared secret did not pass, a device token (`auth.deviceToken`, else `auth.token`);
3. only then pairing: a device paired with the same key, an active token for the role and
   the requested scopes inside the approved ones passes; anything else files a pending request,
   approved silently for local peers (§4.5) and otherwise refused NOT_PAIRED;
4. the device token for (device, role) that hello-ok returns.
Steps 2-4 are one `Book.connect`: they decide on the device's records in memory and the book
commits what changed once (nothing for a repeat connect of a paired device seen within the
last minute); the pairing events go out after that commit. A refused connect writes nothing,
except the pending request a pairing refusal files for the operator.
No trio: time, the nonce and the event sink come in from handshake.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openclaw_gateway.protocol.handshake import Refusal
from openclaw_gateway.security import devices
from openclaw_gateway.security.pairing_rules import (
    access_scopes,
    effective_roles,
    scopes_allow,
    unique,
)
from openclaw_gateway.server.admission import (
    CONTROL_UI_CLIENTS,
    DeviceCheck,
    DeviceOutcome,
    DeviceStage,
    is_local_backend,
)
from openclaw_gateway.state.device_records import DeviceRecords
from openclaw_gateway.state.pairing import Book
from openclaw_gateway.state.store import Record

Emit = Callable[[str, Any], object]

_REQUIREMENT = {
    "not-paired": "device is not approved yet",
    "role-upgrade": "device is asking for a higher role than currently approved",
    "scope-upgrade": "device is asking for more scopes than currently approved",
}
_HINT = {
    "not-paired": "Approve this device from the pending pairing requests.",
    "role-upgrade": "Review the requested role upgrade, then approve the pending request.",
    "scope-upgrade": "Review the requested scopes, then approve the pending upgrade.",
}


def silent_allowed(check: DeviceCheck, method: str, locality: str, reason: str) -> bool:
    """Official shouldAllowSilentLocalPairing (autoApproveLocal left at its default, true)."""
    client = check.request.params.client
    if locality == "remote":
        return False
    is_ui = client.id in CONTROL_UI_CLIENTS
    if check.peer.has_origin and not is_ui and client.mode != "webchat":
        return False
    if reason == "scope-upgrade":
        return method in ("none", "token", "password")
    return True


def public_request(record: Record) -> Record:
    return {k: v for k, v in record.items() if k != "refreshedAtMs"}


def make_stage(
    book: Book,
    nonce: str,
    now_ms: int,
    ledger: devices.NonceLedger,
    emit: Emit,
) -> DeviceStage:
    def stage(check: DeviceCheck) -> DeviceOutcome | Refusal:
        params = check.request.params
        device = params.device
        assert device is not None
        failure = devices.verify_proof(params, nonce, now_ms)
        if failure is None and not ledger.spend(device.nonce.strip()):
            failure = devices.NONCE_MISMATCH  # a replay: this nonce already admitted a socket
        if failure is not None:
            return Refusal.with_error(
                check.request.frame.id,
                "INVALID_REQUEST",
                failure.message,
                details=failure.details(),
            )
        key = devices.normalize_public_key(device.public_key)
        assert key is not None
        # One trip through the book: decide on the device's records, commit once (or not).
        outcome, events = book.connect(
            device.id, now_ms, lambda records: _decide(check, key, now_ms, records)
        )
        for name, payload in events:  # only after the state they announce is committed
            emit(name, payload)
        return outcome

    return stage


def _decide(
    check: DeviceCheck, key: str, now_ms: int, records: DeviceRecords
) -> tuple[DeviceOutcome | Refusal, list[tuple[str, Any]]]:
    """The device stage after the proof: device-token auth, pairing, token issuance, over one
    device's records in memory. Returns the verdict and the events to broadcast."""
    events: list[tuple[str, Any]] = []
    params = check.request.params
    rid = check.request.frame.id
    device = params.device
    assert device is not None
    role, scopes = params.role, list(params.scopes)

    ok, method, reason = check.shared.ok, check.method, check.shared.reason
    if not ok:
        explicit = (params.auth.device_token or "").strip()
        candidate = explicit or (params.auth.token or "").strip()
        if candidate:
            why = records.verify_token(role, candidate, scopes, now_ms)
            if why is None:
                ok, method = True, "device-token"
            elif why == "scope-mismatch":
                reason = "scope_mismatch"
            elif explicit:
                reason = "device_token_mismatch"
    if not ok:
        return DeviceOutcome(False, method, reason, check.locality), events
    # Loopback equivalence needs a shared secret; a device token is judged on the socket.
    locality = check.locality
    if method == "device-token" and locality != "direct_local":
        locality = "remote"

    client = params.client
    access: Record = {
        "displayName": client.display_name,
        "remoteIp": check.peer.remote_ip,
        "lastSeenAtMs": now_ms,
        "lastSeenReason": "connect",
    }

    def allowed(paired: Record | None, tokens: dict[str, Record]) -> bool:
        return (
            paired is not None
            and paired["publicKey"] == key
            and role in effective_roles(paired, tokens)
            and scopes_allow(role, scopes, access_scopes(paired))
        )

    def require(reason: str, existing: Record | None) -> Refusal | None:
        silent = not (existing and role != "operator") and silent_allowed(
            check, method, locality, reason
        )
        req = records.request(
            {
                "deviceId": device.id,
                "publicKey": key,
                "displayName": client.display_name,
                "platform": client.platform,
                "deviceFamily": client.device_family,
                "clientId": client.id,
                "clientMode": client.mode,
                "role": role,
                "scopes": scopes,
                "remoteIp": check.peer.remote_ip,
                "silent": silent,
            },
            now_ms,
        )
        for old in req.superseded:
            events.append(
                (
                    "device.pair.resolved",
                    {"requestId": old, "deviceId": device.id, "decision": "rejected", "ts": now_ms},
                )
            )
        request_id = req.request["requestId"]
        if req.request.get("silent"):
            callers = unique(scopes, access_scopes(existing))
            approved = records.approve(request_id, callers, now_ms, "silent", access)
            if isinstance(approved, dict):
                events.append(
                    (
                        "device.pair.resolved",
                        {
                            "requestId": request_id,
                            "deviceId": device.id,
                            "decision": "approved",
                            "ts": now_ms,
                        },
                    )
                )
        elif req.created:
            events.append(("device.pair.requested", public_request(req.request)))
        if allowed(records.paired, records.tokens):
            return None
        live = records.live_pending(request_id)
        if req.request.get("silent") and live is not None:
            events.append(("device.pair.requested", public_request(live)))
        details: dict[str, Any] = {"code": "PAIRING_REQUIRED", "reason": reason}
        if live is not None:
            details["requestId"] = request_id
        details.update(remediationHint=_HINT[reason], deviceId=device.id, requestedRole=role)
        if scopes:
            details["requestedScopes"] = scopes
        if existing is not None and existing["publicKey"] == key:
            details["approvedRoles"] = unique(existing.get("roles"), [existing["role"]])
            if access_scopes(existing):
                details["approvedScopes"] = access_scopes(existing)
        message = f"pairing required: {_REQUIREMENT[reason]}"
        suffix = f" (requestId: {request_id})" if live is not None else ""
        return Refusal.with_error(
            rid, "NOT_PAIRED", message, details=details, close_reason=message + suffix
        )

    backend_self = is_local_backend(
        client, locality, check.peer.has_origin, method, check.shared_ok
    )
    ui_auth_none = client.id in CONTROL_UI_CLIENTS and role == "operator"
    ui_auth_none = ui_auth_none and check.auth_mode == "none"
    paired, tokens = records.paired, records.tokens
    is_paired = paired is not None and paired["publicKey"] == key
    baseline = False
    if backend_self or ui_auth_none:
        # Official exceptions: no pairing check for these; a token only if already paired.
        baseline = is_paired or ui_auth_none or method != "device-token"
    elif not is_paired:
        refused = require("not-paired", paired)
        if refused is not None:
            return refused, events
        baseline = True
    else:
        assert paired is not None
        baseline = True
        if role not in effective_roles(paired, tokens):
            refused = require("role-upgrade", paired)
            if refused is not None:
                return refused, events
        if scopes and not (
            access_scopes(paired) and scopes_allow(role, scopes, access_scopes(paired))
        ):
            refused = require("scope-upgrade", paired)
            if refused is not None:
                return refused, events
    if is_paired:
        records.touch(access)
    issued = records.ensure_token(role, scopes, now_ms) if baseline else None
    outcome = DeviceOutcome(
        True,
        method,
        None,
        locality,
        device_token=issued["token"] if issued else None,
        issued_at_ms=(issued.get("rotatedAtMs") or issued["createdAtMs"]) if issued else None,
    )
    return outcome, events
