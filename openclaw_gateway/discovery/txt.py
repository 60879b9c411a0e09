"""What the gateway announces and whether it announces at all (cli.md §6, official
`advertiser-*.mjs`, `server-discovery-runtime-*.mjs`, `extensions/bonjour`). Pure.

Who announces (decided in `announce_gate`):
- The official LAN announcer is the bundled `bonjour` plugin, enabled by default only on
  darwin. We follow that: on Linux it is off until `plugins.entries.bonjour.enabled: true`
  (what `openclaw plugins enable bonjour` writes); `plugins.enabled: false`, a `plugins.deny`
  entry or `plugins.entries.bonjour.enabled: false` turn it off everywhere. A gateway moving
  from the official program to this one must not start broadcasting on the LAN by itself.
- `discovery.mdns.mode: "off"` or a truthy `OPENCLAW_DISABLE_BONJOUR` turn it off.
- In a container it is off unless `OPENCLAW_DISABLE_BONJOUR` is explicitly falsy (`0`,
  `false`, `no`, `off`), exactly as the official: on a bridge network (the usual case)
  multicast reaches only the bridge, so an announcement would mislead; with `--network host`
  the user opts in with `OPENCLAW_DISABLE_BONJOUR=0`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

SERVICE_TYPE = "_openclaw-gw._tcp.local."
SERVICE_LABEL = "_openclaw-gw._tcp"
MDNS_MODES = ("off", "minimal", "full")
DEFAULT_MDNS_MODE = "minimal"  # official: `discovery.mdns.mode ?? "minimal"`
DEFAULT_SSH_PORT = 22
MAX_DNS_LABEL_BYTES = 63
INSTANCE_SUFFIX = " (OpenClaw)"
_TRUTHY = ("true", "1", "yes", "on")
_FALSY = ("false", "0", "no", "off")
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_STRICT_INT = re.compile(r"^[+-]?\d+$")


def env_bool(raw: str | None) -> bool | None:
    """The official parseBooleanValue: true/1/yes/on, false/0/no/off, else None."""
    value = (raw or "").strip().lower()
    if value in _TRUTHY:
        return True
    if value in _FALSY:
        return False
    return None


def parse_tcp_port(raw: object) -> int | None:
    """The official parseTcpPort: a strict positive integer <= 65535, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _STRICT_INT.match(raw.strip()):
        value = int(raw.strip())
    else:
        return None
    return value if 0 < value <= 65535 else None


def _dig(raw: Mapping[str, Any], *keys: str) -> Any:
    node: Any = raw
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def mdns_mode(raw_config: Mapping[str, Any]) -> str:
    value = _dig(raw_config, "discovery", "mdns", "mode")
    return value if isinstance(value, str) and value in MDNS_MODES else DEFAULT_MDNS_MODE


def wide_area_domain_setting(raw_config: Mapping[str, Any]) -> str | None:
    value = _dig(raw_config, "discovery", "wideArea", "domain")
    return value if isinstance(value, str) and value.strip() else None


def bonjour_plugin_enabled(raw_config: Mapping[str, Any], platform: str) -> bool:
    """The bundled plugin's enablement: config first, then the darwin-only default."""
    plugins = _dig(raw_config, "plugins")
    if isinstance(plugins, Mapping):
        if plugins.get("enabled") is False:
            return False
        deny = plugins.get("deny")
        if isinstance(deny, list) and "bonjour" in deny:
            return False
        entry = _dig(plugins, "entries", "bonjour", "enabled")
        if isinstance(entry, bool):
            return entry
    return platform == "darwin"


@attrs.frozen
class Gate:
    announce: bool
    reason: str  # why not (for a debug line); "" when announcing


def announce_gate(
    raw_config: Mapping[str, Any], env: Mapping[str, str], *, platform: str, container: bool
) -> Gate:
    if not bonjour_plugin_enabled(raw_config, platform):
        return Gate(False, "bonjour plugin not enabled (plugins.entries.bonjour.enabled)")
    if mdns_mode(raw_config) == "off":
        return Gate(False, "discovery.mdns.mode is off")
    override = env_bool(env.get("OPENCLAW_DISABLE_BONJOUR"))
    if override is True:
        return Gate(False, "OPENCLAW_DISABLE_BONJOUR is set")
    if override is None and container:
        return Gate(False, "container detected (set OPENCLAW_DISABLE_BONJOUR=0 to announce)")
    return Gate(True, "")


def truncate_dns_label(name: str, fallback: str = "OpenClaw") -> str:
    """At most 63 UTF-8 bytes, cut on a character boundary, trailing '-' removed."""
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_DNS_LABEL_BYTES:
        return name
    cut = encoded[:MAX_DNS_LABEL_BYTES].decode("utf-8", errors="ignore")
    return cut.rstrip("-").strip() or fallback


def system_host_label(hostname: str) -> str | None:
    """The first label of the system hostname, when it is a valid DNS label."""
    trimmed = hostname.strip()
    if not trimmed:
        return None
    first = re.sub(r"\.local$", "", trimmed, flags=re.IGNORECASE).split(".")[0].strip()
    return first if _DNS_LABEL.match(first) else None


def mdns_host_label(env: Mapping[str, str], hostname: str) -> str:
    """OPENCLAW_MDNS_HOSTNAME, else the system label, else `openclaw`; one label, <= 63 bytes."""
    chosen = (env.get("OPENCLAW_MDNS_HOSTNAME") or "").strip() or system_host_label(hostname)
    without_local = re.sub(r"\.local$", "", chosen or "openclaw", flags=re.IGNORECASE)
    label = without_local.split(".")[0].strip()
    return truncate_dns_label(label or "openclaw", "openclaw")


def machine_display_name(hostname: str) -> str:
    """Linux: the hostname without `.local` (macOS would ask scutil first)."""
    return re.sub(r"\.local$", "", hostname.strip(), flags=re.IGNORECASE) or "openclaw"


def format_instance_name(display_name: str) -> str:
    trimmed = display_name.strip()
    if not trimmed:
        return "OpenClaw"
    if "openclaw" in trimmed.lower():
        return trimmed
    return f"{trimmed}{INSTANCE_SUFFIX}"


def safe_service_name(name: str) -> str:
    trimmed = name.strip()
    return truncate_dns_label(trimmed) if trimmed else "OpenClaw"


def prettify_instance_name(name: str) -> str:
    normalized = re.sub(r"\s+", " ", name.strip())
    return re.sub(r"\s+\(OpenClaw\)\s*$", "", normalized, flags=re.IGNORECASE).strip() or (
        normalized
    )


def resolve_cli_path(
    env: Mapping[str, str],
    *,
    executable: str,
    argv0: str | None,
    cwd: str,
    is_file: Callable[[str], bool] = os.path.isfile,
) -> str | None:
    """OPENCLAW_CLI_PATH, a sibling `openclaw` of the interpreter, argv[0], ./bin/openclaw."""
    explicit = (env.get("OPENCLAW_CLI_PATH") or "").strip()
    if explicit:
        return explicit
    sibling = str(Path(executable).parent / "openclaw")
    if is_file(sibling):
        return sibling
    if argv0 and is_file(argv0):
        return argv0
    bin_cli = str(Path(cwd) / "bin" / "openclaw")
    return bin_cli if is_file(bin_cli) else None


@attrs.frozen
class AdvertiseContext:
    """The official discovery context handed to the announcer and the zone writer."""

    port: int
    machine_display_name: str
    host_label: str
    minimal: bool
    direct_reachable: bool  # the bind host is not loopback
    tls_enabled: bool = False  # gateway.tls.enabled (the listener serves wss://)
    tls_fingerprint_sha256: str | None = None
    ssh_port: int | None = None  # OPENCLAW_SSH_PORT (full mode), else 22 in the TXT
    cli_path: str | None = None  # full mode only
    tailnet_dns: str | None = None


def instance_name(ctx: AdvertiseContext) -> str:
    return format_instance_name(ctx.machine_display_name)


def build_txt(ctx: AdvertiseContext) -> dict[str, str]:
    """The gateway TXT record, keys in the official order."""
    txt = {
        "role": "gateway",
        "gatewayPort": str(ctx.port),
        "lanHost": f"{ctx.host_label}.local",
        "displayName": prettify_instance_name(instance_name(ctx)),
    }
    if ctx.tls_enabled:
        txt["gatewayTls"] = "1"
        if ctx.tls_fingerprint_sha256:
            txt["gatewayTlsSha256"] = ctx.tls_fingerprint_sha256
    if ctx.direct_reachable:
        txt["gatewayDirectReachable"] = "1"
    if not ctx.minimal and ctx.tailnet_dns and ctx.tailnet_dns.strip():
        txt["tailnetDns"] = ctx.tailnet_dns.strip()
    if not ctx.minimal and ctx.cli_path and ctx.cli_path.strip():
        txt["cliPath"] = ctx.cli_path.strip()
    txt["transport"] = "gateway"
    if not ctx.minimal:
        txt["sshPort"] = str(ctx.ssh_port or DEFAULT_SSH_PORT)
    return txt


def tailnet_dns_hint(env: Mapping[str, str], tailscale_url: str | None) -> str | None:
    """OPENCLAW_TAILNET_DNS, else the MagicDNS host the Tailscale route reported (if any).

    The official asks `tailscale status --json` when tailscale mode is on; the supervisor's
    tailscale service already did, and its public URL carries the same host.
    """
    raw = (env.get("OPENCLAW_TAILNET_DNS") or "").strip().rstrip(".")
    if raw:
        return raw
    if tailscale_url:
        match = re.match(r"^https?://([^/:]+)", tailscale_url)
        if match:
            return match.group(1).rstrip(".")
    return None


def advertise_timeout_s(env: Mapping[str, str], default_ms: int = 5000) -> float:
    """OPENCLAW_GATEWAY_DISCOVERY_ADVERTISE_TIMEOUT_MS (a strict positive integer), else 5 s."""
    raw = (env.get("OPENCLAW_GATEWAY_DISCOVERY_ADVERTISE_TIMEOUT_MS") or "").strip()
    value = int(raw) if raw.isdigit() else 0
    return (value if value > 0 else default_ms) / 1000
