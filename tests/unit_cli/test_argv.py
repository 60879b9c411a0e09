"""cli/argv.py: the root --dev/--profile scan (official parseCliProfileArgs)."""

from __future__ import annotations

import pytest

from openclaw_gateway.cli.argv import ArgumentError, scan_profile_args


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
