"""cli/ws_url.py: the loopback and plaintext rules for a gateway URL.

Every expectation below was measured on the official 2026.9.6 (isSecureWebSocketUrl with and
without allowPrivateWs, isLoopbackGatewayUrl, from its dist/net-*.mjs under node).
"""

from __future__ import annotations

import pytest

from openclaw_gateway.cli.gateway_probe import plaintext_refusal
from openclaw_gateway.cli.ws_url import is_loopback_url, is_secure_ws_url, url_host

# Secure with or without OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1.
SECURE = [
    "ws://127.0.0.1:18789/",
    "ws://127.255.255.254:18789/",
    "ws://10.1.2.3:18789/",
    "ws://172.16.0.1:18789/",
    "ws://172.31.255.255:18789/",
    "ws://192.168.0.1:18789/",
    "ws://169.254.1.1:18789/",
    "ws://100.64.0.1:18789/",
    "ws://100.127.255.255:18789/",
    "ws://[::1]:18789/",
    "ws://[::ffff:127.0.0.1]:18789/",
    "ws://[::ffff:10.0.0.1]:18789/",
    "http://[::ffff:10.0.0.1]:18789/",
    "ws://[fe80::1]:18789/",
    "ws://[febf::1]:18789/",
    "ws://[fec0::1]:18789/",
    "ws://[fc00::1]:18789/",
    "ws://[fd00::1]:18789/",
    "ws://[fd00:ec2::254]:18789/",
    "ws://[2001:db8::1]:18789/",
    "ws://[2001:0:4136:e378:8000:63bf:f5ff:fffe]:18789/",
    "ws://[2001:2::1]:18789/",
    "ws://[2001:20::1]:18789/",
    "ws://[2001:100::1]:18789/",
    "ws://[2001:1ff::1]:18789/",
    "ws://[3fff::1]:18789/",
    "ws://[100::1]:18789/",
    "ws://[100::ffff:1]:18789/",
    "ws://[2002:0a00:0001::1]:18789/",
    "ws://[2002:7f00:0001::1]:18789/",
    "ws://[64:ff9b::a00:1]:18789/",
    "ws://[::ffff:0:a00:1]:18789/",
    "ws://[::a00:1]:18789/",
    "ws://[::7f00:1]:18789/",
    "ws://[fe80::5efe:a00:1]:18789/",
    "ws://[2001:4860::5efe:a00:1]:18789/",
    "ws://[2001:4860::200:5efe:a00:1]:18789/",
    "ws://localhost:18789/",
    "ws://LOCALHOST:18789/",
    "ws://localhost.:18789/",
    "wss://example.com:18789/",
    "https://example.com:18789/",
    "ws://foo.local:18789/",
    "ws://box.ts.net:18789/",
    "ws://127.1:18789/",
    "http://127.1:18789/",
    "ws://user:pw@10.0.0.1:1/",
    "ws://EXAMPLE.local.:1",
    "ws://a.TS.NET:1",
    "ws://localhost.:1",
    "ws://127.1:1/",
    "ws://0x7f.1:1/",
    "ws://0x7F000001:1/",
    "ws://2130706433:1/",
    "ws://017700000001:1/",
    "ws://127.0.0.1.:1/",
    "ws://0x0a.0.0.1:1/",
    "ws://10.1:1/",
    "ws://192.168.257:1/",
    "ws://localhost.:1/",
    "ws://LocalHost:1/",
    "ws://[::1]:1/",
    "ws://[::FFFF:127.0.0.1]:1/",
    "wss://example.com/",
    "ws://192.168.0.1.:1/",
]
# Secure only with the break-glass: host names that are not IP literals.
BREAK_GLASS_ONLY = [
    "ws://example.com:18789/",
    "ws://xn--bcher-kva.example:1",
    "ws://foo:1?x=1",
    "ws://127.0.0.1..:1/",
    "ws://123.foo:1/",
    "ws://a..b:1/",
    "ws://.:1/",
]
# Never: public or special addresses, unparsable URLs, other schemes.
REFUSED = [
    "ws://172.32.0.1:18789/",
    "ws://100.128.0.1:18789/",
    "ws://192.0.2.10:18789/",
    "ws://198.51.100.7:18789/",
    "ws://203.0.113.1:18789/",
    "ws://198.18.0.1:18789/",
    "ws://0.0.0.0:18789/",
    "ws://0.1.2.3:18789/",
    "ws://255.255.255.255:18789/",
    "ws://224.0.0.1:18789/",
    "ws://240.0.0.1:18789/",
    "ws://8.8.8.8:18789/",
    "http://8.8.8.8:18789/",
    "ws://1.1.1.1:18789/",
    "ws://[::]:18789/",
    "ws://[::ffff:8.8.8.8]:18789/",
    "http://[::ffff:8.8.8.8]:18789/",
    "ws://[ff02::1]:18789/",
    "ws://[ff00::]:18789/",
    "ws://[2001::1]:18789/",
    "ws://[2001:0:4136:e378:8000:63bf:3fff:fdd2]:18789/",
    "ws://[2001:3::1]:18789/",
    "ws://[2001:4:112::1]:18789/",
    "ws://[2001:10::1]:18789/",
    "ws://[2001:30::1]:18789/",
    "ws://[2001:200::1]:18789/",
    "ws://[5f00::1]:18789/",
    "ws://[2002:0808:0808::1]:18789/",
    "ws://[64:ff9b::808:808]:18789/",
    "ws://[64:ff9b:1::a00:1]:18789/",
    "ws://[::ffff:0:808:808]:18789/",
    "ws://[::808:808]:18789/",
    "ws://[2001:4860::1]:18789/",
    "ws://[2606:4700::1111]:18789/",
    "ws://010.0.0.1:18789/",
    "http://010.0.0.1:18789/",
    "ws://[::1",
    "ws://",
    "ftp://127.0.0.1/",
    "not a url",
    "ws://010.0.0.1:1/",
    "ws://256.0.0.1:1/",
    "ws://1.2.3.4.5:1/",
    "ws://09.0.0.1:1/",
    "ws://0x:1/",
    "ws://1.0x:1/",
    "ws://foo.123:1/",
    "ws://[fe80::1%25eth0]:1/",
    "ws://[::1:1/",
    "ws://:1/",
    "wss://256.0.0.1/",
]
LOOPBACK_URLS = [
    "ws://127.0.0.1:18789",
    "ws://127.8.9.10:18789",
    "ws://localhost:18789",
    "ws://[::ffff:127.0.0.1]:18789",
    "wss://localhost/",
    "ws://127.1:1/",
    "ws://0x7f.1:1/",
    "ws://0x7F000001:1/",
    "ws://2130706433:1/",
    "ws://017700000001:1/",
    "ws://127.0.0.1.:1/",
    "ws://LocalHost:1/",
    "ws://[::1]:1/",
    "ws://[::FFFF:127.0.0.1]:1/",
]
NOT_LOOPBACK_URLS = [
    "ws://localhost.:18789",  # a URL host keeps its dot; the official compares exactly
    "ws://192.168.1.5:18789",
    "ws://0.0.0.0:18789",
    "ws://[::]:18789",
    "ws://example.com:18789",
    "",
    "ws://127.0.0.1..:1/",
    "ws://010.0.0.1:1/",
    "ws://0x0a.0.0.1:1/",
    "ws://10.1:1/",
    "ws://192.168.257:1/",
    "ws://256.0.0.1:1/",
    "ws://1.2.3.4.5:1/",
    "ws://09.0.0.1:1/",
    "ws://0x:1/",
    "ws://1.0x:1/",
    "ws://foo.123:1/",
    "ws://123.foo:1/",
    "ws://localhost.:1/",
    "ws://[fe80::1%25eth0]:1/",
    "ws://[::1:1/",
    "ws://:1/",
    "wss://256.0.0.1/",
    "wss://example.com/",
    "ws://a..b:1/",
    "ws://.:1/",
    "ws://192.168.0.1.:1/",
]


@pytest.mark.parametrize("url", SECURE)
def test_secure(url: str) -> None:
    assert is_secure_ws_url(url, allow_private=False)
    assert is_secure_ws_url(url, allow_private=True)


@pytest.mark.parametrize("url", BREAK_GLASS_ONLY)
def test_secure_only_with_the_break_glass(url: str) -> None:
    assert not is_secure_ws_url(url, allow_private=False)
    assert is_secure_ws_url(url, allow_private=True)


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url: str) -> None:
    assert not is_secure_ws_url(url, allow_private=False)
    assert not is_secure_ws_url(url, allow_private=True)


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_loopback_urls(url: str) -> None:
    assert is_loopback_url(url)


@pytest.mark.parametrize("url", NOT_LOOPBACK_URLS)
def test_not_loopback_urls(url: str) -> None:
    assert not is_loopback_url(url)


def test_url_host_reads_the_host_as_the_official_url_parser() -> None:
    assert url_host("ws://127.1:1/") == "127.0.0.1"
    assert url_host("ws://0x7f.0.0.1:1/") == "127.0.0.1"
    assert url_host("ws://2130706433:1/") == "127.0.0.1"
    assert url_host("ws://010.0.0.1:1/") == "8.0.0.1"
    assert url_host("ws://127.0.0.1.:1/") == "127.0.0.1"
    assert url_host("ws://LocalHost.:1/") == "localhost."
    assert url_host("ws://[::1]:1/") == "::1"
    assert url_host("ws://256.0.0.1:1/") is None
    assert url_host("ws://[fe80::1%25eth0]:1/") is None
    assert url_host("ws://[::1:1/") is None
    assert url_host("ws://:1/") is None


def test_the_probe_refuses_plaintext_to_a_public_host_in_the_official_words() -> None:
    assert plaintext_refusal("ws://192.168.1.5:18789", {}) is None
    assert plaintext_refusal("wss://8.8.8.8:18789", {}) is None
    assert plaintext_refusal("ws://[2606:4700::1111]:18789", {}) == (
        'SECURITY ERROR: Cannot connect to "[2606:4700::1111]" over plaintext ws://. Both '
        "credentials and chat data would be exposed to network interception. Use wss:// for "
        "remote URLs. Safe defaults: keep gateway.bind=loopback and connect via SSH tunnel "
        "(ssh -N -L 18789:127.0.0.1:18789 user@gateway-host), or use Tailscale Serve/Funnel. "
        "Break-glass (trusted private networks only): set OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1. "
        "Run `openclaw doctor --fix` for guidance."
    )
    glass = {"OPENCLAW_ALLOW_INSECURE_PRIVATE_WS": "1"}
    assert plaintext_refusal("ws://gateway.example:18789", glass) is None
    refused = plaintext_refusal("ws://010.0.0.1:18789", glass)  # 8.0.0.1, as the URL reads
    assert refused is not None and refused.startswith('SECURITY ERROR: Cannot connect to "8.0.0.1"')
    assert "Break-glass" not in refused
    unparsable = plaintext_refusal("ws://[::1", {})
    assert unparsable is not None and 'Cannot connect to "ws://[::1"' in unparsable
