"""Who may connect, and with what authority (protocol.md §2.4, §3, §4.4). Pure.

Order, as the official gateway runs it: protocol and role (protocol/handshake.py), then
shared-secret evaluation, the missing-device policy, and finally the unauthorized check.
Scope ceilings: a device-less connection authenticated by a shared secret keeps its requested
scopes only on the local backend path (`gateway-client`/`backend`) and for the local CLI
(`cli`/`cli` with no Origin); everyone else gets [] and can call only `health`.

Device identity and pairing (protocol.md §4) are a later stage: `device_stage` is the seam
where they slot in. Until then a signed device is accepted only on a direct-local connection
that also passed shared-secret auth.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from openclaw_gateway import auth
from openclaw_gateway.protocol.handshake import ConnectRequest, Refusal

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


# A later stage may verify a device proof; it returns a Refusal or None.
DeviceStage = Callable[[ConnectRequest, Peer, str], Refusal | None]


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


def admit(
    request: ConnectRequest,
    peer: Peer,
    policy: auth.AuthPolicy,
    device_stage: DeviceStage | None = None,
) -> Admission | Refusal:
    params = request.params
    rid = request.frame.id
    client = params.client
    role = params.role
    scopes = params.scopes
    device = params.device

    result = auth.authorize_shared_secret(policy, params.auth.token, params.auth.password)
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
        return Refusal.with_error(rid, "INVALID_REQUEST", message, details=details)

    local_backend = (
        client.id == "gateway-client"
        and client.mode == "backend"
        and locality in ("direct_local", "shared_secret_loopback_local")
        and not peer.has_origin
        and (method in ("none", "device-token") or (shared_ok and method in ("token", "password")))
    )
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
            # Without the pairing stage, a device is only trusted where the official
            # gateway would pair it silently: a direct-local peer with a good shared secret.
            if result.ok and not (peer.direct_local and (shared_ok or method == "none")):
                return Refusal.with_error(
                    rid,
                    "NOT_PAIRED",
                    "pairing required: device is not approved yet",
                    details={
                        "code": "PAIRING_REQUIRED",
                        "reason": "not-paired",
                        "deviceId": device.id,
                        "requestedRole": role,
                        "requestedScopes": list(scopes),
                    },
                )
        else:
            refusal = device_stage(request, peer, locality)
            if refusal is not None:
                return refusal

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
    )
