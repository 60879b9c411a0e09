"""paths.py: home/state/config resolution, profile env, port precedence (cli.md §0, §2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_gateway.core.errors import UsageError
from openclaw_gateway.core.paths import (
    DEFAULT_PORT,
    fnv1a32,
    home_dir,
    parse_env_port,
    parse_port,
    profile_env,
    profile_port,
    resolve_paths,
    resolve_port,
    shorten_home,
    user_path,
)


def test_home_prefers_openclaw_home_and_expands_tilde_against_the_os_home(
    tmp_path: Path,
) -> None:
    assert home_dir({"HOME": str(tmp_path)}) == tmp_path
    assert home_dir({"HOME": str(tmp_path), "OPENCLAW_HOME": "/srv/oc"}) == Path("/srv/oc")
    assert home_dir({"HOME": str(tmp_path), "OPENCLAW_HOME": "~/x"}) == tmp_path / "x"
    # "undefined"/"null"/blank count as unset, as in the official helper.
    assert home_dir({"HOME": str(tmp_path), "OPENCLAW_HOME": "undefined"}) == tmp_path


def test_user_path_is_trimmed_expanded_and_absolute(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert user_path(" ~/a/b ", env) == tmp_path / "a" / "b"
    assert user_path("rel", env).is_absolute()
    assert shorten_home(tmp_path / ".openclaw" / "openclaw.json", env) == (
        "~/.openclaw/openclaw.json"
    )
    assert shorten_home(Path("/elsewhere/x"), env) == "/elsewhere/x"


def test_default_state_and_config(tmp_path: Path) -> None:
    paths = resolve_paths({"HOME": str(tmp_path)})
    assert paths.state_dir == tmp_path / ".openclaw"
    assert paths.config_path == tmp_path / ".openclaw" / "openclaw.json"
    assert paths.profile is None


def test_state_dir_override_and_config_override(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "OPENCLAW_STATE_DIR": "~/state"}
    paths = resolve_paths(env)
    assert paths.state_dir == tmp_path / "state"
    assert paths.config_path == tmp_path / "state" / "openclaw.json"
    env["OPENCLAW_CONFIG_PATH"] = str(tmp_path / "c.json")
    assert resolve_paths(env).config_path == tmp_path / "c.json"


def test_legacy_state_dir_and_config_name_are_used_when_only_they_exist(tmp_path: Path) -> None:
    (tmp_path / ".clawdbot").mkdir()
    (tmp_path / ".clawdbot" / "clawdbot.json").write_text("{}")
    paths = resolve_paths({"HOME": str(tmp_path)})
    assert paths.state_dir == tmp_path / ".clawdbot"
    assert paths.config_path == tmp_path / ".clawdbot" / "clawdbot.json"
    (tmp_path / ".openclaw").mkdir()
    assert resolve_paths({"HOME": str(tmp_path)}).state_dir == tmp_path / ".openclaw"


def test_openclaw_profile_alone_does_not_move_the_state_dir(tmp_path: Path) -> None:
    """Only the root --profile option (through profile_env) selects ~/.openclaw-<name>."""
    paths = resolve_paths({"HOME": str(tmp_path), "OPENCLAW_PROFILE": "work"})
    assert paths.state_dir == tmp_path / ".openclaw"
    assert paths.profile == "work"


def test_root_dev_sets_the_dev_profile_and_port(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert profile_env(True, None, env) == {
        "OPENCLAW_PROFILE": "dev",
        "OPENCLAW_STATE_DIR": str(tmp_path / ".openclaw-dev"),
        "OPENCLAW_CONFIG_PATH": str(tmp_path / ".openclaw-dev" / "openclaw.json"),
        "OPENCLAW_GATEWAY_PORT": "19001",
    }
    # An explicit port wins over the dev default.
    assert "OPENCLAW_GATEWAY_PORT" not in profile_env(
        True, None, {**env, "OPENCLAW_GATEWAY_PORT": "19555"}
    )


def test_named_profile_and_default_profile(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    out = profile_env(False, "work", env)
    assert out["OPENCLAW_STATE_DIR"] == str(tmp_path / ".openclaw-work")
    assert "OPENCLAW_GATEWAY_PORT" not in out
    assert profile_env(False, "default", env)["OPENCLAW_STATE_DIR"] == str(tmp_path / ".openclaw")


def test_profile_keeps_an_explicit_state_dir_but_replaces_the_inherited_default(
    tmp_path: Path,
) -> None:
    custom = {"HOME": str(tmp_path), "OPENCLAW_STATE_DIR": str(tmp_path / "mine")}
    out = profile_env(False, "work", custom)
    assert "OPENCLAW_STATE_DIR" not in out
    assert out["OPENCLAW_CONFIG_PATH"] == str(tmp_path / "mine" / "openclaw.json")
    inherited = {
        "HOME": str(tmp_path),
        "OPENCLAW_STATE_DIR": str(tmp_path / ".openclaw"),
        "OPENCLAW_CONFIG_PATH": str(tmp_path / ".openclaw" / "openclaw.json"),
    }
    out = profile_env(False, "work", inherited)
    assert out["OPENCLAW_STATE_DIR"] == str(tmp_path / ".openclaw-work")
    assert out["OPENCLAW_CONFIG_PATH"] == str(tmp_path / ".openclaw-work" / "openclaw.json")


@pytest.mark.parametrize("name", ["-x", "_x", "a b", "a/b", "x" * 65, "é"])
def test_invalid_profile_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=r'Invalid --profile \(use letters, numbers, "_", "-"'):
        profile_env(False, name, {"HOME": str(tmp_path)})


def test_dev_with_another_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^Cannot combine --dev with --profile$"):
        profile_env(True, "work", {"HOME": str(tmp_path)})


def test_profile_port_hash() -> None:
    assert fnv1a32(b"") == 0x811C9DC5
    assert profile_port("work") == 41984  # observed with the official CLI
    assert profile_port("dev") == 20000 + fnv1a32(b"dev") % 40000
    for unnamed in (None, "", "default", "DEFAULT", "-bad"):
        assert profile_port(unnamed) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("18789", 18789),
        (" 80 ", 80),
        ("+80", 80),
        ("1", 1),
        ("65535", 65535),
        ("0", None),
        ("65536", None),
        ("-1", None),
        ("abc", None),
        ("80.5", None),
        ("²", None),
        ("", None),
        (8080, 8080),
        (True, None),
        (70000, None),
    ],
)
def test_parse_port(raw: object, expected: int | None) -> None:
    assert parse_port(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("19001", 19001),
        ("127.0.0.1:19002", 19002),
        ("[::1]:19003", 19003),
        ("host:19004", 19004),
        ("a:b:19005", None),
        (":19006", None),
        ("host:x", None),
        ("99999", None),
        ("  ", None),
        (None, None),
    ],
)
def test_env_port_forms(raw: str | None, expected: int | None) -> None:
    assert parse_env_port(raw) == expected


def test_port_precedence() -> None:
    env = {"OPENCLAW_GATEWAY_PORT": "127.0.0.1:19100"}
    assert resolve_port("19200", env, 19300, "work") == 19200
    assert resolve_port(None, env, 19300, "work") == 19100
    assert resolve_port(None, {}, 19300, "work") == 19300
    assert resolve_port(None, {}, None, "work") == 41984
    assert resolve_port(None, {}, None, None) == DEFAULT_PORT
    # A bad env value is ignored, as the official resolver does.
    assert resolve_port(None, {"OPENCLAW_GATEWAY_PORT": "nope"}, 19300, None) == 19300
    # Non-positive config ports fall through; too-big ones are the caller's exit 78.
    assert resolve_port(None, {}, 0, None) == DEFAULT_PORT
    assert resolve_port(None, {}, 70000, None) == 70000


def test_invalid_cli_port_message() -> None:
    with pytest.raises(UsageError) as info:
        resolve_port("abc", {}, None, None)
    assert str(info.value) == (
        "Invalid --port. Use a port number from 1 to 65535, for example 18789."
    )
    assert info.value.exit_code == 1
