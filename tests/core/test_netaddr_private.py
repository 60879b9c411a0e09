"""core.netaddr: the official private-or-loopback address set.

Measured on the official 2026.9.6 (isPrivateOrLoopbackAddress and isPrivateOrLoopbackHost from
its dist/net-*.mjs under node); the same two functions agreed with ours on 5,000 more random
addresses in and around every range below.
"""

from __future__ import annotations

import pytest

from openclaw_gateway.core.netaddr import is_private_or_loopback_host, is_private_or_loopback_ip

# Private or loopback as an address and as a URL host.
PRIVATE = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.255",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "fe80::1",
    "fe80::1%eth0",
    "febf::1",
    "fec0::1",
    "fc00::1",
    "fd00::1",
    "fd00:ec2::254",
    "2001:db8::1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    "2001:2::1",
    "2001:20::1",
    "2001:100::1",
    "2001:1ff::1",
    "3fff::1",
    "100::1",
    "100::ffff:1",
    "2002:0a00:0001::1",
    "2002:7f00:0001::1",
    "64:ff9b::a00:1",
    "::ffff:0:a00:1",
    "::a00:1",
    "::7f00:1",
    "fe80::5efe:a00:1",
    "2001:4860::5efe:a00:1",
    "2001:4860::200:5efe:a00:1",
    "[::1]",
    "[fd00::1]",
]
# Private as an address, but never a host a plaintext URL may point at (multicast, `::`).
ADDRESS_ONLY = [
    "::",
    "ff02::1",
    "ff00::",
]
# A name that is loopback as a host but is no address.
HOST_ONLY = [
    "localhost",
    "LOCALHOST",
    "localhost.",
]
# Neither: public, documentation, benchmark-v4, reserved-v4, NAT64 local use, names.
NEITHER = [
    "172.32.0.1",
    "100.128.0.1",
    "192.0.2.10",
    "198.51.100.7",
    "203.0.113.1",
    "198.18.0.1",
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "240.0.0.1",
    "8.8.8.8",
    "1.1.1.1",
    "::ffff:8.8.8.8",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:3::1",
    "2001:4:112::1",
    "2001:10::1",
    "2001:30::1",
    "2001:200::1",
    "5f00::1",
    "2002:0808:0808::1",
    "64:ff9b::808:808",
    "64:ff9b:1::a00:1",
    "::ffff:0:808:808",
    "::808:808",
    "2001:4860::1",
    "2606:4700::1111",
    "example.com",
    "foo.local",
    "box.ts.net",
    "127.1",
    "010.0.0.1",
]


@pytest.mark.parametrize("host", PRIVATE)
def test_private(host: str) -> None:
    assert is_private_or_loopback_ip(host)
    assert is_private_or_loopback_host(host)


@pytest.mark.parametrize("host", ADDRESS_ONLY)
def test_private_address_but_not_a_host(host: str) -> None:
    assert is_private_or_loopback_ip(host)
    assert not is_private_or_loopback_host(host)


@pytest.mark.parametrize("host", HOST_ONLY)
def test_loopback_name(host: str) -> None:
    assert not is_private_or_loopback_ip(host)
    assert is_private_or_loopback_host(host)


@pytest.mark.parametrize("host", [*NEITHER, "", None])
def test_neither(host: str | None) -> None:
    assert not is_private_or_loopback_ip(host)
    assert not is_private_or_loopback_host(host)
