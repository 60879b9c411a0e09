"""Who may touch the service, and how refusals and results look (cli.md §1.8)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_gateway.cli.service_cmd import run_service_command
from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.detached import DetachedService
from openclaw_gateway.host.service.manager import Context
from openclaw_gateway.host.service.results import ActionResult, ServiceError, failure
from tests.host.service.conftest import write_config
from tests.host.service.test_systemd_unit import FakeSystemctl

NON_DEFAULT = (
    "service management skipped: non-default state dir or config path. Rerun with HOME set to "
    "the OS account home, without OPENCLAW_HOME, and with OPENCLAW_STATE_DIR and "
    "OPENCLAW_CONFIG_PATH either unset or pointing at the canonical paths for that account "
    "home and profile to {action}."
)


def test_unit_names_and_labels() -> None:
    assert identity.systemd_unit_name({}) == "openclaw-gateway.service"
    assert identity.systemd_unit_name({"OPENCLAW_PROFILE": "default"}) == "openclaw-gateway.service"
    assert (
        identity.systemd_unit_name({"OPENCLAW_PROFILE": "work"}) == "openclaw-gateway-work.service"
    )
    assert identity.systemd_unit_name({"OPENCLAW_SYSTEMD_UNIT": "gw"}) == "gw.service"
    assert identity.launchd_label({}) == "ai.openclaw.gateway"
    assert identity.launchd_label({"OPENCLAW_PROFILE": "dev"}) == "ai.openclaw.dev"


def test_mutation_guard(tmp_path: Path) -> None:
    home = tmp_path / "account"
    ok = {"HOME": str(home)}
    action = "start the gateway"
    assert identity.mutation_error(action, ok, home=home) is None
    message = NON_DEFAULT.format(action=action)
    assert identity.mutation_error(action, {"HOME": str(tmp_path)}, home=home) == message
    assert identity.mutation_error(action, {**ok, "OPENCLAW_HOME": str(home)}, home=home) == message
    other_state = {**ok, "OPENCLAW_STATE_DIR": str(tmp_path / "elsewhere")}
    assert identity.mutation_error(action, other_state, home=home) == message
    canonical = {**ok, "OPENCLAW_STATE_DIR": str(home / ".openclaw")}
    assert identity.mutation_error(action, canonical, home=home) is None
    profile = {
        **ok,
        "OPENCLAW_PROFILE": "work",
        "OPENCLAW_STATE_DIR": str(home / ".openclaw-work"),
        "OPENCLAW_CONFIG_PATH": str(home / ".openclaw-work" / "openclaw.json"),
    }
    assert identity.mutation_error(action, profile, home=home) is None
    conflict = identity.mutation_error(
        action, {**profile, "OPENCLAW_SYSTEMD_UNIT": "mine.service"}, home=home, platform="linux"
    )
    assert conflict is not None and conflict.startswith(
        "service management skipped: named profiles cannot override OPENCLAW_SYSTEMD_UNIT for "
        "Linux service management."
    )
    external = identity.mutation_error(action, {**ok, "OPENCLAW_SUPERVISOR_MODE": "external"})
    assert external == (
        "OpenClaw gateway lifecycle is managed by an external supervisor "
        "(OPENCLAW_SUPERVISOR_MODE=external). Use that supervisor to start the gateway."
    )


def _systemd_ctx(tmp_path: Path, env: dict[str, str], fake: FakeSystemctl) -> Context:
    booted = tmp_path / "booted"
    booted.mkdir(exist_ok=True)
    return Context(
        env=env,
        platform="linux",
        home=tmp_path / "account",
        sd_booted_marker=booted,
        runner=fake,
        python=sys.executable,
    )


def _run(action: str, ctx: Context, **opts: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_service_command(action, opts, ctx.env, out, err, ctx=ctx)
    return code, out.getvalue(), err.getvalue()


def test_guard_refusals_print_the_official_shapes(tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-the-account-home"
    write_config(elsewhere, 18789)
    fake = FakeSystemctl()
    ctx = _systemd_ctx(tmp_path, {"HOME": str(elsewhere), "PATH": "/usr/bin:/bin"}, fake)

    code, out, err = _run("install", ctx, json=True)
    body = json.loads(out)
    assert code == 1
    assert body == {
        "action": "install",
        "ok": False,
        "error": "Gateway install blocked: Error: "
        + NON_DEFAULT.format(action="install or rewrite the gateway service"),
    }

    code, out, err = _run("start", ctx)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "[openclaw] The CLI command failed.",
        "[openclaw] Reason: " + NON_DEFAULT.format(action="start the gateway"),
        "[openclaw] Debug: set OPENCLAW_DEBUG=1 to include the stack trace.",
        "[openclaw] Try: openclaw doctor",
        "[openclaw] Help: openclaw --help",
    ]
    code, out, _ = _run("uninstall", ctx, json=True)
    assert code == 1
    assert json.loads(out) == {
        "ok": False,
        "error": {
            "type": "cli_error",
            "message": NON_DEFAULT.format(action="uninstall the gateway service"),
        },
    }
    code, out, _ = _run("restart", ctx, json=True)
    assert code == 1
    assert json.loads(out)["error"] == "Gateway restart failed: Error: " + NON_DEFAULT.format(
        action="restart the gateway"
    )
    # Refused before anything was asked of systemd or written.
    assert not any(c[2] in ("enable", "start", "stop", "restart", "disable") for c in fake.calls)
    assert not (elsewhere / ".config").exists()


def test_external_supervisor_refuses(tmp_path: Path) -> None:
    write_config(tmp_path / "account", 18789)
    env = {"HOME": str(tmp_path / "account"), "OPENCLAW_SUPERVISOR_MODE": "external"}
    for ctx in (
        _systemd_ctx(tmp_path, env, FakeSystemctl()),
        Context(env=env, platform="linux", sd_booted_marker=tmp_path / "no-systemd"),
    ):
        code, _, err = _run("start", ctx)
        assert code == 1
        assert "managed by an external supervisor (OPENCLAW_SUPERVISOR_MODE=external)" in err
        code, out, _ = _run("stop", ctx, force=True, json=True)
        assert code == 1 and "Use that supervisor to stop the gateway." in out


def test_start_without_a_service_prints_install_hints(tmp_path: Path) -> None:
    home = tmp_path / "account"
    write_config(home, 18789)
    ctx = _systemd_ctx(tmp_path, {"HOME": str(home)}, FakeSystemctl())
    code, out, err = _run("start", ctx)
    assert code == 1
    assert err == "Gateway service disabled.\n"
    assert out.splitlines() == [
        "Tip: openclaw gateway install",
        "Tip: openclaw gateway start",
        "Tip: systemctl --user start openclaw-gateway.service",
    ]
    code, out, _ = _run("start", ctx, json=True)
    body = json.loads(out)
    assert body["hintItems"][0] == {"kind": "install", "text": "openclaw gateway install"}

    # Stopping what is not installed is a successful no-op.
    code, out, _ = _run("stop", ctx, force=True, json=True)
    assert code == 0
    assert json.loads(out) == {
        "action": "stop",
        "ok": True,
        "result": "not-loaded",
        "message": "Gateway service disabled.",
        "service": {
            "label": "systemd",
            "loaded": False,
            "loadedText": "enabled",
            "notLoadedText": "disabled",
        },
    }


def test_stop_needs_force_when_not_interactive(tmp_path: Path) -> None:
    ctx = Context(env={"HOME": str(tmp_path)}, platform="linux", sd_booted_marker=tmp_path / "x")
    code, out, _ = _run("stop", ctx, json=True)
    assert code == 1
    assert json.loads(out)["error"].startswith("This stops the operator's running gateway service.")


def test_still_starting_exits_2(tmp_path: Path) -> None:
    """A child that runs but never answers health: result still-starting, exit code 2."""
    service = DetachedService(tmp_path, {"PATH": "/usr/bin:/bin"}, ("sleep", "30"))
    proc, _ = service.spawn(18789)
    try:
        with pytest.raises(ServiceError) as caught:
            service.wait_ready(proc, lambda: False, timeout=0.3)
        result = failure("start", caught.value)
        assert (result.result, result.exit_code) == ("still-starting", 2)
        assert result.to_json()["result"] == "still-starting"
    finally:
        proc.kill()
        proc.wait()
    assert ActionResult("start", True, result="started").exit_code == 0


def test_restart_flag_conflicts() -> None:
    for argv, message in (
        (["gateway", "restart", "--skip-deferral"], "--skip-deferral requires --safe"),
        (
            ["gateway", "restart", "--force", "--wait", "5s"],
            "--force cannot be combined with --wait",
        ),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "openclaw_gateway", *argv],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 1
        assert message in done.stderr
