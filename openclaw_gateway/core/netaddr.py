"""Address facts every layer asks: is this loopback, is this private, and the canonical text of
an IP. Pure.

One loopback rule for peer addresses, forwarded hops, bind hosts and Origin/Host names (the
official isLoopbackHost): a loopback IP literal however it is written (brackets, an IPv6 zone,
the IPv4-mapped form, surrounding space), or the name `localhost` in any case with trailing
dots. Socket peers and forwarded hops are canonical IPs by the time they get here, so the name
only ever matches where a host name may appear.
"""

from __future__ import annotations

import functools
import ipaddress

LOCALHOST = "localhost"
# A handshake asks about the same few peer and hop addresses several times (attribution,
# rate limits, loopback rules) and each answer costs an ipaddress parse: remember recent ones.
# Pure functions of their text, so a cache cannot go stale; bounded, so a flood of distinct
# addresses only evicts.
_ADDRESS_CACHE = 4096


@functools.lru_cache(maxsize=_ADDRESS_CACHE)
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


@functools.lru_cache(maxsize=_ADDRESS_CACHE)
def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (any spelling of them) or `localhost`."""
    if not host:
        return False
    if host.strip().lower().rstrip(".") == LOCALHOST:
        return True
    normalized = normalize_ip(host)
    return normalized is not None and ipaddress.ip_address(normalized).is_loopback


# The official private-or-loopback address set (isPrivateOrLoopbackAddress, ipaddr.js ranges):
# IPv4 loopback, RFC 1918, link-local and CGNAT; IPv6 special-use ranges (below), else the
# IPv4 an IPv6 address embeds; never the RFC 8215 local-use NAT64 prefix.
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
    )
)
# ipaddr.js names the first of its ranges an address falls in; these names count as private
# (with site-local fec0::/10). Earlier entries shadow later ones (2001::/32 is teredo, not
# reserved), so the order is ipaddr.js's own.
_V6_RANGES: tuple[tuple[str, ipaddress.IPv6Network], ...] = tuple(
    (name, ipaddress.IPv6Network(net))
    for name, net in (
        ("unspecified", "::/128"),
        ("linkLocal", "fe80::/10"),
        ("multicast", "ff00::/8"),
        ("loopback", "::1/128"),
        ("uniqueLocal", "fc00::/7"),
        ("ipv4Mapped", "::ffff:0:0/96"),
        ("deprecatedSiteLocal", "fec0::/10"),
        ("discard", "100::/64"),
        ("rfc6145", "::ffff:0:0:0/96"),
        ("rfc6052", "64:ff9b::/96"),
        ("rfc6052", "64:ff9b:1::/48"),
        ("6to4", "2002::/16"),
        ("teredo", "2001::/32"),
        ("benchmarking", "2001:2::/48"),
        ("amt", "2001:3::/32"),
        ("as112v6", "2001:4:112::/48"),
        ("as112v6", "2620:4f:8000::/48"),
        ("deprecatedOrchid", "2001:10::/28"),
        ("orchid2", "2001:20::/28"),
        ("droneRemoteIdProtocolEntityTags", "2001:30::/28"),
        ("segmentRouting", "5f00::/16"),
        ("reserved", "2001::/23"),
        ("reserved", "2001:db8::/32"),
        ("reserved", "3fff::/20"),
    )
)
_PRIVATE_V6_RANGES = frozenset(
    {
        "unspecified",
        "loopback",
        "linkLocal",
        "uniqueLocal",
        "multicast",
        "reserved",
        "benchmarking",
        "discard",
        "orchid2",
        "deprecatedSiteLocal",
    }
)
_LOCAL_USE_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _v6_range(addr: ipaddress.IPv6Address) -> str:
    return next((name for name, net in _V6_RANGES if addr in net), "unicast")


def _embedded_ipv4(addr: ipaddress.IPv6Address, kind: str) -> ipaddress.IPv4Address | None:
    """The IPv4 a transition address carries (official extractEmbeddedIpv4FromIpv6)."""
    words = [(int(addr) >> (16 * (7 - i))) & 0xFFFF for i in range(8)]

    def v4(high: int, low: int) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address((high << 16) | low)

    if kind in ("rfc6145", "rfc6052"):
        return None if addr in _LOCAL_USE_NAT64 else v4(words[6], words[7])
    if kind == "6to4":
        return v4(words[1], words[2])
    if kind == "teredo":
        return v4(words[6] ^ 0xFFFF, words[7] ^ 0xFFFF)
    compatible = not any(words[:6])
    isatap = (words[4] & 0xFCFF) == 0 and words[5] == 0x5EFE
    return v4(words[6], words[7]) if compatible or isatap else None


def is_private_or_loopback_ip(ip: str | None) -> bool:
    """An IP literal in the official private-or-loopback set (isPrivateOrLoopbackAddress); a
    name is not. The browser Origin policy and the plaintext ws:// rule both ask this."""
    normalized = normalize_ip(ip)
    if normalized is None:
        return False
    addr = ipaddress.ip_address(normalized)
    if isinstance(addr, ipaddress.IPv4Address):
        return any(addr in net for net in _PRIVATE_V4)
    if addr in _LOCAL_USE_NAT64:
        return False
    kind = _v6_range(addr)
    if kind in _PRIVATE_V6_RANGES:
        return True
    embedded = _embedded_ipv4(addr, kind)
    return embedded is not None and any(embedded in net for net in _PRIVATE_V4)


def is_private_or_loopback_host(host: str | None) -> bool:
    """`localhost` or a private-or-loopback IP, but never an IPv6 multicast or `::` (official
    isPrivateOrLoopbackHost: what a plaintext ws:// URL may point at)."""
    if not host:
        return False
    if host.strip().lower().rstrip(".") == LOCALHOST:
        return True
    normalized = normalize_ip(host)
    if normalized is None or not is_private_or_loopback_ip(normalized):
        return False
    return not (":" in normalized and (normalized.startswith("ff") or normalized == "::"))
