"""Wide-area (unicast) DNS-SD: the BIND zone the gateway writes for CoreDNS (cli.md §6,
official `widearea-dns-*.mjs`), and the domain rules `gateway discover` shares.

The zone is `<configDir>/dns/<domain>.db`. It is rewritten only when its content changes: the
first line is `; openclaw-content-hash: <fnv1a-32>` over the records with the SOA serial
blanked, so an unchanged gateway never bumps the serial. The serial is `YYYYMMDD01` (UTC), or
the old serial + 1 when that is not older. Written atomically (temp + fsync + rename + dir
fsync), mode 0644, the directory 0700 when created.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from openclaw_gateway.core.atomicfile import KEEP_MODE, write_atomic
from openclaw_gateway.discovery.txt import AdvertiseContext, format_instance_name

TAILNET_V6 = ipaddress.ip_network("fd7a:115c:a1e0::/48")
MAX_DNS_NAME_LENGTH = 253
INVALID_DOMAIN = "wide-area discovery domain must be a valid DNS name"
NO_TAILNET_WARNING = (
    "discovery.wideArea.domain is set, but no Tailscale IPv4 address was found; skipping "
    "unicast DNS-SD zone update"
)
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SERIAL = re.compile(r"^\s*@\s+IN\s+SOA\s+\S+\s+\S+\s+(\d+)\s+", re.MULTILINE)
_HASH = re.compile(r"^\s*;\s*openclaw-content-hash:\s*(\S+)\s*$", re.MULTILINE)


class InvalidDomain(ValueError):
    pass


def _labels(raw: str) -> list[str]:
    trimmed = raw.strip()
    without_dot = trimmed[:-1] if trimmed.endswith(".") else trimmed
    if not without_dot or len(without_dot) > MAX_DNS_NAME_LENGTH:
        raise InvalidDomain(INVALID_DOMAIN)
    labels = without_dot.split(".")
    if not all(_DNS_LABEL.match(label) for label in labels):
        raise InvalidDomain(INVALID_DOMAIN)
    return labels


def normalize_domain(raw: str | None) -> str | None:
    """`example.ts.net` -> `example.ts.net.`; None when empty; InvalidDomain when malformed."""
    if raw is None or not raw.strip():
        return None
    return ".".join(_labels(raw)) + "."


def resolve_domain(config_domain: str | None, env: Mapping[str, str]) -> str | None:
    """discovery.wideArea.domain, else OPENCLAW_WIDE_AREA_DOMAIN; invalid means none."""
    candidate = config_domain if config_domain is not None else env.get("OPENCLAW_WIDE_AREA_DOMAIN")
    try:
        return normalize_domain(candidate)
    except InvalidDomain:
        return None


def zone_path(config_dir: Path, domain: str) -> Path:
    return config_dir / "dns" / (".".join(_labels(domain)) + ".db")


def dns_label(raw: str, fallback: str) -> str:
    normalized = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    out = normalized or fallback
    return out[:63]


def txt_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def content_hash(body: str) -> str:
    """FNV-1a 32 over UTF-16 code units (JavaScript charCodeAt), 8 hex digits."""
    h = 0x811C9DC5
    data = body.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def next_serial(existing: int | None, today: dt.date) -> int:
    base = int(f"{today:%Y%m%d}01")
    if existing is None:
        return base
    distance = (base - existing) & 0xFFFFFFFF
    return base if 0 < distance < 0x80000000 else (existing + 1) & 0xFFFFFFFF


def extract_serial(text: str) -> int | None:
    match = _SERIAL.search(text)
    return int(match.group(1)) if match else None


def extract_hash(text: str) -> str | None:
    match = _HASH.search(text)
    return match.group(1) if match else None


@attrs.frozen
class ZoneInput:
    domain: str  # normalized, trailing dot
    ctx: AdvertiseContext
    system_host: str  # the first label of the system hostname (the zone's host label)
    tailnet_ipv4: str
    tailnet_ipv6: str | None = None


def _txt_entries(z: ZoneInput) -> list[str]:
    ctx = z.ctx
    display = format_instance_name(ctx.machine_display_name).strip() or z.system_host
    txt = [f"displayName={display}", "role=gateway", "transport=gateway"]
    txt.append(f"gatewayPort={ctx.port}")
    if ctx.tls_enabled:
        txt.append("gatewayTls=1")
        if ctx.tls_fingerprint_sha256:
            txt.append(f"gatewayTlsSha256={ctx.tls_fingerprint_sha256}")
    if ctx.direct_reachable:
        txt.append("gatewayDirectReachable=1")
    if ctx.tailnet_dns and ctx.tailnet_dns.strip():
        txt.append(f"tailnetDns={ctx.tailnet_dns.strip()}")
    # The zone carries sshPort/cliPath only when the context has them (full mode).
    if ctx.ssh_port is not None and ctx.ssh_port > 0:
        txt.append(f"sshPort={ctx.ssh_port}")
    if ctx.cli_path and ctx.cli_path.strip():
        txt.append(f"cliPath={ctx.cli_path.strip()}")
    return txt


def render_zone(z: ZoneInput, serial: int) -> str:
    host = dns_label(z.system_host, "openclaw")
    instance = dns_label(f"{z.system_host}-gateway", "openclaw-gw")
    soa = f"@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 60"
    records = [
        f"$ORIGIN {z.domain}",
        "$TTL 60",
        soa,
        "@ IN NS ns1",
        f"ns1 IN A {z.tailnet_ipv4}",
        f"{host} IN A {z.tailnet_ipv4}",
    ]
    if z.tailnet_ipv6:
        records.append(f"{host} IN AAAA {z.tailnet_ipv6}")
    records += [
        f"_openclaw-gw._tcp IN PTR {instance}._openclaw-gw._tcp",
        f"{instance}._openclaw-gw._tcp IN SRV 0 0 {z.ctx.port} {host}",
        f"{instance}._openclaw-gw._tcp IN TXT {' '.join(txt_quote(t) for t in _txt_entries(z))}",
    ]
    blank = "@ IN SOA ns1 hostmaster SERIAL 7200 3600 1209600 60"
    hashed = "\n".join(blank if line == soa else line for line in records) + "\n"
    return f"; openclaw-content-hash: {content_hash(hashed)}\n" + "\n".join(records) + "\n"


@attrs.frozen
class ZoneResult:
    path: Path
    changed: bool


def write_zone(
    config_dir: Path, z: ZoneInput, today: Callable[[], dt.date] | None = None
) -> ZoneResult:
    """Write the zone when its content changed; the serial only moves forward."""
    path = zone_path(config_dir, z.domain)
    try:
        existing: str | None = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        existing = None
    wanted = extract_hash(render_zone(z, 0))
    if existing is not None and wanted is not None and extract_hash(existing) == wanted:
        return ZoneResult(path, False)
    day = today() if today is not None else dt.datetime.now(dt.UTC).date()
    serial = next_serial(extract_serial(existing) if existing else None, day)
    write_atomic(path, render_zone(z, serial), KEEP_MODE)
    return ZoneResult(path, True)


def config_dir(env: Mapping[str, str], state_dir: Path, config_path: Path) -> Path:
    """The official CONFIG_DIR: OPENCLAW_STATE_DIR, else the config file's directory."""
    if (env.get("OPENCLAW_STATE_DIR") or "").strip():
        return state_dir
    if (env.get("OPENCLAW_CONFIG_PATH") or "").strip():
        return config_path.parent
    return state_dir
