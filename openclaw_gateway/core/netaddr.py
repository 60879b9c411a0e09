"""Address facts every layer asks: is this loopback, and the canonical text of an IP. Pure.

One loopback rule for peer addresses, forwarded hops, bind hosts and Origin/Host names (the
official isLoopbackHost): a loopback IP literal however it is written (brackets, an IPv6 zone,
the IPv4-mapped form, surrounding space), or the name `localhost` in any case with trailing
dots. Socket peers and forwarded hops are canonical IPs by the time they get here, so the name
only ever matches where a host name may appear.
"""

from __future__ import annotations

import ipaddress

LOCALHOST = "localhost"


def normalize_ip(ip: str | None) -> str | None:
    """Canonical text of an IP (zone dropped, IPv4-mapped IPv6 -> IPv4), or None."""
    if not ip:
        return None
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (any spelling of them) or `localhost`."""
    if not host:
        return False
    if host.strip().lower().rstrip(".") == LOCALHOST:
        return True
    normalized = normalize_ip(host)
    return normalized is not None and ipaddress.ip_address(normalized).is_loopback
