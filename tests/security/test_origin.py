"""origin: the browser Origin policy for WebSocket connects (protocol.md §9.3, origin-check.ts)."""

from __future__ import annotations

import pytest

from openclaw_gateway.security.origin import (
    REASON_INVALID,
    REASON_NOT_ALLOWED,
    OriginPolicy,
    applies,
    check_browser_origin,
    evaluate,
    host_name,
    parse_origin,
)

NO_POLICY = OriginPolicy()


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "null",
        "file://",
        "file:///etc/passwd",
        "https://evil.example/path",
        "https://user:pw@evil.example",
        "https://evil.example?x=1",
        "evil.example",
        "https://",
        "https://evil.example:99999",
    ],
)
def test_unparseable_origins(raw: str | None) -> None:
    assert parse_origin(raw) is None
    check = check_browser_origin(raw, "127.0.0.1:18789", NO_POLICY, is_local_client=True)
    assert check == check_browser_origin(raw, None, NO_POLICY, is_local_client=False)
    assert not check.ok
    assert check.reason == REASON_INVALID


def test_parse_origin_normalizes() -> None:
    parsed = parse_origin("HTTPS://Example.COM:443/")
    assert parsed is not None
    assert parsed.origin == "https://example.com"
    assert parsed.host == "example.com"
    v6 = parse_origin("http://[::1]:5173")
    assert v6 is not None
    assert (v6.host, v6.hostname) == ("[::1]:5173", "::1")


def test_allowlist_exact_and_wildcard() -> None:
    policy = OriginPolicy(("https://UI.example.com",))
    assert check_browser_origin("https://ui.example.com", None, policy, is_local_client=False).ok
    assert not check_browser_origin(
        "https://ui.example.com:8443", None, policy, is_local_client=False
    ).ok
    assert check_browser_origin(
        "https://x.example", None, OriginPolicy(("*",)), is_local_client=False
    ).ok


def test_host_header_fallback_only_when_enabled() -> None:
    origin, host = "https://gw.example.com", "gw.example.com"
    assert not check_browser_origin(origin, host, NO_POLICY, is_local_client=False).ok
    check = check_browser_origin(
        origin, host, OriginPolicy(allow_host_header_fallback=True), is_local_client=False
    )
    assert check.matched_by == "host-header-fallback"


@pytest.mark.parametrize(
    ("origin", "host", "local", "ok"),
    [
        ("http://192.168.1.5:18789", "192.168.1.5:18789", False, True),
        ("http://gw.local:18789", "gw.local:18789", False, True),
        ("https://box.tail1234.ts.net", "box.tail1234.ts.net", False, True),
        ("http://8.8.8.8:18789", "8.8.8.8:18789", False, False),
        ("http://localhost:18789", "localhost:18789", True, True),
        # A loopback Host from a non-local client is not trusted same-origin.
        ("http://localhost:18789", "localhost:18789", False, False),
        ("http://192.168.1.5:18789", "192.168.1.6:18789", False, False),
        # The official private set (core/netaddr), not Python's is_private: a documentation
        # address is public, an IPv6 site-local one private.
        ("http://192.0.2.10:18789", "192.0.2.10:18789", False, False),
        ("http://[fec0::1]:18789", "[fec0::1]:18789", False, True),
        ("http://100.64.0.5:18789", "100.64.0.5:18789", False, True),
    ],
)
def test_private_same_origin(origin: str, host: str, local: bool, ok: bool) -> None:
    assert check_browser_origin(origin, host, NO_POLICY, is_local_client=local).ok is ok


def test_local_client_with_loopback_origin() -> None:
    for origin in ("http://localhost:5173", "http://127.0.0.1:9", "http://[::1]:1"):
        check = check_browser_origin(origin, "127.0.0.1:18789", NO_POLICY, is_local_client=True)
        assert check.ok, origin
    remote = check_browser_origin("http://localhost:5173", None, NO_POLICY, is_local_client=False)
    assert remote.reason == REASON_NOT_ALLOWED


def test_evil_origin_against_a_loopback_gateway() -> None:
    check = check_browser_origin(
        "https://evil.example", "127.0.0.1:18789", NO_POLICY, is_local_client=True
    )
    assert (check.ok, check.reason) == (False, REASON_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("client_id", "mode", "origin", "expected"),
    [
        ("cli", "cli", None, False),  # native client, no Origin: never blocked
        ("cli", "cli", "  ", False),
        ("cli", "cli", "https://evil.example", True),  # self-declared cli is still checked
        ("openclaw-control-ui", "ui", None, True),
        ("webchat-ui", "ui", None, True),
        ("anything", "webchat", None, True),
        ("openclaw-macos", "ui", None, False),
        ("openclaw-browser-copilot", "ui", "chrome-extension://" + "a" * 32, False),
        ("openclaw-browser-copilot", "ui", "https://evil.example", True),
    ],
)
def test_applies(client_id: str, mode: str, origin: str | None, expected: bool) -> None:
    assert applies(client_id, mode, origin) is expected


def test_evaluate_rejects_control_ui_without_origin() -> None:
    check = evaluate(
        "openclaw-control-ui", "ui", None, "127.0.0.1", NO_POLICY, is_local_client=True
    )
    assert (check.ok, check.reason) == (False, REASON_INVALID)
    assert evaluate("cli", "cli", None, None, NO_POLICY, is_local_client=False).ok


def test_host_name() -> None:
    assert host_name("[::1]:18789") == "::1"
    assert host_name("Example.com:80") == "example.com"
    assert host_name("::1") == "::1"
    assert host_name(None) == ""


def test_policy_from_config() -> None:
    from openclaw_gateway.core import config
    from openclaw_gateway.security.origin import policy_from_config

    loaded = config.structure(
        {
            "gateway": {
                "controlUi": {
                    "allowedOrigins": ["https://ui.example.com"],
                    "dangerouslyAllowHostHeaderOriginFallback": True,
                },
                "allowRealIpFallback": True,
            }
        }
    )
    assert policy_from_config(loaded.gateway.control_ui) == OriginPolicy(
        ("https://ui.example.com",), True
    )
    assert loaded.gateway.allow_real_ip_fallback is True
