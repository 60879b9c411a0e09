"""cli/target.py's refusal of a gateway URL before connecting (the rule is cli/ws_url.py's).

Expected answers and text measured on the official 2026.9.6 (`gateway call health --url ...`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_gateway.cli.target import CliFailure, check_url_security

# Loopback spellings a one-shot command may reach over plaintext (also in test_ws_url.py).
LOOPBACK_URLS = [
    "ws://127.0.0.1:18789",
    "ws://127.8.9.10:18789",
    "ws://localhost:18789",
    "ws://LOCALHOST:18789",
    "ws://[::1]:18789",
    "ws://[::ffff:127.0.0.1]:18789",
    "wss://localhost/",
]


CONFIG = Path("/home/u/.openclaw/openclaw.json")


@pytest.mark.parametrize(
    "url",
    [*LOOPBACK_URLS, "ws://localhost.:18789", "ws://192.168.1.5:18789", "ws://box.ts.net:18789"],
)
def test_plaintext_to_loopback_or_private_hosts_is_allowed(url: str) -> None:
    check_url_security(url, "cli --url", {}, CONFIG)


def test_plaintext_to_a_public_address_is_refused_in_the_official_words() -> None:
    with pytest.raises(CliFailure) as refused:
        check_url_security("ws://8.8.8.8:18789", "cli --url", {}, CONFIG)
    assert refused.value.error_type == "cli_error"
    assert refused.value.message.splitlines() == [  # as 2026.9.6 prints it
        'SECURITY ERROR: Gateway URL "ws://8.8.8.8:18789" uses plaintext ws:// to a '
        "non-loopback address.",
        "Both credentials and chat data would be exposed to network interception.",
        "Source: cli --url",
        f"Config: {CONFIG}",
        "Fix: Use wss:// for remote gateway URLs.",
        "Safe remote access defaults:",
        "- keep gateway.bind=loopback and use an SSH tunnel (ssh -N -L 18789:127.0.0.1:18789 "
        "user@gateway-host)",
        "- or use Tailscale Serve/Funnel for HTTPS remote access",
        "Break-glass (trusted private networks only): set OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1",
        "Doctor: openclaw doctor --fix",
        "Docs: https://docs.openclaw.ai/gateway/remote",
    ]


def test_the_break_glass_admits_host_names_but_not_public_addresses() -> None:
    env = {"OPENCLAW_ALLOW_INSECURE_PRIVATE_WS": "1"}
    check_url_security("ws://gateway.example:18789", "env OPENCLAW_GATEWAY_URL", env, CONFIG)
    with pytest.raises(CliFailure) as refused:
        check_url_security("ws://8.8.8.8:18789", "env OPENCLAW_GATEWAY_URL", env, CONFIG)
    assert "Source: env OPENCLAW_GATEWAY_URL" in refused.value.message.splitlines()
    assert "Break-glass" not in refused.value.message  # already set: not offered again


@pytest.mark.parametrize("url", ["ws://[::1", "ws://256.0.0.1:18789"])
def test_an_unparsable_url_is_refused_not_raised(url: str) -> None:
    with pytest.raises(CliFailure) as refused:
        check_url_security(url, "cli --url", {}, CONFIG)
    assert refused.value.message.startswith(f'SECURITY ERROR: Gateway URL "{url}" uses')


def test_other_schemes_are_refused_first() -> None:
    with pytest.raises(CliFailure) as refused:
        check_url_security("ftp://127.0.0.1/", "cli --url", {}, CONFIG)
    assert refused.value.message == 'Invalid gateway URL "ftp://127.0.0.1/": use ws:// or wss://.'
