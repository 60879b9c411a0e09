"""Probing one gateway: a WS connect as `cli`/`probe` (protocol 3..4, scopes [operator.read]),
then `health`, `status`, `system-presence` and `config.get` in parallel within the target's
budget, classified into the official capability and error texts. Shared by `gateway probe`
and `gateway status`.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import trio

from openclaw_gateway.cli.rpc_cmds import (
    background_failure_text,
    upgrade_rejection_text,
)
from openclaw_gateway.cli.ws_url import allows_private_ws, is_secure_ws_url, url_host
from openclaw_gateway.client import (
    ClientIdentity,
    GatewayRequestError,
    GatewayTransportError,
    connect_params,
    open_session,
)

MIN_PROBE_MS = 250
READ_SCOPE = "operator.read"
PROBE_CLIENT_VERSION = "dev"
PROBE_MIN_PROTOCOL = 3
READ_METHODS: tuple[tuple[str, Any], ...] = (
    ("health", None),
    ("status", None),
    ("system-presence", None),
    ("config.get", {}),
)
CAPABILITY_ORDER = (
    "admin_capable",
    "write_capable",
    "read_only",
    "connected_no_operator_scope",
    "pairing_pending",
    "unknown",
)
CAPABILITY_LABELS = {
    "admin_capable": "admin-capable",
    "write_capable": "write-capable",
    "read_only": "read-only",
    "connected_no_operator_scope": "connect-only",
    "pairing_pending": "pairing pending",
}
PAIRING_TEXTS = (
    "device pairing required",
    "role upgrade pending approval",
    "scope upgrade pending approval",
    "device metadata change pending approval",
)
_MISSING_SCOPE = re.compile(r"\bmissing scope:\s*([a-z0-9._-]+)", re.IGNORECASE)
INVALID_PORT = "--port must be an integer between 1 and 65535."


def _empty_auth() -> dict[str, Any]:
    return {"role": None, "scopes": [], "capability": "unknown"}


def _empty_server() -> dict[str, Any]:
    return {"version": None, "connId": None}


@attrs.define
class ProbeResult:
    """What one WS probe found (the official `probeGateway` result)."""

    url: str
    ok: bool = False
    gateway_reached: bool = False
    latency_ms: int | None = None
    error: str | None = None
    close: dict[str, Any] | None = None
    auth: dict[str, Any] = attrs.field(factory=_empty_auth)
    server: dict[str, Any] = attrs.field(factory=_empty_server)
    health: Any = None
    status: Any = None
    presence: list[Any] | None = None
    config_snapshot: Any = None
    missing_scope: str | None = None
    connect_error_details: Any = None
    timed_out: bool = False

    @property
    def reachable(self) -> bool:
        return self.ok or self.gateway_reached

    @property
    def post_connect_failure(self) -> bool:
        return not self.ok and self.gateway_reached

    @property
    def scope_limited(self) -> bool:
        if self.ok or not self.gateway_reached:
            return False
        if self.missing_scope is not None:
            return self.missing_scope == READ_SCOPE
        return bool(_MISSING_SCOPE.search(self.error or ""))

    @property
    def capability(self) -> str:
        return str(self.auth.get("capability") or "unknown")


def is_pairing_failure(details: Any, *texts: str | None) -> bool:
    if isinstance(details, dict) and details.get("code") == "PAIRING_REQUIRED":
        return True
    text = "\n".join(t for t in texts if t).lower()
    return any(p in text for p in PAIRING_TEXTS)


def probe_capability(
    scopes: Sequence[str],
    *,
    auth_metadata: bool,
    latency_ms: int | None,
    verified_read: bool = False,
    pairing: bool = False,
) -> str:
    if pairing:
        return "pairing_pending"
    if "operator.admin" in scopes:
        return "admin_capable"
    if "operator.write" in scopes:
        return "write_capable"
    if READ_SCOPE in scopes or verified_read:
        return "read_only"
    if latency_ms is not None and auth_metadata:
        return "connected_no_operator_scope"
    return "unknown"


def summarize_capability(results: Sequence[ProbeResult]) -> str:
    found = {r.capability for r in results}
    for capability in CAPABILITY_ORDER:
        if capability in found:
            return capability
    return "unknown"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, port or (443 if parts.scheme == "wss" else 80)


def _root_cause(exc: BaseException) -> BaseException:
    """The OSError under a client transport error (the client re-raises with `from None`)."""
    seen: set[int] = set()
    current: BaseException | None = exc.__context__ or exc
    best: BaseException = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        best = current
        if isinstance(current, BaseExceptionGroup) and current.exceptions:
            current = current.exceptions[0]
            continue
        nxt = current.__cause__ or current.__context__
        if nxt is None:
            break
        current = nxt
    return best


def transport_error_text(exc: GatewayTransportError, url: str) -> tuple[str, bool]:
    """(Node-style error text, refused?) for a failed connect, e.g. `connect ECONNREFUSED …`."""
    host, port = _host_port(url)
    if exc.reason and exc.reason in errno.errorcode.values():
        return f"connect {exc.reason} {host}:{port}", exc.reason == "ECONNREFUSED"
    cause = _root_cause(exc)
    if isinstance(cause, OSError) and not isinstance(cause, GatewayTransportError):
        if isinstance(cause, socket.gaierror):
            return f"getaddrinfo ENOTFOUND {host}", False
        code = errno.errorcode.get(cause.errno or 0)
        if code:
            return f"connect {code} {host}:{port}", cause.errno == errno.ECONNREFUSED
    upgrade = upgrade_rejection_text(cause)
    if upgrade is not None:
        return upgrade, False
    return str(exc), exc.kind == "refused"


def plaintext_refusal(url: str, env: Mapping[str, str]) -> str | None:
    """The client-side refusal of plaintext ws:// to a host ws_url.is_secure_ws_url does not
    trust (official wording; the host as the URL parser shows it, an IPv6 one in brackets, or
    the whole URL when it does not parse)."""
    try:
        scheme: str | None = urlsplit(url).scheme
    except ValueError:
        scheme = None
    if scheme is not None and scheme != "ws":
        return None
    allow = allows_private_ws(env)
    if is_secure_ws_url(url, allow_private=allow):
        return None
    name = url_host(url)
    host = (f"[{name}]" if ":" in name else name) if name else url
    return (
        f'SECURITY ERROR: Cannot connect to "{host}" over plaintext ws://. Both credentials and '
        "chat data would be exposed to network interception. Use wss:// for remote URLs. Safe "
        "defaults: keep gateway.bind=loopback and connect via SSH tunnel (ssh -N -L "
        "18789:127.0.0.1:18789 user@gateway-host), or use Tailscale Serve/Funnel. "
        + (
            ""
            if allow
            else "Break-glass (trusted private networks only): set "
            "OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1. "
        )
        + "Run `openclaw doctor --fix` for guidance."
    )


def _missing_scope(exc: GatewayRequestError) -> str | None:
    details = exc.details
    if isinstance(details, dict) and details.get("code") == "MISSING_SCOPE":
        scope = details.get("missingScope")
        if isinstance(scope, str) and scope.strip():
            return scope.strip()
    if exc.code in ("FORBIDDEN", "INVALID_REQUEST"):
        match = _MISSING_SCOPE.search(exc.message)
        if match:
            return match.group(1)
    return None


async def probe_gateway(
    url: str,
    *,
    token: str | None,
    password: str | None,
    timeout_ms: int,
    include_details: bool = True,
    env: Mapping[str, str] | None = None,
    tls_fingerprint: str | None = None,
) -> ProbeResult:
    """Connect as cli/probe and (with details) run the four read RPCs; never raises.
    `tls_fingerprint` pins a wss:// gateway's certificate."""
    result = ProbeResult(url)
    budget = max(MIN_PROBE_MS, timeout_ms) / 1000
    refusal = plaintext_refusal(url, env or {})
    if refusal is not None:
        result.error = refusal
        return result
    identity = ClientIdentity(client_id="cli", mode="probe", version=PROBE_CLIENT_VERSION)
    params = connect_params(
        identity,
        role="operator",
        scopes=(READ_SCOPE,),
        token=token,
        password=password,
        min_protocol=PROBE_MIN_PROTOCOL,
    )
    started = trio.current_time()

    def elapsed_ms() -> int:
        return int((trio.current_time() - started) * 1000)

    try:
        async with trio.open_nursery() as nursery:
            try:
                await _probe_in(
                    nursery, result, params, budget, include_details, elapsed_ms, tls_fingerprint
                )
            finally:
                nursery.cancel_scope.cancel()
    except Exception as exc:
        # The websocket library's background reader can fail on its own too (a rejected
        # upgrade raises there as well as in the handshake): a probe reports, never raises.
        if result.error is None:
            result.error = background_failure_text(exc)
            result.close = result.close or {"code": 1006, "reason": ""}
    return result


async def _probe_in(
    nursery: trio.Nursery,
    result: ProbeResult,
    params: dict[str, Any],
    budget: float,
    include_details: bool,
    elapsed_ms: Callable[[], int],
    tls_fingerprint: str | None = None,
) -> None:
    try:
        with trio.fail_after(budget):
            session = await open_session(
                nursery, result.url, params, timeout=budget, tls_fingerprint=tls_fingerprint
            )
    except (GatewayTransportError, trio.TooSlowError) as exc:
        if isinstance(exc, trio.TooSlowError) or exc.kind == "timeout":
            result.error = "timeout"
            result.timed_out = True
        elif exc.close_code is not None:
            result.error = f"gateway closed ({exc.close_code}): {exc.reason or ''}"
            result.close = {"code": exc.close_code, "reason": exc.reason or ""}
        else:
            result.error, _ = transport_error_text(exc, result.url)
            result.close = {"code": 1006, "reason": ""}
        return
    except GatewayRequestError as exc:
        result.gateway_reached = True
        result.latency_ms = elapsed_ms()
        result.error = exc.message or "gateway request failed"
        result.connect_error_details = exc.details
        if exc.close_code is not None:
            result.close = {"code": exc.close_code, "reason": exc.close_reason or ""}
        pairing = is_pairing_failure(exc.details, result.error, exc.close_reason) or (
            exc.code == "NOT_PAIRED"
        )
        result.auth["capability"] = probe_capability(
            [], auth_metadata=False, latency_ms=result.latency_ms, pairing=pairing
        )
        return
    try:
        hello = session.hello if isinstance(session.hello, dict) else {}
        result.gateway_reached = True
        result.latency_ms = elapsed_ms()
        hello_auth = hello.get("auth")
        auth_metadata = isinstance(hello_auth, dict)
        server = hello.get("server") if isinstance(hello.get("server"), dict) else {}
        assert isinstance(server, dict)
        result.server = {"version": server.get("version") if _is_str(server, "version") else None}
        if _is_str(server, "buildId"):
            result.server["buildId"] = server["buildId"]
        result.server["connId"] = server.get("connId") if _is_str(server, "connId") else None
        role = hello_auth.get("role") if auth_metadata and isinstance(hello_auth, dict) else None
        raw_scopes = hello_auth.get("scopes") if isinstance(hello_auth, dict) else None
        scopes = (
            [s for s in raw_scopes if isinstance(s, str)] if isinstance(raw_scopes, list) else []
        )
        result.auth = {
            "role": role if isinstance(role, str) else None,
            "scopes": scopes,
            "capability": probe_capability(
                scopes, auth_metadata=auth_metadata, latency_ms=result.latency_ms
            ),
        }
        if not include_details:
            result.ok = True
            return
        await _read_probe(session, result, budget)
        result.auth["capability"] = probe_capability(
            scopes,
            auth_metadata=auth_metadata,
            latency_ms=result.latency_ms,
            verified_read=result.ok,
        )
    finally:
        await session.aclose()


def _is_str(mapping: Mapping[str, Any], key: str) -> bool:
    return isinstance(mapping.get(key), str)


async def _read_probe(session: Any, result: ProbeResult, budget: float) -> None:
    """The four read RPCs in parallel; the first failure (as Promise.all) ends the probe."""
    values: dict[str, Any] = {}
    failures: list[BaseException] = []

    with trio.move_on_after(budget) as scope:
        async with trio.open_nursery() as rpcs:

            async def one(method: str, params: Any) -> None:
                try:
                    values[method] = await session.call(method, params, timeout=budget + 1)
                except (GatewayRequestError, GatewayTransportError) as exc:
                    failures.append(exc)
                    rpcs.cancel_scope.cancel()

            for method, params in READ_METHODS:
                rpcs.start_soon(one, method, params)
    if failures:
        first = failures[0]
        if isinstance(first, GatewayRequestError):
            result.error = first.message
            result.missing_scope = _missing_scope(first)
        elif isinstance(first, GatewayTransportError) and first.close_code is not None:
            result.error = f"gateway closed ({first.close_code}): {first.reason or ''}"
        else:
            result.error = str(first)
        return
    if scope.cancelled_caught:
        result.error = "timeout"
        return
    result.ok = True
    result.error = None
    result.health = values.get("health")
    result.status = values.get("status")
    presence = values.get("system-presence")
    result.presence = presence if isinstance(presence, list) else None
    result.config_snapshot = values.get("config.get")
