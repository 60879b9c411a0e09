"""ingress: who the client is behind (or without) a proxy (protocol.md §3.4, ingress-attribution.ts)."""

from __future__ import annotations

from typing import Literal

import pytest

from openclaw_gateway.security.ingress import (
    attribute,
    attribute_tailscale,
    forwarded_client_ip,
    has_proxy_headers,
    ip_in,
    is_trusted_proxy,
)


def test_direct_local_and_direct_remote() -> None:
    assert attribute("127.0.0.1", {}).kind == "direct-local"
    assert attribute("::ffff:127.0.0.1", {}).client_ip == "127.0.0.1"
    remote = attribute("203.0.113.9", {"host": "x"})
    assert (remote.kind, remote.client_ip) == ("direct-remote", "203.0.113.9")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-for": "203.0.113.9"},
        {"x-forwarded-for": "127.0.0.1"},  # a spoofed "I am local"
        {"x-real-ip": "127.0.0.1"},
        {"forwarded": "for=1.2.3.4"},
        {"x-forwarded-proto": "https"},
        {"tailscale-user-login": "me@example.com"},
    ],
)
@pytest.mark.parametrize("peer", ["127.0.0.1", "203.0.113.9"])
def test_forwarded_headers_from_an_untrusted_peer_are_unattributable(
    peer: str, headers: dict[str, str]
) -> None:
    got = attribute(peer, headers, ())
    assert got.kind == "unattributable-proxy"
    assert got.client_ip == peer


def test_trusted_proxy_forwards_the_client_ip() -> None:
    got = attribute("10.0.0.2", {"x-forwarded-for": "198.51.100.7, 10.0.0.3"}, ["10.0.0.0/24"])
    assert (got.kind, got.client_ip, got.peer_ip) == ("trusted-proxy", "198.51.100.7", "10.0.0.2")


def test_trusted_proxy_with_a_loopback_or_missing_client_is_unattributable() -> None:
    proxies = ["127.0.0.1"]
    assert attribute("127.0.0.1", {"x-forwarded-for": "127.0.0.1"}, proxies).kind == (
        "unattributable-proxy"
    )
    assert attribute("127.0.0.1", {"x-forwarded-proto": "https"}, proxies).kind == (
        "unattributable-proxy"
    )
    # Without headers a loopback proxy is just a local client.
    assert attribute("127.0.0.1", {}, proxies).kind == "direct-local"


def test_x_real_ip_only_with_the_fallback() -> None:
    headers = {"x-real-ip": "198.51.100.7"}
    assert attribute("10.0.0.2", headers, ["10.0.0.2"]).kind == "unattributable-proxy"
    got = attribute("10.0.0.2", headers, ["10.0.0.2"], allow_real_ip_fallback=True)
    assert (got.kind, got.client_ip) == ("trusted-proxy", "198.51.100.7")


def test_forwarded_chain_skips_loopback_and_trusted_hops() -> None:
    proxies = ["10.0.0.0/8"]
    assert forwarded_client_ip("1.1.1.1, 2.2.2.2, 10.1.1.1, 127.0.0.1", proxies) == "2.2.2.2"
    assert forwarded_client_ip("1.1.1.1:5555", proxies) == "1.1.1.1"
    assert forwarded_client_ip("[2001:db8::1]:443", proxies) == "2001:db8::1"
    assert forwarded_client_ip("garbage, 10.0.0.1", proxies) is None
    assert forwarded_client_ip("1.1.1.1", []) is None


@pytest.mark.parametrize(
    ("ip", "entry", "inside"),
    [
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.0.0.1", "10.0.0.0/8", False),
        ("::ffff:10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "::ffff:10.0.0.0/104", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "::ffff:127.0.0.1", True),
        ("2001:db8::5", "2001:db8::/32", True),
        ("10.1.2.3", "2001:db8::/32", False),
        ("10.1.2.3", "not-a-cidr/8", False),
        ("10.1.2.3", " ", False),
    ],
)
def test_ip_in(ip: str, entry: str, inside: bool) -> None:
    assert ip_in(ip, entry) is inside


def test_is_trusted_proxy() -> None:
    assert is_trusted_proxy("192.168.0.9", ["10.0.0.1", "192.168.0.0/16"])
    assert not is_trusted_proxy("192.168.0.9", [])


TS_HEADERS = {
    "x-forwarded-for": "100.101.1.2",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "fakehost.tail1234.ts.net",
}


def test_managed_tailscale_ingress_attributes_tailscale_proxied_requests() -> None:
    serve = attribute_tailscale("127.0.0.1", TS_HEADERS, "serve")
    assert (serve.kind, serve.client_ip, serve.peer_ip) == (
        "tailscale-serve",
        "100.101.1.2",
        "127.0.0.1",
    )
    funnel = attribute_tailscale("::1", {**TS_HEADERS, "tailscale-funnel-request": "?1"}, "funnel")
    assert (funnel.kind, funnel.client_ip) == ("tailscale-funnel", "100.101.1.2")
    assert attribute_tailscale("127.0.0.1", TS_HEADERS, "funnel").kind == "tailscale-funnel"
    # A loopback hop appended after the client is Tailscale's own, and skipped.
    chained = {**TS_HEADERS, "x-forwarded-for": "100.101.1.2, 127.0.0.1"}
    assert attribute_tailscale("127.0.0.1", chained, "serve").client_ip == "100.101.1.2"


@pytest.mark.parametrize(
    ("peer", "headers", "mode"),
    [
        ("203.0.113.9", TS_HEADERS, "serve"),  # not Tailscale's loopback proxy
        ("127.0.0.1", {}, "serve"),  # a local process dialling the ingress directly
        ("127.0.0.1", {"x-forwarded-for": "100.101.1.2"}, "serve"),  # not Tailscale's headers
        ("127.0.0.1", {**TS_HEADERS, "x-forwarded-for": "127.0.0.1"}, "serve"),  # "I am local"
        ("127.0.0.1", {**TS_HEADERS, "tailscale-funnel-request": "?1"}, "serve"),
        ("127.0.0.1", {**TS_HEADERS, "tailscale-funnel-request": "?0"}, "funnel"),
    ],
)
def test_managed_tailscale_ingress_refuses_everything_else(
    peer: str, headers: dict[str, str], mode: Literal["serve", "funnel"]
) -> None:
    assert attribute_tailscale(peer, headers, mode).kind == "unattributable-proxy"


@pytest.mark.parametrize(
    ("headers", "proxied"),
    [
        ({"host": "gw", "origin": "http://localhost"}, False),
        ({"x-forwarded-for": "203.0.113.7"}, True),
        ({"X-Forwarded-Proto": "https"}, True),
        ({"forwarded": "for=203.0.113.7"}, True),
        ({"x-real-ip": "203.0.113.7"}, True),
        ({"tailscale-user-login": "a@b"}, True),
        ({"x-forwardedfor": "1"}, False),
    ],
)
def test_has_proxy_headers_is_the_one_check_of_edge_and_ingress(
    headers: dict[str, str], proxied: bool
) -> None:
    assert has_proxy_headers(headers) is proxied
