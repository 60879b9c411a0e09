"""core.netaddr: the one loopback rule and IP canonicalisation."""

from __future__ import annotations

import pytest

from openclaw_gateway.core.netaddr import is_loopback, normalize_ip


def test_normalize_ip() -> None:
    assert normalize_ip("::ffff:10.0.0.1") == "10.0.0.1"
    assert normalize_ip("[::1]") == "::1"
    assert normalize_ip("fe80::1%eth0") == "fe80::1"
    assert normalize_ip(" 127.0.0.1 ") == "127.0.0.1"
    assert normalize_ip("not-an-ip") is None
    assert normalize_ip("") is None
    assert normalize_ip(None) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.255.0.9",
        "::1",
        "[::1]",
        "::1%lo",
        "::ffff:127.0.0.1",
        "[::ffff:127.0.0.1]",
        " 127.0.0.1 ",
        "localhost",
        "LocalHost",
        "localhost.",
    ],
)
def test_loopback_spellings(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "0.0.0.0",
        "::",
        "10.0.0.1",
        "::ffff:10.0.0.1",
        "203.0.113.7",
        "127.0.0.1.",  # not an IP literal, and not the name localhost (official rule)
        "localhost.example",
        "evil-localhost",
        "128.0.0.1",
        "unknown",
    ],
)
def test_not_loopback(host: str | None) -> None:
    assert not is_loopback(host)
