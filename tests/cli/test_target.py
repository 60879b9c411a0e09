"""The loopback questions a one-shot command asks about its gateway URL (cli/target.py).

Expected answers measured on the official 2026.9.6 (isLoopbackGatewayUrl for the URL,
isLoopbackHost inside isSecureWebSocketUrl for the ws:// refusal).
"""

from __future__ import annotations

import pytest

from openclaw_gateway.cli.target import CliFailure, check_url_security, is_loopback_url

LOOPBACK_URLS = [
    "ws://127.0.0.1:18789",
    "ws://127.8.9.10:18789",
    "ws://localhost:18789",
    "ws://LOCALHOST:18789",
    "ws://[::1]:18789",
    "ws://[::ffff:127.0.0.1]:18789",
    "wss://localhost/",
]


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_loopback_urls(url: str) -> None:
    assert is_loopback_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ws://localhost.:18789",  # a URL host keeps its dot; the official compares exactly
        "ws://192.168.1.5:18789",
        "ws://0.0.0.0:18789",
        "ws://[::]:18789",
        "ws://example.com:18789",
        "ws://[::1:18789",  # unparsable
        "",
    ],
)
def test_not_loopback_urls(url: str) -> None:
    assert not is_loopback_url(url)


@pytest.mark.parametrize("url", [*LOOPBACK_URLS, "ws://localhost.:18789"])
def test_plaintext_to_any_loopback_spelling_is_allowed(url: str) -> None:
    check_url_security(url, "cli --url", {})


def test_plaintext_to_a_public_address_is_refused() -> None:
    with pytest.raises(CliFailure) as refused:
        check_url_security("ws://8.8.8.8:18789", "cli --url", {})
    assert refused.value.error_type == "cli_error"
    assert refused.value.message.startswith(
        'SECURITY ERROR: Gateway URL "ws://8.8.8.8:18789" uses plaintext ws:// to a '
        "non-loopback address.\n"
    )
