"""What a one-shot command asks of a gateway URL before it connects: is it loopback, and may
credentials travel over it in plaintext (the official isLoopbackGatewayUrl and
isSecureWebSocketUrl). Pure.

Both look at the host the way the official CLI's URL parser (WHATWG) sees it: lower case,
without brackets, and an IPv4 written the legacy way (`127.1`, `0x7f.0.0.1`, `010.0.0.1`, a
trailing dot) turned into its dotted-decimal form, so `ws://127.1` is loopback and
`ws://010.0.0.1` (8.0.0.1) is public. The address rules themselves are core/netaddr's.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from urllib.parse import urlsplit

from openclaw_gateway.core.netaddr import is_loopback, is_private_or_loopback_host, normalize_ip

_HEX = frozenset(string.hexdigits)


class _NotAnIpv4(Exception):
    """A host that ends in a number but is no IPv4: the URL parser refuses the whole URL."""


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
        if not set(digits) <= _HEX:
            raise _NotAnIpv4
        return int(digits, 16) if digits else 0
    base = 8 if len(part) > 1 and part.startswith("0") else 10
    if not part.isdigit() or (base == 8 and not set(part) <= set("01234567")):
        raise _NotAnIpv4
    return int(part, base)


def _ends_in_number(parts: list[str]) -> bool:
    last = parts[-1]
    if last.isdigit():
        return True
    return last[:2].lower() == "0x" and set(last[2:]) <= _HEX


def _legacy_ipv4(host: str) -> str | None:
    """The dotted form of a host that ends in a number (WHATWG IPv4 parser); None for a name.
    Raises _NotAnIpv4 when it ends in a number but is no address."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts[-1] or not _ends_in_number(parts):
        return None
    if len(parts) > 4 or "" in parts:
        raise _NotAnIpv4
    numbers = [_number(p) for p in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise _NotAnIpv4
    value = numbers[-1]
    for index, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - index))
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def url_host(url: str) -> str | None:
    """The URL's host as the official CLI's URL parser gives it (see above), or None when the
    URL would not parse or has no host."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:  # an IPv6 literal (urlsplit dropped the brackets); a URL takes no zone
        return host if "%" not in host and normalize_ip(host) is not None else None
    try:
        return _legacy_ipv4(host) or host
    except _NotAnIpv4:
        return None


def is_loopback_url(url: str) -> bool:
    """The URL's host is loopback (official isLoopbackGatewayUrl): core/netaddr's loopback rule,
    except that a URL host keeps its trailing dot, so `ws://localhost.:18789` is not loopback
    here (the official compares the hostname to `localhost` exactly). An unparsable URL is
    not loopback."""
    host = url_host(url)
    return host is not None and not host.endswith(".") and is_loopback(host)


def allows_private_ws(env: Mapping[str, str]) -> bool:
    """The break-glass OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1."""
    return env.get("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS") == "1"


def is_secure_ws_url(url: str, *, allow_private: bool) -> bool:
    """May credentials travel over this URL (official isSecureWebSocketUrl, asked before every
    connect)? wss:// always; ws:// to loopback, a private or loopback address, or a `.local` /
    `.ts.net` name; with the break-glass (`allow_private`) also to any host name that is not an
    IP literal. http(s):// count as ws(s):// here, as in the official rule; an unparsable URL
    never passes."""
    host = url_host(url)
    if host is None:
        return False
    scheme = {"http": "ws", "https": "wss"}.get(urlsplit(url).scheme, urlsplit(url).scheme)
    if scheme != "ws":
        return scheme == "wss"
    if is_loopback(host) or is_private_or_loopback_host(host):
        return True
    if host.rstrip(".").endswith((".local", ".ts.net")):
        return True
    return allow_private and normalize_ip(host) is None
