"""Who may connect, and with what authority (protocol.md §2.4, §3, §4.4). Pure.

Order, as the official gateway runs it: protocol and role (protocol/handshake.py), the browser
Origin policy (origin.py), shared-secret evaluation behind the failed-auth limiter
(ratelimit.py), the missing-device policy, and finally the unauthorized check.
Scope ceilings: a device-less connection authenticated by a shared secret keeps its requested
scopes only on the local backend path (`gateway-client`/`backend`) and for the local CLI
(`cli`/`cli` with no Origin); everyone else gets [] and can call only `health`.

A connect that carries a `device` goes through `device_stage` (device_stage.py: proof,
device-token auth, pairing, token issuance) before the unauthorized check; without a stage a
device cannot be verified, so it is refused (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from openclaw_gateway.protocol.frames import ClientInfo
from openclaw_gateway.protocol.handshake import ConnectRequest, Refusal
from openclaw_gateway.security import auth, origin
from openclaw_gateway.security.ratelimit import AuthAttempt

CONTROL_UI_CLIENTS = frozenset({"openclaw-control-ui", "openclaw-browser-copilot", "openclaw-tui"})


@attrs.frozen
class Peer:
    """What the socket tells us about the other side."""

    remote_ip: str
    is_loopback: bool
    has_proxy_headers: bool = False
    origin: str | None = None
    host: str | None = None

    @property
    def direct_local(self) -> bool:
        return self.is_loopback and not self.has_proxy_headers

    @property
    def has_origin(self) -> bool:
        return bool(self.origin and self.origin.strip())


@attrs.frozen
class Admission:
    role: str
    scopes: tuple[str, ...]
    method: str  # hello-ok auth.method
    device_id: str | None = None
    locality: str = "remote"
    device_token: str | None = attrs.field(default=None, repr=False)
    issued_at_ms: int | None = None


@attrs.frozen
class DeviceCheck:
    """What the device stage sees: the connect and how the shared secret fared."""

    request: ConnectRequest
    peer: Peer
    shared: auth.AuthResult
    shared_ok: bool
    method: str
    locality: str
    auth_mode: str


@attrs.frozen
class DeviceOutcome:
    """The device stage's verdict when it did not refuse outright: `ok` False means
    unauthorized with `reason` (e.g. device_token_mismatch); True may upgrade `method` to
    device-token and carries the device token for hello-ok."""

    ok: bool
    method: str
    reason: str | None
    locality: str
    device_token: str | None = attrs.field(default=None, repr=False)
    issued_at_ms: int | None = None


DeviceStage = Callable[[DeviceCheck], DeviceOutcome | Refusal]


def _locality(request: ConnectRequest, peer: Peer, shared_ok: bool, method: str) -> str:
    client = request.params.client
    if peer.direct_local:
        return "direct_local"
    loopback_equivalent = (
        shared_ok
        and method in ("token", "password")
        and not peer.has_proxy_headers
        and not peer.has_origin
        and peer.is_loopback
    )
    if loopback_equivalent:
        cli = client.id == "cli" and client.mode == "cli"
        return "cli_container_local" if cli else "shared_secret_loopback_local"
    return "remote"


def is_local_backend(
    client: ClientInfo, locality: str, has_origin: bool, method: str, shared_ok: bool
) -> bool:
    """The gateway's own backend on this host (official shouldSkipLocalBackendSelfPairing):
    `gateway-client`/`backend`, direct-local or loopback by a shared secret, no browser Origin,
    authenticated by none/device-token or by a shared secret that passed. Without a device it
    keeps its requested scopes; with one it skips the pairing check."""
    return (
        client.id == "gateway-client"
        and client.mode == "backend"
        and locality in ("direct_local", "shared_secret_loopback_local")
        and not has_origin
        and (method in ("none", "device-token") or (shared_ok and method in ("token", "password")))
    )


def origin_refusal(
    request: ConnectRequest, peer: Peer, policy: origin.OriginPolicy
) -> Refusal | None:
    """Step 5 of the admission order (protocol.md §9.3): before any auth or pairing work, so a
    rejected page learns nothing and changes nothing."""
    client = request.params.client
    checked = origin.evaluate(
        client.id, client.mode, peer.origin, peer.host, policy, is_local_client=peer.direct_local
    )
    if checked.ok:
        return None
    return Refusal.with_error(
        request.frame.id,
        "INVALID_REQUEST",
        origin.REJECTION_MESSAGE,
        details={"code": origin.DETAIL_CODE, "reason": checked.reason},
    )


def _shared_secret(
    policy: auth.AuthPolicy, token: str | None, password: str | None, attempt: AuthAttempt | None
) -> tuple[auth.AuthResult, int | None]:
    """Shared-secret check behind the failed-auth limiter (official authorizeGatewayConnect):
    a locked-out client is refused before its secret is even compared. Returns the result and
    the lockout's retryAfterMs. The limiter only sees connects that sent a secret."""
    sent = bool((token or "").strip() or (password or "").strip())
    if attempt is not None and sent and policy.mode in ("token", "password"):
        retry_after = attempt.blocked()
        if retry_after is not None:
            return auth.AuthResult(False, reason="rate_limited"), retry_after
    result = auth.authorize_shared_secret(policy, token, password)
    if attempt is not None and sent and result.ok and result.method in ("token", "password"):
        attempt.succeeded()
    return result, None


def admit(
    request: ConnectRequest,
    peer: Peer,
    policy: auth.AuthPolicy,
    device_stage: DeviceStage | None = None,
    *,
    origin_policy: origin.OriginPolicy | None = None,
    attempt: AuthAttempt | None = None,
) -> Admission | Refusal:
    """Decide one connect. `attempt` (the failed-auth limiter) records a wrong secret when the
    connect is finally refused, so a bogus deviceToken next to it cannot dodge the count; the
    caller sleeps `attempt.delay_ms` before answering."""
    outcome = _admit(request, peer, policy, device_stage, origin_policy, attempt)
    if attempt is not None and attempt.mismatched and isinstance(outcome, Refusal):
        attempt.failed()
    return outcome


def _admit(
    request: ConnectRequest,
    peer: Peer,
    policy: auth.AuthPolicy,
    device_stage: DeviceStage | None,
    origin_policy: origin.OriginPolicy | None,
    attempt: AuthAttempt | None,
) -> Admission | Refusal:
    params = request.params
    rid = request.frame.id
    client = params.client
    role = params.role
    scopes = params.scopes
    device = params.device
    device_token: str | None = None
    issued_at_ms: int | None = None

    refused = origin_refusal(request, peer, origin_policy or origin.OriginPolicy())
    if refused is not None:
        return refused
    result, retry_after_ms = _shared_secret(
        policy, params.auth.token, params.auth.password, attempt
    )
    if attempt is not None and result.reason in ("token_mismatch", "password_mismatch"):
        attempt.mismatched = True
    has_shared = bool(params.auth.token or params.auth.password)
    shared_ok = has_shared and result.ok and result.method in ("token", "password")
    method = result.method or ("password" if policy.mode == "password" else "token")
    locality = _locality(request, peer, shared_ok, method)
    is_ui = client.id in CONTROL_UI_CLIENTS

    def unauthorized() -> Refusal:
        provided = auth.provided_kind(
            params.auth.token,
            params.auth.password,
            params.auth.device_token,
            params.auth.bootstrap_token,
        )
        kind = auth.ClientKind(
            is_cli=client.mode == "cli",
            is_ui=is_ui or client.id == "webchat-ui" or client.mode == "webchat",
        )
        message = auth.failure_message(
            policy.mode, result.reason, provided, kind, peer.direct_local
        )
        can_retry = (
            result.reason == "token_mismatch"
            and device is not None
            and provided == "token"
            and not params.auth.device_token
        )
        details = {
            "code": auth.detail_code(result.reason),
            "authReason": result.reason,
            "canRetryWithDeviceToken": can_retry,
            "recommendedNextStep": "retry_with_device_token"
            if can_retry
            else auth.next_step(result.reason),
        }
        if retry_after_ms is not None:
            return Refusal.with_error(
                rid,
                "INVALID_REQUEST",
                message,
                details=details,
                retryable=True,
                retry_after_ms=retry_after_ms,
            )
        return Refusal.with_error(rid, "INVALID_REQUEST", message, details=details)

    local_backend = is_local_backend(client, locality, peer.has_origin, method, shared_ok)
    local_cli = (
        client.id == "cli"
        and client.mode == "cli"
        and locality in ("direct_local", "cli_container_local")
        and not peer.has_origin
        and shared_ok
    )

    if device is None:
        if local_backend and role == "operator":
            decision = "allow"
        elif is_ui:
            decision = "reject-control-ui"
        elif role == "operator" and shared_ok:
            decision = "allow"
        elif not result.ok and has_shared:
            decision = "reject-unauthorized"
        else:
            decision = "reject-device-required"
        if (
            not local_backend
            and not local_cli
            and (decision != "allow" or method in ("token", "password", "trusted-proxy"))
        ):
            scopes = ()
        if decision == "reject-control-ui":
            message = "control ui requires device identity (use HTTPS or localhost secure context)"
            return Refusal.with_error(
                rid,
                "INVALID_REQUEST",
                message,
                details={"code": "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"},
            )
        if decision == "reject-unauthorized":
            return unauthorized()
        if decision == "reject-device-required":
            return Refusal.with_error(
                rid,
                "NOT_PAIRED",
                "device identity required",
                details={"code": "DEVICE_IDENTITY_REQUIRED"},
            )
    else:
        if device_stage is None:
            # No pairing stage wired: the proof cannot be checked, so never trust the device.
            return Refusal.with_error(
                rid,
                "NOT_PAIRED",
                "pairing required: device is not approved yet",
                details={"code": "PAIRING_REQUIRED", "reason": "not-paired"},
            )
        checked = device_stage(
            DeviceCheck(request, peer, result, shared_ok, method, locality, policy.mode)
        )
        if isinstance(checked, Refusal):
            return checked
        if not checked.ok:
            result = auth.AuthResult(False, reason=checked.reason)
            return unauthorized()
        # Passed, possibly by device token after a failed shared secret (method device-token).
        result = auth.AuthResult(True, checked.method)
        method, locality = checked.method, checked.locality
        device_token, issued_at_ms = checked.device_token, checked.issued_at_ms

    if not result.ok:
        return unauthorized()
    if role == "node":
        # Nodes carry no operator scopes.
        scopes = tuple(s for s in scopes if not s.startswith("operator."))
    return Admission(
        role=role,
        scopes=tuple(dict.fromkeys(scopes)),
        method=method,
        device_id=device.id if device else None,
        locality=locality,
        device_token=device_token,
        issued_at_ms=issued_at_ms,
    )
