"""`gateway probe` targets and what is made of their answers: the target list (explicit,
sshTunnel, configRemote, localLoopback; de-duplicated by URL), per-target budgets and
credentials, the config summary, self presence, the warnings and the primary target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from openclaw_gateway.cli.gateway_probe import ProbeResult
from openclaw_gateway.cli.ws_url import is_loopback_url
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core import secrets
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.tls import normalize_fingerprint
from openclaw_gateway.host import netbind

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


@attrs.define
class ProbeTarget:
    id: str
    kind: str
    url: str
    active: bool
    tunnel: dict[str, Any] | None = None
    # The certificate pin for a wss:// target (gateway.remote.tlsFingerprint for the
    # configured remote, the local certificate for the loopback target), canonical.
    tls_fingerprint: str | None = None
    tls_expires: str | None = None  # ISO date of the local certificate's expiry, when read


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


def tunnel_tls(gw: cfg.GatewayConfig, beacon: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """(scheme, pin) for the SSH tunnel's local URL. The tunnel forwards to the gateway's own
    port, so a TLS gateway needs wss:// through it too: one the auto-picked beacon says is TLS
    (gatewayTls=1), else a configured wss:// remote. The pin: gateway.remote.tlsFingerprint
    when set (a TXT hint never overrides a stored pin), else the beacon's gatewayTlsSha256,
    shown as `TLS pin: sha256 …` for pasting into the config. (The official always probes the
    tunnel as ws://, which cannot reach a TLS gateway.)"""
    stored = normalize_fingerprint(gw.remote.tls_fingerprint) or None
    if beacon is not None:
        if beacon.get("gatewayTls") is not True:
            return "ws", None
        hint = beacon.get("gatewayTlsFingerprintSha256")
        return "wss", stored or normalize_fingerprint(hint if isinstance(hint, str) else "") or None
    if (gw.remote.url or "").strip().lower().startswith("wss://"):
        return "wss", stored
    return "ws", None


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
        found = secrets.resolve_secret(value, key, env)
    except ConfigError as exc:
        diagnostics.append(str(exc))
        return None
    return trim_or_none(found)


def trim_or_none(value: Any) -> str | None:
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
        token or (trim_or_none(env.get("OPENCLAW_GATEWAY_TOKEN")) if allow_env else None),
        password or (trim_or_none(env.get("OPENCLAW_GATEWAY_PASSWORD")) if allow_env else None),
        tuple(diagnostics),
    )


def local_probe_auth(
    gw: cfg.GatewayConfig, env: Mapping[str, str], runtime_token: str | None
) -> ProbeAuth:
    """Local surface: gateway.auth.* then env; this build adds the runtime token file last."""
    diagnostics: list[str] = []
    mode = gw.auth.mode
    env_token = trim_or_none(env.get("OPENCLAW_GATEWAY_TOKEN"))
    env_password = trim_or_none(env.get("OPENCLAW_GATEWAY_PASSWORD"))
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
    tailnet = netbind.pick_tailnet_ipv4(netbind.interface_ipv4s())
    return {
        "localLoopbackUrl": f"{scheme}://127.0.0.1:{port}",
        "localTailnetUrl": f"{scheme}://{tailnet}:{port}" if tailnet else None,
        "tailnetIPv4": tailnet,
    }
