"""`gateway status`'s RPC probe (cli.md §1.5): the `rpc` block of `gateway status --json`.

- default: the connectivity probe's result (gateway_probe.probe_gateway) in the official
  `rpc` shape, with the `classifyGatewayConnectFailure` kind when it failed;
- `--require-rpc`: the read probe, a connect as `gateway-client`/`backend` (displayName
  `gateway:status`) and a `status` call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from openclaw_gateway import __version__
from openclaw_gateway.cli.gateway_probe import (
    ProbeResult,
    is_pairing_failure,
    probe_capability,
    transport_error_text,
)
from openclaw_gateway.cli.rpc_cmds import background_failure_text
from openclaw_gateway.client import (
    ClientIdentity,
    GatewayRequestError,
    GatewayTransportError,
    connect_params,
    open_session,
)

KNOWN_DETAIL_CODES = frozenset(
    (
        "AUTH_REQUIRED",
        "AUTH_UNAUTHORIZED",
        "AUTH_TOKEN_MISSING",
        "AUTH_TOKEN_MISMATCH",
        "AUTH_TOKEN_NOT_CONFIGURED",
        "AUTH_PASSWORD_MISSING",
        "AUTH_PASSWORD_MISMATCH",
        "AUTH_PASSWORD_NOT_CONFIGURED",
        "AUTH_BOOTSTRAP_TOKEN_INVALID",
        "AUTH_DEVICE_TOKEN_MISMATCH",
        "AUTH_SCOPE_MISMATCH",
        "AUTH_RATE_LIMITED",
        "AUTH_TAILSCALE_IDENTITY_MISSING",
        "AUTH_TAILSCALE_PROXY_MISSING",
        "AUTH_TAILSCALE_WHOIS_FAILED",
        "AUTH_TAILSCALE_IDENTITY_MISMATCH",
        "AUTH_IDENTITY_HEADER_REQUIRED",
        "AUTH_VERIFIED_USER_REQUIRED",
        "AUTHENTICATED_PROFILE_UNAVAILABLE",
        "CONTROL_UI_BUILD_MISMATCH",
        "CONTROL_UI_ORIGIN_NOT_ALLOWED",
        "PROTOCOL_MISMATCH",
        "CONTROL_UI_DEVICE_IDENTITY_REQUIRED",
        "DEVICE_IDENTITY_REQUIRED",
        "DEVICE_AUTH_INVALID",
        "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        "DEVICE_AUTH_SIGNATURE_EXPIRED",
        "DEVICE_AUTH_NONCE_REQUIRED",
        "DEVICE_AUTH_NONCE_MISMATCH",
        "DEVICE_AUTH_SIGNATURE_INVALID",
        "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        "PAIRING_REQUIRED",
        "CLIENT_VERSION_MISMATCH",
    )
)


def connect_failure_kind(details: Any, message: str | None, reason: str | None) -> dict[str, Any]:
    """The official `classifyGatewayConnectFailure` kind (+ detailCode when it is a known one)."""
    code = details.get("code") if isinstance(details, dict) else None
    code = code if isinstance(code, str) else None
    text = "\n".join(t for t in (message, reason) if t).lower()
    if code == "PAIRING_REQUIRED" or is_pairing_failure(None, text):
        kind = "pairing-required"
    elif code in ("DEVICE_IDENTITY_REQUIRED", "CONTROL_UI_DEVICE_IDENTITY_REQUIRED") or (
        "device identity required" in text
    ):
        kind = "device-identity-required"
    elif code == "AUTH_SCOPE_MISMATCH" or "scope mismatch" in text:
        kind = "scope-mismatch"
    elif code == "AUTH_RATE_LIMITED" or (
        not code and "too many failed authentication attempts" in text
    ):
        kind = "rate-limited"
    elif (
        code in ("AUTH_DEVICE_TOKEN_MISMATCH", "AUTH_TOKEN_MISMATCH")
        or "device token mismatch" in text
        or "gateway token mismatch" in text
        or (code or "").startswith(("AUTH_", "DEVICE_AUTH_"))
    ):
        kind = "auth-rejected"
    elif code or _GATEWAY_CLOSED.search(text):
        kind = "gateway-rejected"
    else:
        kind = "unreachable"
    out: dict[str, Any] = {"kind": kind}
    if code in KNOWN_DETAIL_CODES:
        out["detailCode"] = code
    return out


_GATEWAY_CLOSED = re.compile(r"\bgateway closed \(\d+\):", re.I)


def _failure_message(probe: ProbeResult) -> str:
    close = probe.close
    hint = f"gateway closed ({close['code']}): {close['reason']}" if close else None
    if hint and (not probe.error or probe.error == "timeout"):
        return hint
    return probe.error or hint or "gateway probe failed"


def connect_rpc(probe: ProbeResult) -> dict[str, Any]:
    """`rpc` for the default connectivity probe."""
    version = probe.server.get("version")
    if probe.ok:
        rpc: dict[str, Any] = {
            "ok": True,
            "kind": "connect",
            "capability": probe.capability,
            "auth": probe.auth,
            "server": probe.server,
        }
        if version is not None:
            rpc["version"] = version
        return rpc
    error = _failure_message(probe)
    rpc = {"ok": False, "kind": "connect"}
    if probe.gateway_reached:
        rpc["gatewayReached"] = True
    if probe.error == "timeout" and not probe.close:
        rpc["timedOut"] = True
    rpc.update({"capability": probe.capability, "auth": probe.auth, "server": probe.server})
    if version is not None:
        rpc["version"] = version
    rpc["connectFailure"] = connect_failure_kind(
        probe.connect_error_details, error, (probe.close or {}).get("reason")
    )
    rpc["error"] = error
    return rpc


@attrs.frozen
class ReadTarget:
    url: str
    url_source: str
    config_path: Path
    bind_detail: str | None
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    tls_fingerprint: str | None = None  # the local certificate's pin for a wss:// probe


def _target_block(target: ReadTarget) -> list[str]:
    lines = [f"Gateway target: {target.url}", f"Source: {target.url_source}"]
    lines.append(f"Config: {target.config_path}")
    if target.bind_detail:
        lines.append(target.bind_detail)
    return lines


async def read_rpc(target: ReadTarget, timeout_ms: int) -> dict[str, Any]:
    """`rpc` for `--require-rpc`: connect as gateway-client/backend and call `status`."""
    identity = ClientIdentity(
        client_id="gateway-client",
        mode="backend",
        version=__version__,
        display_name="gateway:status",
    )
    params = connect_params(
        identity,
        role="operator",
        scopes=("operator.read",),
        token=target.token,
        password=target.password,
    )
    timeout = timeout_ms / 1000
    hello: dict[str, Any] | None = None
    failure: GatewayTransportError | GatewayRequestError | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(timeout):
                    session = await open_session(
                        nursery,
                        target.url,
                        params,
                        timeout=timeout,
                        tls_fingerprint=target.tls_fingerprint,
                    )
                    hello = session.hello if isinstance(session.hello, dict) else {}
                    try:
                        await session.call("status", None, timeout=timeout)
                    finally:
                        await session.aclose()
            except trio.TooSlowError:
                failure = GatewayTransportError("timeout", f"gateway timeout after {timeout_ms}ms")
            except (GatewayTransportError, GatewayRequestError) as exc:
                # Kept outside the nursery so it is reported, not wrapped in an exception group.
                failure = exc
            finally:
                nursery.cancel_scope.cancel()
    except Exception as exc:  # the websocket library's background reader failed as well
        if failure is None:
            failure = GatewayTransportError("closed", background_failure_text(exc))
    if failure is not None:
        return _read_failure(failure, target, timeout_ms, hello)
    auth = _hello_auth(hello or {})
    capability = auth["capability"] if auth["capability"] != "unknown" else "read_only"
    server = (hello or {}).get("server")
    rpc: dict[str, Any] = {"ok": True, "kind": "read", "capability": capability, "auth": auth}
    if isinstance(server, dict):
        rpc["server"] = server
        if server.get("version") is not None:
            rpc["version"] = server["version"]
    return rpc


def _hello_auth(hello: Mapping[str, Any]) -> dict[str, Any]:
    auth = hello.get("auth") if isinstance(hello.get("auth"), dict) else {}
    assert isinstance(auth, dict)
    raw = auth.get("scopes")
    scopes = [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
    role = auth.get("role")
    return {
        "role": role if isinstance(role, str) else None,
        "scopes": scopes,
        "capability": probe_capability(scopes, auth_metadata=True, latency_ms=None),
    }


def _read_failure(
    exc: GatewayTransportError | GatewayRequestError,
    target: ReadTarget,
    timeout_ms: int,
    hello: dict[str, Any] | None,
) -> dict[str, Any]:
    rpc: dict[str, Any] = {"ok": False, "kind": "read"}
    details: Any = None
    if isinstance(exc, GatewayRequestError):
        rpc["gatewayReached"] = True
        error = exc.message
        details = exc.details
    elif exc.kind == "timeout":
        if hello is not None:
            rpc["gatewayReached"] = True
        rpc["timedOut"] = True
        error = "\n".join([f"gateway timeout after {timeout_ms}ms", *_target_block(target)])
    else:
        text, refused = transport_error_text(exc, target.url)
        if hello is not None:
            rpc["gatewayReached"] = True
        head = (
            [
                f"Gateway not reachable at {target.url} (ECONNREFUSED).",
                "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
            ]
            if refused
            else [f"Gateway closed the connection: {exc}" if exc.close_code else text]
        )
        error = "\n".join([*head, *_target_block(target)])
    if hello is not None:
        auth = _hello_auth(hello)
        rpc["auth"] = auth
        rpc["capability"] = auth["capability"]
        server = hello.get("server")
        if isinstance(server, dict):
            rpc["server"] = server
            if server.get("version") is not None:
                rpc["version"] = server["version"]
    rpc["connectFailure"] = connect_failure_kind(details, error.split("\n")[0], None)
    rpc["error"] = error
    return rpc
