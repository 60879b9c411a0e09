"""The reload rule table (official config-reload-plan), as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.server.reload_plan import diff_paths, plan, reload_settings


def cfg(**gateway: Any) -> dict[str, Any]:
    return {"gateway": {"mode": "local", "auth": {"mode": "token", "token": "a"}, **gateway}}


def test_diff_paths_recurses_objects_and_compares_the_rest_whole() -> None:
    prev = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    nxt = {"a": {"b": 2, "c": [1, 2], "e": None}, "f": {"g": 1}}
    assert diff_paths(prev, nxt) == ["a.b", "d", "f"]
    assert diff_paths({"x": 1}, {"x": True}) == ["x"]  # 1 == True, but not the same value


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"port": 1}, "restart"),
        ({"bind": "lan"}, "restart"),
        ({"tls": {"enabled": True}}, "restart"),
        ({"trustedProxies": ["10.0.0.1"]}, "hot"),
        ({"controlUi": {"allowedOrigins": ["https://x"]}}, "hot"),
        ({"controlUi": {"enabled": False}}, "restart"),
        ({"remote": {"url": "ws://x"}}, "none"),
        ({"reload": {"mode": "hot"}}, "none"),
    ],
)
def test_gateway_paths(change: dict[str, Any], kind: str) -> None:
    result = plan(cfg(), cfg(**change))
    assert getattr(result, kind) == result.changed, result


def test_token_rotation_is_hot_only_with_the_same_explicit_mode() -> None:
    rotated = cfg(auth={"mode": "token", "token": "b"})
    assert plan(cfg(), rotated).hot == ("gateway.auth.token",)
    mode_change = cfg(auth={"mode": "password", "password": "p"})
    assert "gateway.auth.mode" in plan(cfg(), mode_change).restart
    # A SecretRef with the mode left implicit: rotation restarts (official).
    ref = {"source": "env", "id": "T"}
    implicit = {"gateway": {"auth": {"token": ref}}}
    assert plan(implicit, {"gateway": {"auth": {"token": {**ref, "id": "U"}}}}).restart


def test_sections_this_gateway_never_reads_change_nothing() -> None:
    result = plan({"models": {"a": 1}}, {"models": {"a": 2}, "ui": {"x": 1}})
    assert result.none == ("models.a", "ui")
    live = plan({}, {"logging": {"level": "debug"}, "commands": {"restart": False}})
    assert live.hot == ("logging.level", "commands.restart")
    assert plan({"logging": {}}, {"logging": {"file": "/x"}}).restart == ("logging.file",)


def test_reload_settings_defaults() -> None:
    assert reload_settings({}) == ("hybrid", 300)
    assert reload_settings({"gateway": {"reload": {"mode": "off", "debounceMs": 50}}}) == (
        "off",
        50,
    )
    assert reload_settings({"gateway": {"reload": {"mode": "bogus", "debounceMs": -1}}}) == (
        "hybrid",
        300,
    )
