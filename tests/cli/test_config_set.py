"""`openclaw config set`: typed values, secrets kept as strings and never echoed, bad values
change nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from openclaw_gateway.cli.config_cmd import config_set_command


def _env(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def test_sets_typed_values_and_keeps_unknown_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / ".openclaw"
    state.mkdir()
    (state / "openclaw.json").write_text('{agents: {x: 1}, gateway: {mode: "local"}}')
    assert config_set_command("gateway.port", "19582", _env(tmp_path)) == 0
    assert (
        config_set_command(
            "gateway.controlUi.allowedOrigins", '["https://a.example"]', _env(tmp_path)
        )
        == 0
    )
    data = json.loads((state / "openclaw.json").read_text())
    assert data == {
        "agents": {"x": 1},
        "gateway": {
            "mode": "local",
            "port": 19582,
            "controlUi": {"allowedOrigins": ["https://a.example"]},
        },
    }
    assert stat.S_IMODE((state / "openclaw.json").stat().st_mode) == 0o600


def test_secret_is_stored_as_string_and_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert config_set_command("gateway.auth.token", "123456789012345678901234", _env(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "123456789012345678901234" not in out
    assert "__OPENCLAW_REDACTED__" in out
    data = json.loads((tmp_path / ".openclaw" / "openclaw.json").read_text())
    assert data["gateway"]["auth"]["token"] == "123456789012345678901234"


def test_invalid_value_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / ".openclaw"
    state.mkdir()
    original = '{gateway: {mode: "local", port: 18789}}'
    (state / "openclaw.json").write_text(original)
    assert config_set_command("gateway.port", '"abc"', _env(tmp_path)) == 78
    assert "gateway.port: Invalid input: expected number, received string" in (
        capsys.readouterr().err
    )
    assert (state / "openclaw.json").read_text() == original
    assert config_set_command("gateway.mode.x", "1", _env(tmp_path)) == 1
    assert (state / "openclaw.json").read_text() == original
