"""Routing rules, pure (official buildAgentPeerSessionKey and binding precedence), and a bad
`bindings` config refused by a real `gateway run` with its key path (exit 78)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_gateway.core.config import validate
from openclaw_gateway.server.channels.contract import ContractError, Inbound, parse_inbound
from openclaw_gateway.server.channels.routing import Router
from tests.cli.support import base_env, cli, free_port, write_config


def _msg(kind: str = "direct", peer: str = "Alice", account: str | None = None) -> Inbound:
    payload: dict[str, object] = {
        "channel": "Chat",
        "peer": {"kind": kind, "id": peer},
        "text": "hi",
    }
    if account is not None:
        payload["accountId"] = account
    return parse_inbound(payload)


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        ("main", "agent:main:main"),
        ("per-peer", "agent:main:direct:alice"),
        ("per-channel-peer", "agent:main:chat:direct:alice"),
        ("per-account-channel-peer", "agent:main:chat:work:direct:alice"),
    ],
)
def test_dm_scopes(scope: str, key: str) -> None:
    router = Router.from_config({"session": {"dmScope": scope}})
    assert str(router.route(_msg(account="Work"), "main").session_key) == key


def test_groups_and_channels_get_their_own_keys_whatever_the_dm_scope() -> None:
    router = Router()
    assert str(router.route(_msg("group", "G1"), "main").session_key) == "agent:main:chat:group:g1"
    assert (
        str(router.route(_msg("channel", "C"), "main").session_key) == "agent:main:chat:channel:c"
    )


def test_binding_precedence_peer_then_account_then_any_account() -> None:
    router = Router.from_config(
        {
            "bindings": [
                {"agentId": "any", "match": {"channel": "chat", "accountId": "*"}},
                {"agentId": "acct", "match": {"channel": "chat"}},
                {
                    "agentId": "peer",
                    "match": {"channel": "chat", "peer": {"kind": "direct", "id": "Alice"}},
                },
            ]
        }
    )
    assert router.route(_msg(), "main").agent_id == "peer"
    assert router.route(_msg(peer="bob"), "main").agent_id == "acct"
    # An omitted accountId matches only the default account; "*" matches the rest.
    assert router.route(_msg(peer="bob", account="work"), "main").agent_id == "any"
    assert Router().route(_msg(), "fallback").agent_id == "fallback"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"peer": {"kind": "direct", "id": "a"}, "text": "x"}, "channel must be"),
        ({"channel": "c", "peer": {"kind": "dm", "id": "a"}, "text": "x"}, "peer.kind must be"),
        ({"channel": "c", "peer": {"kind": "direct", "id": "a"}, "text": " "}, "text must be"),
        ({"channel": "c", "text": "x"}, "peer must be"),
    ],
)
def test_bad_inbound_messages_are_refused(payload: dict[str, object], why: str) -> None:
    with pytest.raises(ContractError, match=why):
        parse_inbound(payload)


def test_bad_bindings_are_config_issues_with_their_key_path() -> None:
    _config, issues = validate(
        {
            "bindings": [
                {"agentId": "x", "match": {"channel": "chat", "peer": {"kind": "dm", "id": "a"}}},
                {"match": {"channel": ""}},
            ],
            "session": {"dmScope": "per-room"},
        }
    )
    assert [i.path for i in issues] == [
        "bindings.0.match.peer.kind",
        "bindings.1.agentId",
        "bindings.1.match.channel",
        "session.dmScope",
    ]


def test_gateway_run_refuses_bad_bindings_with_exit_78(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_config(
        home,
        {"gateway": {"mode": "local"}, "bindings": [{"agentId": "ops", "match": {"peer": 1}}]},
    )
    r = cli(base_env(home), "gateway", "run", "--bind", "loopback", "--port", str(free_port()))
    assert r.returncode == 78, r.stderr
    assert "bindings.0.match.channel: Invalid input: expected non-empty string" in r.stderr
    assert "bindings.0.match.peer: Invalid input: expected object" in r.stderr
