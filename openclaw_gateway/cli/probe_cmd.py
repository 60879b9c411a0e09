"""`gateway probe`: probe every gateway this CLI could mean (cli.md §1.6, §9).

Targets, de-duplicated by URL, in this order: `explicit` (--url), `sshTunnel` (--ssh, or
gateway.remote.sshTarget, or `$USER@<host of gateway.remote.url>`), `configRemote`
(gateway.remote.url) and `localLoopback` (always). `--port` alone probes only local loopback.
Each target gets a WS connect as `cli`/`probe` (protocol 3..4, scopes [operator.read]) and then
`health`, `status`, `system-presence` and `config.get` in parallel, inside its own budget.

Discovery (mDNS in `local.` + the wide-area domain, discovery/browse.py) runs alongside, within
min(1200, overall) ms; `--ssh-auto` then tunnels to the first beacon with a resolved SRV host
and port (`$USER@host`, `:sshPort` when not 22) unless an SSH target was already given.

Exit 1 only when no target is reachable (130/143 when SIGINT/SIGTERM interrupts the run).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO
from urllib.parse import urlsplit

import attrs
import trio

from openclaw_gateway import config as cfg
from openclaw_gateway import netbind
from openclaw_gateway.cli.rpc_cmds import (
    background_failure_text,
    load_runtime_token,
    parse_timeout,
    upgrade_rejection_text,
)
from openclaw_gateway.cli.ssh_tunnel import (
    SshTunnel,
    SshTunnelError,
    open_ssh_tunnel,
    parse_ssh_target,
    resolve_ssh_config,
)
from openclaw_gateway.cli.target import CliFailure, is_loopback_url
from openclaw_gateway.client import (
    ClientIdentity,
    GatewayRequestError,
    GatewayTransportError,
    connect_params,
    open_session,
)
from openclaw_gateway.discovery import beacons
from openclaw_gateway.discovery.browse import discover_beacons
from openclaw_gateway.discovery.txt import wide_area_domain_setting
from openclaw_gateway.discovery.wide_area import resolve_domain
from openclaw_gateway.errors import ConfigError
from openclaw_gateway.paths import Paths, parse_port, resolve_paths, resolve_port

DEFAULT_TIMEOUT_MS = 3000
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
DISCOVERY_BUDGET_MS = 1200
DISCOVERY_TIP = (
    "Tip: if the gateway is remote, mDNS won’t cross networks; use Wide-Area Bonjour (split "
    "DNS) or SSH tunnels."
)
NO_GATEWAY_REACHABLE = (
    "No gateway answered any probe and Bonjour discovery returned no local gateways. Run "
    "`openclaw gateway status --deep --require-rpc` to inspect service state, config paths, "
    "listener owners, and logs; include `ss -ltnp` or `lsof -nP -iTCP:<port> -sTCP:LISTEN` "
    "for the configured port when filing a report."
)
SCOPE_LIMITED = (
    "Read-probe diagnostics are limited by gateway scopes (missing operator.read). Connection "
    "succeeded, but read-only status calls are incomplete. Hint: pair device identity or use "
    "credentials with operator.read."
)
MULTIPLE_GATEWAYS = (
    "Unconventional setup: multiple reachable gateway identities detected. Usually one gateway "
    "per network is recommended unless you intentionally run isolated profiles, like a rescue "
    "bot (see docs: /gateway#multiple-gateways-same-host)."
)
INVALID_PORT = "--port must be an integer between 1 and 65535."


# --------------------------------------------------------------------------------------------
# One probe


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


def _is_trusted_plaintext_host(host: str, allow_private: bool) -> bool:
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".local") or name.endswith(".ts.net"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return allow_private
    return ip.is_loopback or ip.is_private or ip in netbind.TAILNET


def plaintext_refusal(url: str, env: Mapping[str, str]) -> str | None:
    """The client-side refusal of plaintext ws:// to a public host (official wording)."""
    parts = urlsplit(url)
    if parts.scheme != "ws":
        return None
    host = parts.hostname or url
    allow = env.get("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS") == "1"
    if _is_trusted_plaintext_host(host, allow):
        return None
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
) -> ProbeResult:
    """Connect as cli/probe and (with details) run the four read RPCs; never raises."""
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
                await _probe_in(nursery, result, params, budget, include_details, elapsed_ms)
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
) -> None:
    try:
        with trio.fail_after(budget):
            session = await open_session(nursery, result.url, params, timeout=budget)
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


# --------------------------------------------------------------------------------------------
# Targets, auth, summaries


@attrs.define
class ProbeTarget:
    id: str
    kind: str
    url: str
    active: bool
    tunnel: dict[str, Any] | None = None


def dig(raw: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def normalize_ws_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or not (text.startswith("ws://") or text.startswith("wss://")):
        return None
    return text


def resolve_targets(
    raw: Mapping[str, Any], explicit_url: str | None, local_port: int, port_override: bool
) -> list[ProbeTarget]:
    targets: list[ProbeTarget] = []

    def add(target: ProbeTarget) -> None:
        if not any(t.url == target.url for t in targets):
            targets.append(target)

    explicit = normalize_ws_url(explicit_url)
    if explicit:
        add(ProbeTarget("explicit", "explicit", explicit, True))
    scheme = "wss" if dig(raw, "gateway", "tls", "enabled") is True else "ws"
    mode = dig(raw, "gateway", "mode")
    loopback = ProbeTarget(
        "localLoopback",
        "localLoopback",
        f"{scheme}://127.0.0.1:{local_port}",
        port_override or mode != "remote",
    )
    if port_override and not explicit:
        add(loopback)
        return targets
    remote_url = normalize_ws_url(dig(raw, "gateway", "remote", "url"))
    if remote_url:
        add(ProbeTarget("configRemote", "configRemote", remote_url, mode == "remote"))
    add(loopback)
    return targets


def probe_budget_ms(overall_ms: int, target: ProbeTarget) -> int:
    if target.kind == "sshTunnel":
        return min(2000, overall_ms)
    if target.active:
        return overall_ms
    if target.kind == "localLoopback":
        return min(800, overall_ms)
    if not is_loopback_url(target.url):
        return min(1500, overall_ms)
    return overall_ms


@attrs.frozen
class ProbeAuth:
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    diagnostics: tuple[str, ...] = ()


def _secret(value: Any, key: str, env: Mapping[str, str], diagnostics: list[str]) -> str | None:
    try:
        found = cfg.resolve_secret(value, key, env)
    except ConfigError as exc:
        diagnostics.append(str(exc))
        return None
    return found.strip() if isinstance(found, str) and found.strip() else None


def _trim(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def remote_probe_auth(gw: cfg.GatewayConfig, env: Mapping[str, str]) -> ProbeAuth:
    """Remote surface, probe rule: gateway.remote.* only, env only when none is configured."""
    diagnostics: list[str] = []
    token = _secret(gw.remote.token, "gateway.remote.token", env, diagnostics)
    password = (
        None if token else _secret(gw.remote.password, "gateway.remote.password", env, diagnostics)
    )
    allow_env = not (token or password) and not diagnostics
    return ProbeAuth(
        token or (_trim(env.get("OPENCLAW_GATEWAY_TOKEN")) if allow_env else None),
        password or (_trim(env.get("OPENCLAW_GATEWAY_PASSWORD")) if allow_env else None),
        tuple(diagnostics),
    )


def local_probe_auth(
    gw: cfg.GatewayConfig, env: Mapping[str, str], runtime_token: str | None
) -> ProbeAuth:
    """Local surface: gateway.auth.* then env; this build adds the runtime token file last."""
    diagnostics: list[str] = []
    mode = gw.auth.mode
    env_token = _trim(env.get("OPENCLAW_GATEWAY_TOKEN"))
    env_password = _trim(env.get("OPENCLAW_GATEWAY_PASSWORD"))
    if mode in ("none", "trusted-proxy"):
        return ProbeAuth()
    if mode == "token":
        token = _secret(gw.auth.token, "gateway.auth.token", env, diagnostics)
        if token:
            return ProbeAuth(token=token)
        if diagnostics:
            return ProbeAuth(diagnostics=tuple(diagnostics))
        return ProbeAuth(token=env_token or runtime_token)
    if mode == "password":
        password = _secret(gw.auth.password, "gateway.auth.password", env, diagnostics)
        if password or diagnostics:
            return ProbeAuth(password=password, diagnostics=tuple(diagnostics))
        return ProbeAuth(password=env_password)
    token = _secret(gw.auth.token, "gateway.auth.token", env, diagnostics)
    if token:
        return ProbeAuth(token=token, diagnostics=tuple(diagnostics))
    if diagnostics:
        return ProbeAuth(diagnostics=tuple(diagnostics))
    password = _secret(gw.auth.password, "gateway.auth.password", env, diagnostics)
    if password:
        return ProbeAuth(password=password, diagnostics=tuple(diagnostics))
    if env_token:
        return ProbeAuth(token=env_token)
    if env_password:
        return ProbeAuth(password=env_password, diagnostics=tuple(diagnostics))
    return ProbeAuth(token=runtime_token, diagnostics=tuple(diagnostics))


def _configured_secret(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, dict) and isinstance(value.get("source"), str)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    return None


def _issues(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    return [
        {"path": i["path"], "message": i["message"]}
        for i in raw
        if isinstance(i, dict)
        and isinstance(i.get("path"), str)
        and isinstance(i.get("message"), str)
    ]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def extract_config_summary(snapshot: Any) -> dict[str, Any]:
    """The official `extractConfigSummary` of a `config.get` payload."""
    snap = _obj(snapshot)
    config = _obj(snap.get("config"))
    gateway = _obj(config.get("gateway"))
    remote = _obj(gateway.get("remote"))
    auth = _obj(gateway.get("auth"))
    control = _obj(gateway.get("controlUi"))
    tailscale = _obj(gateway.get("tailscale"))
    domain = dig(config, "discovery", "wideArea", "domain")

    def text(mapping: Mapping[str, Any], key: str) -> str | None:
        value = mapping.get(key)
        return value if isinstance(value, str) else None

    return {
        "path": snap.get("path") if isinstance(snap.get("path"), str) else None,
        "exists": bool(snap.get("exists")),
        "valid": bool(snap.get("valid")),
        "issues": _issues(snap.get("issues")),
        "legacyIssues": _issues(snap.get("legacyIssues")),
        "gateway": {
            "mode": text(gateway, "mode"),
            "bind": text(gateway, "bind"),
            "port": _int_or_none(gateway.get("port")),
            "controlUiEnabled": control.get("enabled")
            if isinstance(control.get("enabled"), bool)
            else None,
            "controlUiBasePath": text(control, "basePath"),
            "authMode": text(auth, "mode"),
            "authTokenConfigured": _configured_secret(auth.get("token")),
            "authPasswordConfigured": _configured_secret(auth.get("password")),
            "remoteUrl": normalize_ws_url(remote.get("url")),
            "remoteTokenConfigured": _configured_secret(remote.get("token")),
            "remotePasswordConfigured": _configured_secret(remote.get("password")),
            "tailscaleMode": text(tailscale, "mode"),
        },
        "discovery": {"wideAreaEnabled": domain.strip() != "" if isinstance(domain, str) else None},
    }


def pick_self_presence(presence: Any) -> dict[str, Any] | None:
    if not isinstance(presence, list):
        return None
    entries = [e for e in presence if isinstance(e, dict)]
    chosen = next(
        (e for e in entries if e.get("mode") == "gateway" and e.get("reason") == "self"), None
    ) or next(
        (e for e in entries if isinstance(e.get("text"), str) and e["text"].startswith("Gateway:")),
        None,
    )
    if chosen is None:
        return None
    legacy: dict[str, str] = {}
    if isinstance(chosen.get("text"), str):
        match = re.match(r"^Gateway:\s*([^ (·]+)(?:\s*\(([^)]+)\))?", chosen["text"], re.I)
        if match:
            legacy = {"host": match.group(1), **({"ip": match.group(2)} if match.group(2) else {})}

    def text(key: str) -> str | None:
        value = chosen.get(key)
        return value if isinstance(value, str) else None

    found: dict[str, Any] = {
        "host": text("host") or legacy.get("host"),
        "ip": text("ip") or legacy.get("ip"),
        "version": text("version"),
        "platform": text("platform"),
    }
    if text("deviceId"):
        found["deviceId"] = text("deviceId")
    if text("instanceId"):
        found["instanceId"] = text("instanceId")
    return found


def _identity_key(self_row: dict[str, Any] | None) -> str | None:
    if not self_row:
        return None
    host = (self_row.get("host") or "").strip().lower()
    ip = (self_row.get("ip") or "").strip().lower()
    instance = (self_row.get("instanceId") or "").strip().lower()
    device = (self_row.get("deviceId") or "").strip().lower()
    discriminator = f"instance:{instance}" if instance else (f"device:{device}" if device else "")
    if (not host and not ip) or not discriminator:
        return None
    return f"{host}\0{ip}\0{discriminator}"


@attrs.define
class Probed:
    target: ProbeTarget
    probe: ProbeResult
    self_row: dict[str, Any] | None
    config_summary: dict[str, Any] | None
    auth_diagnostics: tuple[str, ...] = ()


def build_warnings(
    probed: Sequence[Probed],
    *,
    ssh_target: str | None,
    ssh_started: bool,
    ssh_error: str | None,
    discovery_count: int = 0,
) -> list[dict[str, Any]]:
    reachable = [p for p in probed if p.probe.reachable]
    warnings: list[dict[str, Any]] = []
    if ssh_target and not ssh_started:
        warnings.append(
            {
                "code": "ssh_tunnel_failed",
                "message": f"SSH tunnel failed: {ssh_error}"
                if ssh_error
                else "SSH tunnel failed to start; falling back to direct probes.",
            }
        )
    if not reachable and discovery_count == 0:
        warnings.append(
            {
                "code": "no_gateway_reachable",
                "message": NO_GATEWAY_REACHABLE,
                "targetIds": [p.target.id for p in probed],
            }
        )
    if len(reachable) > 1:
        keys = [_identity_key(p.self_row) for p in reachable]
        if any(k is None for k in keys) or len(set(keys)) > 1:
            warnings.append(
                {
                    "code": "multiple_gateways",
                    "message": MULTIPLE_GATEWAYS,
                    "targetIds": [p.target.id for p in reachable],
                }
            )
    for p in probed:
        if p.probe.reachable:
            continue
        for diagnostic in p.auth_diagnostics:
            warnings.append(
                {
                    "code": "auth_secretref_unresolved",
                    "message": diagnostic,
                    "targetIds": [p.target.id],
                }
            )
    for p in probed:
        if p.probe.scope_limited:
            warnings.append(
                {
                    "code": "probe_scope_limited",
                    "message": SCOPE_LIMITED,
                    "targetIds": [p.target.id],
                }
            )
    for p in probed:
        if p.probe.post_connect_failure and not p.probe.scope_limited:
            detail = f": {p.probe.error}" if p.probe.error else "."
            warnings.append(
                {
                    "code": "probe_detail_failed",
                    "message": "Gateway accepted the WebSocket connection, but follow-up read "
                    f"diagnostics failed{detail}",
                    "targetIds": [p.target.id],
                }
            )
    return warnings


def pick_primary(probed: Sequence[Probed]) -> Probed | None:
    reachable = [p for p in probed if p.probe.reachable]
    for kind in ("explicit", "sshTunnel", "configRemote", "localLoopback"):
        for p in reachable:
            if p.target.kind == kind:
                return p
    return None


def network_hints(raw: Mapping[str, Any], port: int) -> dict[str, Any]:
    scheme = "wss" if dig(raw, "gateway", "tls", "enabled") is True else "ws"
    tailnet = next(
        (ip for _, ip in netbind.interface_ipv4s() if ipaddress.ip_address(ip) in netbind.TAILNET),
        None,
    )
    return {
        "localLoopbackUrl": f"{scheme}://127.0.0.1:{port}",
        "localTailnetUrl": f"{scheme}://{tailnet}:{port}" if tailnet else None,
        "tailnetIPv4": tailnet,
    }


# --------------------------------------------------------------------------------------------
# The command


@attrs.define
class ProbeReport:
    started_ms: int
    timeout_ms: int
    network: dict[str, Any]
    probed: list[Probed]
    warnings: list[dict[str, Any]]
    aborted: int | None = None  # the signal number that interrupted the run
    discovery: list[dict[str, Any]] = attrs.field(factory=list)  # beacons, as found
    discovery_timeout_ms: int = DISCOVERY_BUDGET_MS
    wide_area_domain: str | None = None

    @property
    def reachable(self) -> list[Probed]:
        return [p for p in self.probed if p.probe.reachable]

    @property
    def exit_code(self) -> int:
        if self.aborted is not None:
            return 130 if self.aborted == signal.SIGINT else 143
        return 0 if self.reachable else 1


def _sanitize(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return re.sub(r"^ssh\s+", "", value.strip())


def _load_config(paths: Paths) -> cfg.LoadedConfig:
    try:
        return cfg.load(paths.config_path)
    except ConfigError:
        return cfg.LoadedConfig(paths.config_path, True, cfg.Config())


def pick_auto_ssh_target(found: Sequence[Mapping[str, Any]], user: str) -> str | None:
    """The first beacon whose resolved host/port makes a valid SSH target (TXT hints ignored)."""
    for beacon in found:
        target = beacons.ssh_target(beacon, user)
        if target and parse_ssh_target(target) is not None:
            return target
    return None


async def gather_probe(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    handle_signals: bool = False,
    nameservers: Sequence[tuple[str, int]] | None = None,
) -> ProbeReport:
    """Everything `gateway probe` does before printing. Raises CliFailure for usage errors."""
    started_ms = int(time.time() * 1000)
    url_flag = opts.get("url")
    token_flag = _trim(opts.get("token"))
    password_flag = _trim(opts.get("password"))
    if isinstance(url_flag, str) and url_flag.strip() and not (token_flag or password_flag):
        raise CliFailure(
            "gateway_credentials_required",
            "gateway url override requires explicit credentials\n"
            "Fix: pass --token or --password with --url.\n"
            "For the default local or SSH-tunneled Gateway, remove --url to use the configured "
            "target.",
        )
    paths = resolve_paths(env)
    loaded = _load_config(paths)
    gw = loaded.config.gateway
    raw = loaded.config.raw
    overall_ms = parse_timeout(
        None if opts.get("timeout") is None else str(opts.get("timeout")), DEFAULT_TIMEOUT_MS
    )
    port_override: int | None = None
    if opts.get("port") is not None:
        port_override = parse_port(opts.get("port"))
        if port_override is None:
            raise CliFailure("cli_error", INVALID_PORT)
    try:
        config_port = resolve_port(None, env, gw.port, paths.profile)
    except ConfigError as exc:
        raise CliFailure("cli_error", str(exc)) from None
    local_port = port_override or config_port
    has_url = isinstance(url_flag, str) and bool(url_flag.strip())
    base_targets = resolve_targets(
        raw, url_flag if has_url else None, local_port, port_override is not None
    )
    network = network_hints(raw, local_port)
    remote_port = local_port
    use_config_remote = port_override is None or has_url
    ssh_target = _sanitize(opts.get("ssh")) or (
        _sanitize(dig(raw, "gateway", "remote", "sshTarget")) if use_config_remote else None
    )
    ssh_identity = _sanitize(opts.get("ssh_identity")) or (
        _sanitize(dig(raw, "gateway", "remote", "sshIdentity")) if use_config_remote else None
    )
    if not ssh_target and use_config_remote and gw.remote.url:
        host = urlsplit(gw.remote.url.strip()).hostname
        if host:
            user = (env.get("USER") or "").strip()
            ssh_target = f"{user}@{host}" if user else host
    extra_ssh: Sequence[str] = tuple(opts.get("ssh_options") or ())
    if ssh_target:
        parsed = parse_ssh_target(ssh_target)
        if parsed is not None:
            resolved = await resolve_ssh_config(
                parsed,
                identity=ssh_identity,
                budget_s=min(800, overall_ms) / 1000,
                extra_args=extra_ssh,
            )
            if resolved is not None:
                ssh_target, found_identity = resolved
                ssh_identity = ssh_identity or found_identity
    runtime_token = load_runtime_token(paths)
    report = ProbeReport(started_ms, overall_ms, network, [], [])
    report.discovery_timeout_ms = min(DISCOVERY_BUDGET_MS, overall_ms)
    report.wide_area_domain = resolve_domain(wide_area_domain_setting(raw), env)

    async def body() -> None:
        nonlocal ssh_target
        ssh_error: str | None = None
        tunnel: SshTunnel | None = None
        discovered = trio.Event()

        async def discover() -> None:
            try:
                report.discovery = await discover_beacons(
                    report.discovery_timeout_ms,
                    report.wide_area_domain,
                    env,
                    nameservers=nameservers,
                )
            finally:
                discovered.set()

        # The discovery nursery encloses the tunnel's exit stack (proper nesting); discovery
        # and a configured tunnel start side by side, as the official does.
        async with trio.open_nursery() as discovery, contextlib.AsyncExitStack() as stack:
            discovery.start_soon(discover)

            async def start_tunnel(target: str) -> SshTunnel | None:
                nonlocal ssh_error
                try:
                    return await stack.enter_async_context(
                        open_ssh_tunnel(
                            target,
                            remote_port,
                            ssh_identity,
                            min(1500, overall_ms) / 1000,
                            extra_args=extra_ssh,
                        )
                    )
                except SshTunnelError as exc:
                    ssh_error = str(exc)
                    return None

            if ssh_target:
                tunnel = await start_tunnel(ssh_target)
            await discovered.wait()
            if not ssh_target and opts.get("ssh_auto"):
                ssh_target = pick_auto_ssh_target(report.discovery, env.get("USER") or "")
                if ssh_target:
                    tunnel = await start_tunnel(ssh_target)
            targets = list(base_targets)
            if tunnel is not None:
                tunnel_target = ProbeTarget(
                    "sshTunnel",
                    "sshTunnel",
                    f"ws://127.0.0.1:{tunnel.local_port}",
                    True,
                    {
                        "kind": "ssh",
                        "target": ssh_target or "",
                        "localPort": tunnel.local_port,
                        "remotePort": remote_port,
                        "pid": tunnel.pid,
                    },
                )
                targets = [tunnel_target, *[t for t in targets if t.url != tunnel_target.url]]
            report.probed = await _probe_all(
                targets, gw, env, token_flag, password_flag, runtime_token, overall_ms
            )
        report.warnings = build_warnings(
            report.probed,
            ssh_target=ssh_target,
            ssh_started=tunnel is not None,
            ssh_error=ssh_error,
            discovery_count=len(report.discovery),
        )

    if not handle_signals:
        await body()
        return report
    async with trio.open_nursery() as nursery:

        async def watch_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
                async for signum in received:
                    report.aborted = signum
                    nursery.cancel_scope.cancel()
                    return

        nursery.start_soon(watch_signals)
        await body()
        nursery.cancel_scope.cancel()
    return report


async def _probe_all(
    targets: Sequence[ProbeTarget],
    gw: cfg.GatewayConfig,
    env: Mapping[str, str],
    token_flag: str | None,
    password_flag: str | None,
    runtime_token: str | None,
    overall_ms: int,
) -> list[Probed]:
    results: list[Probed | None] = [None] * len(targets)

    async def one(index: int, target: ProbeTarget) -> None:
        if token_flag or password_flag:
            auth = ProbeAuth(token_flag, password_flag)
        elif target.kind in ("configRemote", "sshTunnel"):
            auth = remote_probe_auth(gw, env)
        else:
            auth = local_probe_auth(gw, env, runtime_token)
        probe = await probe_gateway(
            target.url,
            token=auth.token,
            password=auth.password,
            timeout_ms=probe_budget_ms(overall_ms, target),
            env=env,
        )
        results[index] = Probed(
            target,
            probe,
            pick_self_presence(probe.presence),
            extract_config_summary(probe.config_snapshot) if probe.config_snapshot else None,
            auth.diagnostics,
        )

    async with trio.open_nursery() as nursery:
        for index, target in enumerate(targets):
            nursery.start_soon(one, index, target)
    return [r for r in results if r is not None]


# --------------------------------------------------------------------------------------------
# Output


def report_json(report: ProbeReport) -> dict[str, Any]:
    reachable = report.reachable
    primary = pick_primary(report.probed)
    now = int(time.time() * 1000)
    return {
        "ok": bool(reachable),
        "degraded": any(p.probe.post_connect_failure for p in report.probed),
        "capability": summarize_capability([p.probe for p in reachable]),
        "ts": now,
        "durationMs": max(0, now - report.started_ms),
        "timeoutMs": report.timeout_ms,
        "primaryTargetId": primary.target.id if primary else None,
        "warnings": report.warnings,
        "network": report.network,
        "discovery": {
            "timeoutMs": report.discovery_timeout_ms,
            "count": len(report.discovery),
            "beacons": [beacons.probe_view(b) for b in report.discovery],
        },
        "targets": [
            {
                "id": p.target.id,
                "kind": p.target.kind,
                "url": p.target.url,
                "active": p.target.active,
                "tunnel": p.target.tunnel,
                "connect": {
                    "ok": p.probe.reachable,
                    "rpcOk": p.probe.ok,
                    "scopeLimited": p.probe.scope_limited,
                    "latencyMs": p.probe.latency_ms,
                    "error": p.probe.error,
                    "close": p.probe.close,
                },
                "auth": p.probe.auth,
                "server": p.probe.server,
                "self": p.self_row,
                "config": p.config_summary,
                "health": p.probe.health,
                "summary": p.probe.status,
                "presence": p.probe.presence,
            }
            for p in report.probed
        ],
    }


def target_header(target: ProbeTarget) -> str:
    if target.kind == "localLoopback":
        label = "Local loopback"
    elif target.kind == "sshTunnel":
        label = "Remote over SSH"
    elif target.kind == "configRemote":
        label = "Remote (configured)" if target.active else "Remote (configured, inactive)"
    else:
        label = "URL (explicit)"
    return f"{label} {target.url}"


def capability_label(capability: str) -> str:
    return f"Capability: {CAPABILITY_LABELS.get(capability, 'unknown')}"


def probe_summary_line(probe: ProbeResult) -> str:
    capability = capability_label(probe.capability)
    if probe.ok:
        latency = f"{probe.latency_ms}ms" if probe.latency_ms is not None else "unknown"
        return f"Connect: ok ({latency}) · {capability} · Read probe: ok"
    detail = f" - {probe.error}" if probe.error else ""
    if probe.gateway_reached and probe.latency_ms is not None:
        read = "Read probe: limited" if probe.scope_limited else "Read probe: failed"
        return f"Connect: ok ({probe.latency_ms}ms) · {capability} · {read}{detail}"
    if probe.capability == "pairing_pending":
        return f"Connect: blocked{detail} · {capability}"
    return f"Connect: failed{detail} · {capability}"


def report_text(report: ProbeReport) -> str:
    reachable = report.reachable
    capability = summarize_capability([p.probe for p in reachable])
    lines = [
        "Gateway Status",
        f"Reachable: {'yes' if reachable else 'no'}",
        f"Capability: {capability.replace('_', '-')}",
        f"Probe budget: {report.timeout_ms}ms",
    ]
    if report.warnings:
        lines += ["", "Warning:"]
        lines += [f"- {w['message']}" for w in report.warnings]
    lines += ["", "Discovery (this machine)"]
    domains = "local." + (f" + {report.wide_area_domain}" if report.wide_area_domain else "")
    count = len(report.discovery)
    if count:
        lines.append(f"Found {count} gateway(s) via Bonjour ({domains})")
    else:
        lines += [f"Found 0 gateways via Bonjour ({domains})", DISCOVERY_TIP]
    lines += ["", "Targets"]
    for p in report.probed:
        lines.append(target_header(p.target))
        lines.append(f"  {probe_summary_line(p.probe)}")
        if p.target.tunnel and p.target.tunnel.get("kind") == "ssh":
            lines.append(f"  ssh: {p.target.tunnel.get('target')}")
        if p.probe.ok and p.self_row:
            row = p.self_row
            ip = f" ({row['ip']})" if row.get("ip") else ""
            platform = f" · {row['platform']}" if row.get("platform") else ""
            version = f" · app {row['version']}" if row.get("version") else ""
            lines.append(f"  Gateway: {row.get('host') or 'unknown'}{ip}{platform}{version}")
        if p.config_summary:
            enabled = p.config_summary["discovery"]["wideAreaEnabled"]
            state = "enabled" if enabled is True else "disabled" if enabled is False else "unknown"
            lines.append(f"  Wide-area discovery: {state}")
        lines.append("")
    return "\n".join(lines)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def emit_failure(failure: CliFailure, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    if as_json:
        body = {"ok": False, "error": {"type": failure.error_type, "message": failure.message}}
        print(_dump(body), file=out)
    else:
        print(failure.message, file=err)
    return failure.exit_code


async def probe_main(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    *,
    handle_signals: bool = False,
) -> int:
    as_json = bool(opts.get("json"))
    try:
        report = await gather_probe(opts, env, handle_signals=handle_signals)
    except CliFailure as failure:
        return emit_failure(failure, as_json=as_json, out=out, err=err)
    if report.aborted is not None:
        return report.exit_code
    if as_json:
        print(_dump(report_json(report)), file=out)
    else:
        print(report_text(report), file=out)
    return report.exit_code


def run_probe(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`openclaw gateway probe` (sync entry point; runs its own trio loop)."""
    main_thread = threading.current_thread() is threading.main_thread()
    try:
        return trio.run(
            lambda: probe_main(
                opts, env, out or sys.stdout, err or sys.stderr, handle_signals=main_thread
            )
        )
    except KeyboardInterrupt:
        return 130
