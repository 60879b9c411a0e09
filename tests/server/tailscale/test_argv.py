"""The pure parts: argv builders, status parsing, the enabled line."""

from __future__ import annotations

import pytest

from openclaw_gateway.server import tailscale_commands as ts


def test_argv_builders() -> None:
    assert ts.build_version_argv("tailscale") == ["tailscale", "version"]
    assert ts.build_status_argv("/x/tailscale") == ["/x/tailscale", "status", "--json"]
    assert ts.build_serve_status_argv("ts") == ["ts", "serve", "status", "--json"]
    assert ts.build_claim_argv("ts", "serve", 41234) == [
        "ts",
        "serve",
        "--yes",
        "--bg=false",
        "41234",
    ]
    assert ts.build_claim_argv("ts", "funnel", 8) == ["ts", "funnel", "--yes", "--bg=false", "8"]
    assert ts.build_reset_argv("ts", "serve") == ["ts", "serve", "reset"]
    assert ts.build_reset_argv("ts", "funnel") == ["ts", "funnel", "reset"]


@pytest.mark.parametrize("mode", ["off", "", "Serve"])
def test_only_serve_and_funnel_claim(mode: str) -> None:
    with pytest.raises(ValueError, match="tailscale mode"):
        ts.build_claim_argv("ts", mode, 1)
    with pytest.raises(ValueError, match="tailscale mode"):
        ts.build_reset_argv("ts", mode)


def test_status_parsing_tolerates_noise() -> None:
    parsed = ts.parse_status_json('warning: x\n{"BackendState": "Running"}\ntrailer')
    assert parsed == {"BackendState": "Running"}
    assert ts.parse_status_json("") == {}


@pytest.mark.parametrize(
    ("status", "host"),
    [
        ({"Self": {"DNSName": "h.tail1.ts.net.", "TailscaleIPs": ["100.1.2.3"]}}, "h.tail1.ts.net"),
        ({"Self": {"DNSName": "", "TailscaleIPs": ["100.1.2.3", "fd7a::1"]}}, "100.1.2.3"),
        ({"Self": {"TailscaleIPs": ["100.1.2.3"]}}, "100.1.2.3"),
    ],
)
def test_hostname_from_status(status: dict[str, object], host: str) -> None:
    assert ts.hostname_from_status(status) == host


def test_hostname_missing() -> None:
    with pytest.raises(ValueError, match="Could not determine Tailscale DNS or IP"):
        ts.hostname_from_status({"Self": {}})


def test_enabled_message() -> None:
    assert ts.enabled_message("serve", "h.ts.net") == (
        "serve enabled: https://h.ts.net/ (WS via wss://h.ts.net)"
    )
    assert ts.enabled_message("funnel", None) == "funnel enabled"


@pytest.mark.parametrize(
    ("text", "code", "denied"),
    [
        ("Access denied: serve config denied", "", True),
        ("open /var/run: permission denied", "", True),
        ("", "EACCES", True),
        ("serve: something went wrong", "", False),
    ],
)
def test_permission_detection(text: str, code: str, denied: bool) -> None:
    assert ts.is_permission_denied(text, code) is denied
