"""config.py: JSON5 loading, schema issues with key paths and line numbers, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core import secrets
from openclaw_gateway.core.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "openclaw.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_is_an_empty_valid_config(tmp_path: Path) -> None:
    loaded = cfg.load_snapshot(tmp_path / "nope.json")
    assert not loaded.exists
    assert loaded.valid
    assert loaded.config.gateway.mode is None


def test_json5_features_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "// comment\n{gateway: {mode: 'local', port: 19001,}, agents: {x: 1}, /* c */}\n",
    )
    loaded = cfg.load(path)
    assert loaded.valid
    assert loaded.config.gateway.mode == "local"
    assert loaded.config.gateway.port == 19001
    assert loaded.config.raw["agents"] == {"x": 1}


def test_unparseable_file_is_reported_not_raised(tmp_path: Path) -> None:
    loaded = cfg.load_snapshot(_write(tmp_path, "{gateway: {mode: local"))
    assert loaded.exists
    assert loaded.parse_error
    assert not loaded.valid
    assert loaded.config.gateway.mode is None
    assert cfg.load_snapshot(_write(tmp_path, "[1]")).parse_error


def test_schema_issues_name_the_key_path_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '{\n  // a comment\n  gateway: {\n    mode: "local",\n    port: "x",\n'
        "    auth: {mode: 3},\n  },\n}\n",
    )
    loaded = cfg.load_snapshot(path)
    assert loaded.issues == (
        "openclaw.json:5 — gateway.port: Invalid input: expected number, received string",
        "openclaw.json:6 — gateway.auth.mode: Invalid input: expected string, received number",
    )
    # The valid parts stay usable (the official run guard still sees mode=local).
    assert loaded.config.gateway.mode == "local"
    assert loaded.config.gateway.port is None
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    assert info.value.exit_code == 78
    assert str(info.value) == (
        f"Invalid config at {path}:\n"
        "openclaw.json:5 — gateway.port: Invalid input: expected number, received string\n"
        "openclaw.json:6 — gateway.auth.mode: Invalid input: expected string, received number\n"
        'Run "openclaw doctor --fix" to repair, then retry.\n'
        "If startup is still blocked, inspect the adjacent .bak backup before restoring it "
        "manually."
    )


def test_issue_line_follows_the_last_duplicate_key_and_nested_objects() -> None:
    raw = '{\n "gateway": {"port": 1},\n gateway: {\n  auth: {\n   token: 5 }}}'
    assert cfg.issue_line(raw, ("gateway", "auth", "token")) == 5
    assert cfg.issue_line(raw, ("gateway",)) == 3
    assert cfg.issue_line(raw, ("missing",)) is None
    assert cfg.issue_line("", ("gateway",)) is None


def test_wrong_section_type_and_bool_as_number(tmp_path: Path) -> None:
    loaded = cfg.load_snapshot(_write(tmp_path, "{logging: 5, gateway: {port: true}}"))
    assert set(loaded.issues) == {
        "openclaw.json:1 — logging: Invalid input: expected object, received number",
        "openclaw.json:1 — gateway.port: Invalid input: expected number, received boolean",
    }


def test_redact_replaces_every_secret_with_the_sentinel() -> None:
    data = {
        "gateway": {
            "auth": {"token": "s3cret", "password": {"source": "env", "id": "X"}, "mode": "token"},
            "remote": {"token": "", "url": "ws://x"},
        },
        "list": [{"apiKey": "k"}],
    }
    out = secrets.redact(data)
    assert out["gateway"]["auth"] == {
        "token": secrets.REDACTED,
        "password": secrets.REDACTED,
        "mode": "token",
    }
    assert out["gateway"]["remote"] == {"token": "", "url": "ws://x"}
    assert out["list"] == [{"apiKey": secrets.REDACTED}]
    assert "s3cret" not in repr(out)


def test_resolve_secret() -> None:
    assert secrets.resolve_secret("x", "gateway.auth.token", {}) == "x"
    assert secrets.resolve_secret(None, "gateway.auth.token", {}) is None
    ref = {"source": "env", "id": "MY_TOKEN"}
    assert secrets.resolve_secret(ref, "gateway.auth.token", {"MY_TOKEN": "t"}) == "t"
    with pytest.raises(ConfigError, match=r"gateway\.auth\.token is configured as a secret ref"):
        secrets.resolve_secret(ref, "gateway.auth.token", {})


def test_save_atomic_writes_pretty_private_json(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "openclaw.json"
    cfg.save_atomic(target, {"gateway": {"mode": "local"}})
    assert target.read_text() == '{\n  "gateway": {\n    "mode": "local"\n  }\n}\n'
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["openclaw.json"]
