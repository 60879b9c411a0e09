"""cli/argv.py: the root --dev/--profile scan (official parseCliProfileArgs)."""

from __future__ import annotations

import pytest

from openclaw_gateway.cli.argv import ArgumentError, hoist_parent_options, scan_profile_args


@pytest.mark.parametrize(
    ("argv", "profile", "rest"),
    [
        (["--dev", "gateway"], "dev", ["gateway"]),
        (["gateway", "--dev"], None, ["gateway", "--dev"]),
        (["gateway", "run", "--dev", "--reset"], None, ["gateway", "run", "--dev", "--reset"]),
        (
            ["--log-level", "debug", "gateway", "--dev"],
            None,
            ["--log-level", "debug", "gateway", "--dev"],
        ),
        (["--profile", "work", "gateway"], "work", ["gateway"]),
        (["--profile=work", "gateway"], "work", ["gateway"]),
        (
            ["gateway", "run", "--port", "5", "--profile", "w"],
            "w",
            ["gateway", "run", "--port", "5"],
        ),
        (["config", "get", "gateway", "--dev"], "dev", ["config", "get", "gateway"]),
        (["--profile", "dev", "--dev", "gateway"], "dev", ["gateway"]),
        (["gateway", "--dev", "--profile", "x"], "x", ["gateway", "--dev"]),
        (["gateway", "--", "--profile", "x"], None, ["gateway", "--", "--profile", "x"]),
    ],
)
def test_scan(argv: list[str], profile: str | None, rest: list[str]) -> None:
    scanned = scan_profile_args(argv)
    assert scanned.profile == profile
    assert list(scanned.argv) == rest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dev", "--profile", "x", "gateway"], "Cannot combine --dev with --profile"),
        (["--profile", "x", "--dev", "gateway"], "Cannot combine --dev with --profile"),
        (["--profile"], "--profile requires a value"),
        (["--profile", "-x", "gateway"], "--profile requires a value"),
        (["--profile=", "gateway"], "--profile requires a value"),
        (
            ["--profile", "a b", "gateway"],
            'Invalid --profile (use letters, numbers, "_", "-" only)',
        ),
    ],
)
def test_scan_errors_exit_2(argv: list[str], message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        scan_profile_args(argv)
    assert str(info.value) == message
    assert info.value.exit_code == 2


PARENT = {"--port": True, "--token": True, "--bind": True, "--force": False, "--dev": False}
SUBS = {
    "status": {"--port": True, "--token": True, "--json": False, "--no-probe": False},
    "call": {"--port": True, "--token": True, "--params": True, "--json": False},
    "stop": {"--force": False, "--json": False},
}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # Options written before the subcommand reach it (commander's parent options).
        (
            ["gateway", "--port", "19001", "status", "--json"],
            ["gateway", "status", "--port", "19001", "--json"],
        ),
        (["gateway", "--port=19001", "status"], ["gateway", "status", "--port=19001"]),
        (
            ["--log-level", "debug", "gateway", "--token", "t", "call", "health"],
            ["--log-level", "debug", "gateway", "call", "--token", "t", "health"],
        ),
        (["gateway", "--force", "stop"], ["gateway", "stop", "--force"]),
        (["gateway", "--json", "status"], ["gateway", "status", "--json"]),
        # A run option the subcommand does not take is ignored there, as by the official.
        (["gateway", "--bind", "lan", "status"], ["gateway", "status"]),
        # Unknown everywhere: left where it was, for the parser to report.
        (["gateway", "--bogus", "status"], ["gateway", "--bogus", "status"]),
        # Nothing to do: plain run options, or nothing before the subcommand.
        (["gateway", "--port", "19001"], ["gateway", "--port", "19001"]),
        (["gateway", "status", "--port", "1"], ["gateway", "status", "--port", "1"]),
        (["config", "--port", "1", "status"], ["config", "--port", "1", "status"]),
    ],
)
def test_parent_options_move_behind_the_subcommand(argv: list[str], expected: list[str]) -> None:
    assert list(hoist_parent_options(tuple(argv), PARENT, SUBS)) == expected
