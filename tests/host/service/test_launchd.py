"""launchd: the plist (plistlib round trip, keys and types) and the launchctl sequences.

There is no launchd on Linux, so `launchctl` is a recording fake on PATH (a real executable
the driver really runs): it logs its argv, keeps a "loaded" marker per label, and parses the
plist it is asked to bootstrap. The platform is chosen through Context(platform="darwin").
"""

from __future__ import annotations

import json
import os
import plistlib
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.host.service import actions
from openclaw_gateway.host.service.launchd import (
    PlistSpec,
    build_plist,
    parse_print,
    render_env_file,
    render_plist,
)
from openclaw_gateway.host.service.manager import Context, inspect
from tests.host.service.conftest import TOKEN, write_config

FAKE_LAUNCHCTL = r"""#!{python}
import json, os, plistlib, sys
args = sys.argv[1:]
state = os.environ["FAKE_LAUNCHCTL_STATE"]
with open(os.path.join(state, "argv.jsonl"), "a") as fh:
    fh.write(json.dumps(args) + "\n")
def marker(target):
    return os.path.join(state, target.replace("/", "_") + ".loaded")
verb = args[0]
if verb == "print":
    if os.path.exists(marker(args[1])):
        print("{{\n\tstate = running\n\tpid = 4242\n\tlast exit code = 0\n}}")
        sys.exit(0)
    print("Could not find service", file=sys.stderr)
    sys.exit(113)
if verb == "bootstrap":
    with open(args[2], "rb") as fh:
        label = plistlib.load(fh)["Label"]
    open(marker(args[1] + "/" + label), "w").close()
    sys.exit(0)
if verb == "bootout":
    if not os.path.exists(marker(args[1])):
        sys.exit(3)
    os.unlink(marker(args[1]))
    sys.exit(0)
sys.exit(0)
"""


@pytest.fixture
def mac(tmp_path: Path) -> tuple[Context, Path]:
    bin_dir, state = tmp_path / "bin", tmp_path / "fake-state"
    bin_dir.mkdir()
    state.mkdir()
    fake = bin_dir / "launchctl"
    fake.write_text(FAKE_LAUNCHCTL.format(python=sys.executable))
    fake.chmod(0o755)
    home = tmp_path / "home"
    write_config(home, 18789)
    env = {
        "HOME": str(home),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_LAUNCHCTL_STATE": str(state),
        "OPENCLAW_GATEWAY_TOKEN": TOKEN,
    }
    return Context(env=env, platform="darwin", home=home, python=sys.executable), state


def _argv(state: Path) -> list[list[str]]:
    path = state / "argv.jsonl"
    calls = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    return calls


def _spec(tmp_path: Path) -> PlistSpec:
    return PlistSpec(
        "ai.openclaw.gateway",
        (sys.executable, "-m", "openclaw_gateway", "gateway", "--port", "18789"),
        tmp_path / "gateway.launchd.env",
        tmp_path / "gateway.log",
        tmp_path / "gateway.err.log",
        (("HOME", "/Users/alice"), ("OPENCLAW_GATEWAY_PORT", "18789"), ("EMPTY", " ")),
    )


def test_plist_round_trips_with_the_official_keys(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    data = build_plist(spec)
    xml = render_plist(spec)
    assert b'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"' in xml
    assert plistlib.loads(xml) == data
    assert plistlib.loads(plistlib.dumps(data, fmt=plistlib.FMT_BINARY)) == data
    types: dict[str, Any] = {
        "Label": str,
        "ProgramArguments": list,
        "RunAtLoad": bool,
        "KeepAlive": bool,
        "ExitTimeOut": int,
        "ProcessType": str,
        "ThrottleInterval": int,
        "Umask": int,
        "StandardInPath": str,
        "StandardOutPath": str,
        "StandardErrorPath": str,
        "EnvironmentVariables": dict,
    }
    assert {k: type(v) for k, v in data.items()} == types
    assert all(isinstance(a, str) for a in data["ProgramArguments"])
    assert all(isinstance(v, str) for v in data["EnvironmentVariables"].values())
    assert (data["RunAtLoad"], data["KeepAlive"], data["ExitTimeOut"]) == (True, True, 20)
    assert (data["ThrottleInterval"], data["Umask"], data["ProcessType"]) == (10, 63, "Interactive")
    assert data["StandardInPath"] == "/dev/null"
    # /bin/sh sources the env file, then execs the gateway with the exact argv.
    assert data["ProgramArguments"][:2] == ["/bin/sh", "-c"]
    assert data["ProgramArguments"][3:] == [
        "ai.openclaw.gateway",
        str(spec.env_file),
        *spec.program,
    ]
    assert "EMPTY" not in data["EnvironmentVariables"]


def test_env_file_is_sourced_by_the_wrapper(tmp_path: Path) -> None:
    """The wrapper really runs under /bin/sh: the secret arrives, quoting and all."""
    import subprocess

    secret = 'it\'s a $ecret `x` "y"'
    env_file = tmp_path / "gateway.launchd.env"
    env_file.write_text(render_env_file({"OPENCLAW_GATEWAY_TOKEN": secret}))
    argv = build_plist(_spec(tmp_path))["ProgramArguments"][:5]
    argv[4] = str(env_file)
    done = subprocess.run(
        [*argv, sys.executable, "-c", "import os; print(os.environ['OPENCLAW_GATEWAY_TOKEN'])"],
        capture_output=True,
        text=True,
        timeout=10,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert done.stdout == secret + "\n"


def test_malformed_plist_is_rejected() -> None:
    with pytest.raises(Exception, match=r"(?i)missing value|expat|parse|unexpected"):
        plistlib.loads(b"<?xml version='1.0'?><plist><dict><key>Label</key></dict></plist>")


def test_install_start_stop_restart_uninstall_sequences(mac: tuple[Context, Path]) -> None:
    ctx, state = mac
    uid = os.getuid()
    target = f"gui/{uid}/ai.openclaw.gateway"
    plist = Path(ctx.env["HOME"]) / "Library" / "LaunchAgents" / "ai.openclaw.gateway.plist"

    result = actions.install(ctx, actions.InstallOptions())
    assert result.ok, result.error
    assert result.result == "installed"
    assert _argv(state) == [
        ["print", target],
        ["print", target],
        ["enable", target],
        ["bootstrap", f"gui/{uid}", str(plist)],
        ["print", target],
    ]
    data = plistlib.loads(plist.read_bytes())
    assert data["Label"] == "ai.openclaw.gateway"
    assert data["ProgramArguments"][-5:] == ["-m", "openclaw_gateway", "gateway", "--port", "18789"]
    logs = Path(ctx.env["HOME"]) / "Library" / "Logs" / "openclaw"
    assert data["StandardOutPath"] == str(logs / "gateway.log")
    assert data["StandardErrorPath"] == str(logs / "gateway.err.log")
    assert data["EnvironmentVariables"]["OPENCLAW_LAUNCHD_LABEL"] == "ai.openclaw.gateway"
    # The token is only in the 0600 env file.
    assert TOKEN not in plist.read_text()
    env_file = Path(ctx.env["HOME"]) / ".openclaw" / "gateway.launchd.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert TOKEN in env_file.read_text()

    inspection = inspect(ctx)
    assert (inspection.manager, inspection.installed, inspection.enabled) == ("launchd", True, True)
    assert (inspection.pid, inspection.service_port, inspection.port_matches) == (4242, 18789, True)

    running = actions.start(ctx, lambda _port: True)
    assert (running.result, running.message) == (
        "already-running",
        "Gateway service already running (pid 4242).",
    )
    _argv(state)

    restarted = actions.restart(ctx, lambda _port: True)
    assert restarted.ok and restarted.result == "restarted"
    assert _argv(state) == [["kickstart", "-k", target]]

    stopped = actions.stop(ctx, force=True, interactive=False, disable=True)
    assert stopped.ok and stopped.result == "stopped"
    assert _argv(state) == [
        ["print", target],
        ["disable", target],
        ["print", target],
        ["bootout", target],
        ["print", target],
    ]

    started = actions.start(ctx, lambda _port: True)
    assert started.ok and started.result == "started"
    assert _argv(state) == [
        ["print", target],
        ["enable", target],
        ["bootstrap", f"gui/{uid}", str(plist)],
    ]

    removed = actions.uninstall(ctx)
    assert removed.ok and removed.result == "uninstalled"
    assert _argv(state) == [["print", target], ["bootout", target]]
    assert not plist.exists() and not env_file.exists()


def test_profile_label_and_log_paths(mac: tuple[Context, Path]) -> None:
    ctx, state = mac
    home = Path(ctx.env["HOME"])
    env = {
        **ctx.env,
        "OPENCLAW_PROFILE": "work",
        "OPENCLAW_STATE_DIR": str(home / ".openclaw-work"),
    }
    work = Context(env=env, platform="darwin", home=home, python=sys.executable)
    result = actions.install(work, actions.InstallOptions(port="20001"))
    assert result.ok, result.error
    plist = home / "Library" / "LaunchAgents" / "ai.openclaw.work.plist"
    data = plistlib.loads(plist.read_bytes())
    assert data["Label"] == "ai.openclaw.work"
    assert data["StandardOutPath"].endswith("Library/Logs/openclaw/gateway-work.log")
    assert ["bootstrap", f"gui/{os.getuid()}", str(plist)] in _argv(state)


def test_parse_print() -> None:
    text = (
        "gui/501/ai.openclaw.gateway = {\n\tstate = running\n\tpid = 77\n\tlast exit code = 143\n}"
    )
    assert parse_print(text) == {
        "state": "running",
        "pid": 77,
        "lastExitStatus": 143,
        "status": "running",
    }
    assert parse_print("gui/501/x = {\n\tstate = not running\n}")["status"] == "stopped"
