"""Who is really on the other end of a request (protocol.md §3.4). Pure.

Port of the official ingress-attribution.ts / net.ts client-IP rules:
- `direct-local`: the TCP peer is loopback and the request carries no forwarding headers;
- `trusted-proxy`: the TCP peer is listed in `gateway.trustedProxies` (exact IPs or CIDRs);
  the client IP is the right-most `X-Forwarded-For` hop that is neither loopback nor itself a
  trusted proxy (`X-Real-IP` only with `gateway.allowRealIpFallback`). No usable hop, or a
  loopback one, means the proxy did not tell us who the client is -> unattributable;
- `unattributable-proxy`: forwarding headers from anyone else, loopback included. The upgrade
  is refused with 403: a header anyone can type must never make a remote client look local;
- `direct-remote`: everything else.

The managed Tailscale ingress (a loopback listener of its own that only `tailscale serve|funnel`
is pointed at) has its own rule, `attribute_tailscale`: only a loopback peer that sent the
three headers Tailscale's proxy always adds is attributed, to the right-most non-loopback
X-Forwarded-For hop; funnel traffic must carry (or may omit) `Tailscale-Funnel-Request: ?1`,
serve traffic must not carry it. Anything else on that listener is unattributable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Literal

import attrs

from openclaw_gateway.core.netaddr import is_loopback, normalize_ip

Kind = Literal[
    "direct-local",
    "trusted-proxy",
    "unattributable-proxy",
    "direct-remote",
    "tailscale-serve",
    "tailscale-funnel",
]
PROXY_HEADER_PREFIXES = ("x-forwarded-", "tailscale-")
PROXY_HEADERS = frozenset({"forwarded", "x-real-ip"})
TAILSCALE_PROXY_HEADERS = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")
TAILSCALE_HOP = ("127.0.0.1", "::1")  # Tailscale's proxy connects from loopback
PROXY_ATTRIBUTION_MESSAGE = (
    "Proxy client attribution is required. Configure gateway.trustedProxies narrowly for the "
    "proxy in front of this gateway."
)


@attrs.frozen
class Attribution:
    kind: Kind
    client_ip: str  # the attributed client (the TCP peer unless a trusted proxy forwarded it)
    peer_ip: str  # the TCP peer, normalized


def has_proxy_headers(headers: Mapping[str, str]) -> bool:
    return any(
        name.lower() in PROXY_HEADERS or name.lower().startswith(PROXY_HEADER_PREFIXES)
        for name in headers
    )


def ip_in(ip: str, entry: str) -> bool:
    """`ip` equals `entry` (an address) or lies in it (a CIDR); IPv4-mapped forms compare as v4."""
    normalized = normalize_ip(ip)
    candidate = entry.strip()
    if normalized is None or not candidate:
        return False
    addr = ipaddress.ip_address(normalized)
    if "/" not in candidate:
        base = normalize_ip(candidate)
        return base is not None and base == normalized
    try:
        network = ipaddress.ip_network(candidate, strict=False)
    except ValueError:
        return False
    if isinstance(network, ipaddress.IPv6Network) and isinstance(addr, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Network("::ffff:0:0/96")
        if network.prefixlen >= 96 and network.subnet_of(mapped):
            v4 = network.network_address.ipv4_mapped
            assert v4 is not None
            return addr in ipaddress.ip_network(f"{v4}/{network.prefixlen - 96}", strict=False)
        return False
    return addr.version == network.version and addr in network


def is_trusted_proxy(ip: str, trusted_proxies: Sequence[str]) -> bool:
    return any(ip_in(ip, entry) for entry in trusted_proxies)


def _parse_hop(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end != -1:
            text = text[1:end]
    elif text.count(":") == 1 and "." in text:
        text = text.split(":", 1)[0]  # IPv4 with a port
    return normalize_ip(text)


def forwarded_client_ip(forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str | None:
    """Right-most X-Forwarded-For hop that is not loopback and not a trusted proxy."""
    if not trusted_proxies:
        return None
    chain = [hop for hop in (_parse_hop(p) for p in (forwarded_for or "").split(",")) if hop]
    for hop in reversed(chain):
        if is_loopback(hop):
            continue
        if not is_trusted_proxy(hop, trusted_proxies):
            return hop
    return None


def attribute(
    peer_ip: str,
    headers: Mapping[str, str],
    trusted_proxies: Sequence[str] = (),
    *,
    allow_real_ip_fallback: bool = False,
) -> Attribution:
    """Classify one request; `headers` are lower-case names."""
    peer = normalize_ip(peer_ip) or peer_ip
    proxied = has_proxy_headers(headers)
    if is_loopback(peer) and not proxied:
        return Attribution("direct-local", peer, peer)
    if is_trusted_proxy(peer, trusted_proxies):
        client = forwarded_client_ip(headers.get("x-forwarded-for"), trusted_proxies)
        if client is None and allow_real_ip_fallback:
            client = _parse_hop(headers.get("x-real-ip") or "")
        if client is None or is_loopback(client):
            return Attribution("unattributable-proxy", peer, peer)
        return Attribution("trusted-proxy", client, peer)
    if proxied:
        return Attribution("unattributable-proxy", peer, peer)
    return Attribution("direct-remote", peer, peer)


@attrs.frozen
class Transport:
    """Which listener a request arrived on (the official `markGatewayIngressTransport`)."""

    kind: Literal["ordinary", "managed-tailscale"] = "ordinary"
    mode: Literal["serve", "funnel"] | None = None  # for managed-tailscale


ORDINARY = Transport()


def attribute_tailscale(
    peer_ip: str, headers: Mapping[str, str], mode: Literal["serve", "funnel"]
) -> Attribution:
    """Attribution for a request on the managed Tailscale ingress listener."""
    peer = normalize_ip(peer_ip) or peer_ip
    unattributable = Attribution("unattributable-proxy", peer, peer)
    if not is_loopback(peer) or not all(headers.get(name) for name in TAILSCALE_PROXY_HEADERS):
        return unattributable
    client = forwarded_client_ip(headers.get("x-forwarded-for"), TAILSCALE_HOP)
    if client is None or is_loopback(client):
        return unattributable
    funnel_marker = headers.get("tailscale-funnel-request")
    if mode == "funnel":
        if funnel_marker and funnel_marker != "?1":
            return unattributable
        return Attribution("tailscale-funnel", client, peer)
    if funnel_marker:
        return unattributable  # funnel traffic on a serve-only route: not what we exposed
    return Attribution("tailscale-serve", client, peer)
