"""Gateway beacons found by a browse, and every shape they are shown in (cli.md §6, official
`bonjour-discovery-*.mjs`, `discover-*.mjs`, `gateway-discovery-targets-*.mjs`). Pure.

A beacon is a dict whose keys keep the official insertion order (it is printed as JSON as it
is): instanceName, displayName, host, port, txt, lanHost, tailnetDns, cliPath, role,
transport, gatewayPort, sshPort, gatewayTls, gatewayTlsFingerprintSha256, domain. Absent
values are simply not there. `wsUrl` is always built from the resolved SRV host and port,
never from TXT hints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openclaw_gateway.discovery.txt import parse_tcp_port

Beacon = dict[str, Any]
_ESCAPE = re.compile(r"\\([0-9]{3})")


def decode_dnssd_escapes(value: str) -> str:
    """`studio\\032(OpenClaw)` -> `studio (OpenClaw)`; the bytes are UTF-8 (`\\195\\169` = é)."""
    if not _ESCAPE.search(value):
        return value
    out = bytearray()
    i = 0
    decoded = False
    while i < len(value):
        ch = value[i]
        if (
            ch == "\\"
            and i + 3 < len(value)
            and value[i + 1 : i + 4].isascii()
            and (value[i + 1 : i + 4].isdigit())
        ):
            byte = int(value[i + 1 : i + 4])
            if byte <= 255:
                out.append(byte)
                decoded = True
                i += 4
                continue
        out += ch.encode("utf-8")
        i += 1
    return out.decode("utf-8", errors="replace") if decoded else value


def parse_txt_tokens(tokens: Iterable[str]) -> dict[str, str]:
    """`k=v` strings -> dict (first `=` splits; empty keys dropped; values \\DDD-decoded)."""
    txt: dict[str, str] = {}
    for token in tokens:
        idx = token.find("=")
        if idx <= 0:
            continue
        key = token[:idx].strip()
        if key:
            txt[key] = decode_dnssd_escapes(token[idx + 1 :].strip())
    return txt


def apply_beacon_txt(beacon: Beacon, txt: Mapping[str, str]) -> None:
    for field in ("tailnetDns", "cliPath", "role", "transport"):
        if txt.get(field):
            beacon[field] = txt[field]
    for field in ("gatewayPort", "sshPort"):
        port = parse_tcp_port(txt.get(field))
        if port is None:
            beacon.pop(field, None)
        else:
            beacon[field] = port
    if txt.get("gatewayTls"):
        beacon["gatewayTls"] = txt["gatewayTls"].strip().lower() in ("1", "true", "yes")
    if txt.get("gatewayTlsSha256"):
        beacon["gatewayTlsFingerprintSha256"] = txt["gatewayTlsSha256"]


def make_beacon(
    instance_name: str,
    domain: str,
    host: str | None,
    port: int | None,
    txt: Mapping[str, str],
) -> Beacon:
    """A resolved service (SRV host/port + TXT) as the official avahi/dns-sd parsers build it."""
    name = decode_dnssd_escapes(instance_name)
    beacon: Beacon = {"instanceName": name, "displayName": name}
    if host:
        beacon["host"] = host.rstrip(".")
    if port is not None:
        beacon["port"] = port
    if txt:
        beacon["txt"] = dict(txt)
        if txt.get("displayName"):
            beacon["displayName"] = decode_dnssd_escapes(txt["displayName"])
        if txt.get("lanHost"):
            beacon["lanHost"] = txt["lanHost"]
    apply_beacon_txt(beacon, txt)
    beacon["domain"] = domain
    return beacon


def endpoint(beacon: Mapping[str, Any]) -> tuple[str, int, str] | None:
    """(host, port, wsUrl) from the resolved SRV data only."""
    host = beacon.get("host")
    port = beacon.get("port")
    host = host.strip() if isinstance(host, str) else ""
    if not host or not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
        return None
    scheme = "wss" if beacon.get("gatewayTls") is True else "ws"
    return host, port, f"{scheme}://{host}:{port}"


def ws_url(beacon: Mapping[str, Any]) -> str | None:
    found = endpoint(beacon)
    return found[2] if found else None


def ssh_port(beacon: Mapping[str, Any]) -> int | None:
    port = beacon.get("sshPort")
    return port if isinstance(port, int) and not isinstance(port, bool) and port > 0 else None


def ssh_target(beacon: Mapping[str, Any], user: str = "") -> str | None:
    """`USER@host`, or `USER@host:<sshPort>` when that is not 22; None without an endpoint."""
    found = endpoint(beacon)
    if found is None:
        return None
    user = user.strip()
    base = f"{user}@{found[0]}" if user else found[0]
    port = ssh_port(beacon)
    return f"{base}:{port}" if port and port != 22 else base


def dedupe(beacons: Iterable[Beacon]) -> list[Beacon]:
    out: list[Beacon] = []
    seen: set[str] = set()
    for b in beacons:
        found = endpoint(b)
        key = "|".join(
            [
                str(b.get("domain") or ""),
                str(b.get("instanceName") or ""),
                str(b.get("displayName") or ""),
                found[0] if found else "",
                str(b.get("port", "")),
                str(b.get("gatewayPort", "")),
            ]
        )
        if key not in seen:
            seen.add(key)
            out.append(b)
    return out


def _sort_key(b: Mapping[str, Any]) -> tuple[str, str]:
    name = str(b.get("displayName") or b.get("instanceName") or "")
    # localeCompare is case-insensitive first; the raw string breaks ties deterministically.
    return name.casefold(), name


def dedupe_and_sort(beacons: Iterable[Beacon]) -> list[Beacon]:
    return sorted(dedupe(beacons), key=_sort_key)


def discover_json(timeout_ms: int, domains: Sequence[str], beacons: Sequence[Beacon]) -> Any:
    return {
        "timeoutMs": timeout_ms,
        "domains": list(domains),
        "count": len(beacons),
        "beacons": [{**b, "wsUrl": ws_url(b)} for b in beacons],
    }


def render_lines(beacon: Mapping[str, Any]) -> list[str]:
    title = str(beacon.get("displayName") or beacon.get("instanceName") or "Gateway").strip()
    domain = str(beacon.get("domain") or "local.").strip()
    lines = [f"- {title or 'Gateway'} {domain or 'local.'}"]
    for label, key in (("tailnet", "tailnetDns"), ("lan", "lanHost"), ("host", "host")):
        if beacon.get(key):
            lines.append(f"  {label}: {beacon[key]}")
    found = endpoint(beacon)
    if found:
        lines.append(f"  ws: {found[2]}")
    for key in ("role", "transport"):
        if beacon.get(key):
            lines.append(f"  {key}: {beacon[key]}")
    if beacon.get("gatewayTls"):
        fp = beacon.get("gatewayTlsFingerprintSha256")
        lines.append(f"  tls: {'sha256 ' + fp if fp else 'enabled'}")
    port = ssh_port(beacon)
    if found and port:
        lines.append(f"  ssh: ssh -N -L 18789:127.0.0.1:{found[1]} <user>@{found[0]} -p {port}")
    return lines


def discover_text(domains: Sequence[str], beacons: Sequence[Beacon]) -> list[str]:
    lines = [
        "Gateway Discovery",
        f"Found {len(beacons)} gateway(s) · domains: {', '.join(domains)}",
    ]
    for b in beacons:
        lines += render_lines(b)
    return lines


def probe_view(beacon: Mapping[str, Any]) -> dict[str, Any]:
    """The slimmer beacon of `gateway probe --json` (serializeGatewayDiscoveryBeacon)."""
    return {
        "instanceName": beacon.get("instanceName"),
        "displayName": beacon.get("displayName"),
        "domain": beacon.get("domain"),
        "host": beacon.get("host"),
        "lanHost": beacon.get("lanHost"),
        "tailnetDns": beacon.get("tailnetDns"),
        "gatewayPort": beacon.get("gatewayPort"),
        "sshPort": beacon.get("sshPort"),
        "wsUrl": ws_url(beacon),
        # Ours, additive: the TLS hint, so a wss:// beacon's pin can be pasted from --json.
        **{k: beacon[k] for k in ("gatewayTls", "gatewayTlsFingerprintSha256") if k in beacon},
    }
