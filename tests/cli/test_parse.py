"""The cyclopts tree: root --dev/--profile vs `gateway run --dev`, flags, help text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.cli import app as app_mod
from openclaw_gateway.cli import params
from openclaw_gateway.cli.app import app, prepare


def parse(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """Run the real argv pipeline up to the bound command: (command, its args, the env)."""
    for key in [k for k in os.environ if k.startswith("OPENCLAW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    code, rest = prepare(argv)
    assert code is None
    env = dict(params.COMMAND_ENV)
    _, meta_bound, _ = app.meta.parse_args(rest, print_error=False, exit_on_error=False)
    tokens = list(meta_bound.arguments.get("tokens", ()))
    command, bound, _ = app.parse_args(tokens, print_error=False, exit_on_error=False)
    params.COMMAND_ENV.clear()
    return command, dict(bound.arguments), env


def test_root_dev_selects_the_dev_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    command, args, env = parse(["--dev", "gateway"], monkeypatch, tmp_path)
    assert command.__name__ == "_run"
    assert args == {}
    assert env["OPENCLAW_PROFILE"] == "dev"
    assert env["OPENCLAW_STATE_DIR"] == str(tmp_path / ".openclaw-dev")
    assert env["OPENCLAW_CONFIG_PATH"] == str(tmp_path / ".openclaw-dev" / "openclaw.json")
    assert env["OPENCLAW_GATEWAY_PORT"] == "19001"


@pytest.mark.parametrize(
    "argv",
    [["gateway", "--dev"], ["gateway", "run", "--dev"], ["gateway", "--port", "1", "--dev"]],
)
def test_dev_after_gateway_is_the_run_option(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    command, args, env = parse(argv, monkeypatch, tmp_path)
    assert command.__name__ == "_run"
    assert args["dev"] is True
    assert "OPENCLAW_PROFILE" not in env


def test_reset_and_run_flags_parse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, args, _ = parse(
        [
            "gateway",
            "run",
            "--dev",
            "--reset",
            "--port=19001",
            "--bind",
            "loopback",
            "--ws-log",
            "compact",
            "--raw-stream",
            "--ambient-channels",
            "--cli-backend-logs",
            "--allow-unconfigured",
            "--force",
            "--compact",
            "--verbose",
        ],
        monkeypatch,
        tmp_path,
    )
    assert args == {
        "dev": True,
        "reset": True,
        "port": "19001",
        "bind": "loopback",
        "ws_log": "compact",
        "raw_stream": True,
        "ambient_channels": True,
        "cli_backend_logs": True,
        "allow_unconfigured": True,
        "force": True,
        "compact": True,
        "verbose": True,
    }


def test_profile_anywhere_and_log_level(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, args, env = parse(
        ["gateway", "run", "--port", "5", "--profile", "work"], monkeypatch, tmp_path
    )
    assert args == {"port": "5"}
    assert env["OPENCLAW_STATE_DIR"] == str(tmp_path / ".openclaw-work")
    assert "OPENCLAW_GATEWAY_PORT" not in env
    _, meta_bound, _ = app.meta.parse_args(
        ["--log-level", "debug", "gateway", "--no-color"], print_error=False, exit_on_error=False
    )
    assert meta_bound.arguments["log_level"] == "debug"
    assert meta_bound.arguments["no_color"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dev", "--profile", "x", "gateway"], "[openclaw] Cannot combine --dev with --profile"),
        (
            ["--profile", "bad name", "gateway"],
            '[openclaw] Invalid --profile (use letters, numbers, "_", "-" only)',
        ),
    ],
)
def test_profile_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rest = prepare(argv)
    assert (code, rest) == (2, [])
    assert capsys.readouterr().err == message + "\n"


def test_meta_app_alone_still_honours_the_profile_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code = app.meta(["--dev", "--profile", "x", "gateway"], result_action="return_value")
    assert code == 2
    assert capsys.readouterr().err == "[openclaw] Cannot combine --dev with --profile\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["gateway", "health", "--bogus"],
            'OpenClaw does not recognize option "--bogus".\nTry: openclaw gateway health --help',
        ),
        (
            ["gateway", "status", "--timeout"],
            "OpenClaw could not parse this command: option '--timeout <timeout>' argument "
            "missing\nTry: openclaw gateway status --help",
        ),
        (
            ["gateway", "call"],
            'Missing required argument "method".\nTry: openclaw gateway call --help',
        ),
        (
            ["gateway", "call", "health", "extra"],
            "Too many arguments for this command.\nTry: openclaw gateway call --help",
        ),
        (
            ["gateway", "nosuch"],
            'OpenClaw gateway has no command "nosuch".\nTry: openclaw gateway --help\n'
            "Docs: https://docs.openclaw.ai/cli",
        ),
        (
            ["nosuch"],
            'OpenClaw does not know the command "nosuch".\nTry: openclaw --help\n'
            "Docs: https://docs.openclaw.ai/cli",
        ),
    ],
)
def test_usage_errors_use_the_official_wording_and_exit_1(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        app_mod.main(argv)
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", message + "\n")
