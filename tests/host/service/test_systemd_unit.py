"""The systemd unit: rendering, escaping, secrets file, and `systemd-analyze --user verify`.

The install here drives a recording `systemctl` (no user manager runs outside the namespace
test); the files it writes are the real ones and are verified by the real systemd-analyze.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pytest

from openclaw_gateway.core.paths import profile_env
from openclaw_gateway.host.service import actions
from openclaw_gateway.host.service.manager import Context, extra_services, inspect
from openclaw_gateway.host.service.results import ServiceError
from openclaw_gateway.host.service.systemd import (
    Completed,
    UnitSpec,
    environment_line,
    escape_arg,
    parse_unit,
    render_env_file,
    render_unit,
)
from tests.host.service.conftest import TOKEN, write_config


@attrs.define
class FakeSystemctl:
    """Records argv; answers like a user manager that accepts everything."""

    calls: list[list[str]] = attrs.field(factory=list)
    enabled: set[str] = attrs.field(factory=set)
    linger: str = "yes"

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> Completed:
        args = list(argv)
        self.calls.append(args)
        if args[0] == "loginctl":
            return Completed(0, f"Linger={self.linger}\n", "")
        verb = args[2]
        if verb == "enable":
            self.enabled.add(args[3])
        if verb == "disable":
            self.enabled.discard(args[-1])
        if verb == "is-enabled":
            on = args[3] in self.enabled
            return Completed(0 if on else 1, "enabled\n" if on else "disabled\n", "")
        if verb == "is-active":
            return Completed(3, "", "")
        return Completed(0, "", "")


def verify(unit: Path, tmp_path: Path) -> str:
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    done = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        timeout=30,
        check=False,
    )
    return done.stdout + done.stderr


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _ctx(tmp_path: Path, env: dict[str, str], fake: FakeSystemctl) -> Context:
    booted = tmp_path / "run-systemd-system"
    booted.mkdir(exist_ok=True)
    return Context(
        env=env,
        platform="linux",
        home=Path(env["HOME"]),
        sd_booted_marker=booted,
        runner=fake,
        python=sys.executable,
    )


def _home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    write_config(home, 18789)
    env = {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }
    return home, env


@needs_analyze
def test_default_install_writes_a_unit_systemd_accepts(tmp_path: Path) -> None:
    home, env = _home(tmp_path)
    fake = FakeSystemctl()
    result = actions.install(_ctx(tmp_path, env, fake), actions.InstallOptions(token=TOKEN))
    assert result.ok, result.error
    assert result.result == "installed"
    unit = tmp_path / "xdg-config" / "systemd" / "user" / "openclaw-gateway.service"
    assert result.lines == ["", f"Installed systemd service: {unit}"]
    assert verify(unit, tmp_path) == ""
    text = unit.read_text()
    assert "Type=notify\nNotifyAccess=main\n" in text
    assert f"ExecStart={sys.executable} -m openclaw_gateway gateway --port 18789\n" in text
    assert "RestartPreventExitStatus=78\n" in text and "Restart=always\n" in text
    env_file = home / ".openclaw" / "gateway.systemd.env"
    assert f"EnvironmentFile=-{env_file}\n" in text
    # The secret is only in the 0600 env file, never in the unit.
    assert TOKEN not in text
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == f'OPENCLAW_GATEWAY_TOKEN="{TOKEN}"\n'
    assert [c[2:] for c in fake.calls if c[0] == "systemctl" and c[2] != "show-environment"][
        :4
    ] == [
        ["is-enabled", "openclaw-gateway.service"],
        ["daemon-reload"],
        ["enable", "openclaw-gateway.service"],
        ["restart", "openclaw-gateway.service"],
    ]
    parsed = parse_unit(text)
    assert parsed.environment["OPENCLAW_SYSTEMD_UNIT"] == "openclaw-gateway.service"
    # doctor's question: installed, enabled, and is its port the config's port?
    inspection = inspect(_ctx(tmp_path, env, fake))
    assert (inspection.manager, inspection.definition_path) == ("systemd", unit)
    assert (inspection.installed, inspection.enabled, inspection.active) == (True, True, False)
    assert (inspection.service_port, inspection.config_port) == (18789, 18789)
    assert inspection.port_matches is True
    assert parsed.environment["OPENCLAW_SERVICE_MARKER"] == "openclaw"

    again = actions.install(_ctx(tmp_path, env, fake), actions.InstallOptions())
    assert (again.ok, again.result, again.message) == (
        True,
        "already-installed",
        "Gateway service already enabled.",
    )
    assert again.lines_after == ["Reinstall with: openclaw gateway install --force"]

    forced = actions.install(
        _ctx(tmp_path, env, fake), actions.InstallOptions(port="19999", force=True)
    )
    assert forced.ok and forced.result == "installed"
    backup = unit.with_name(unit.name + ".bak")
    assert forced.lines[-1] == f"Previous unit backed up to: {backup}"
    assert "--port 18789" in backup.read_text() and "--port 19999" in unit.read_text()
    assert inspect(_ctx(tmp_path, env, fake)).port_matches is False  # 19999 vs config 18789
    # No token in the environment this time: the secrets file goes away.
    assert not env_file.exists()
    assert verify(unit, tmp_path) == ""


@needs_analyze
def test_profile_install_uses_the_profile_unit(tmp_path: Path) -> None:
    home, env = _home(tmp_path)
    env.update(profile_env(False, "work", env))
    write_config_at = Path(env["OPENCLAW_STATE_DIR"])
    write_config_at.mkdir(parents=True)
    (write_config_at / "openclaw.json").write_text('{"gateway": {"mode": "local"}}')
    fake = FakeSystemctl(linger="no")
    result = actions.install(
        _ctx(tmp_path, env, fake), actions.InstallOptions(allow_unconfigured=True)
    )
    assert result.ok, result.error
    unit = tmp_path / "xdg-config" / "systemd" / "user" / "openclaw-gateway-work.service"
    assert verify(unit, tmp_path) == ""
    text = unit.read_text()
    assert "gateway --port 41984 --allow-unconfigured\n" in text  # the profile's hashed port
    env_vars = parse_unit(text).environment
    assert env_vars["OPENCLAW_PROFILE"] == "work"
    assert env_vars["OPENCLAW_STATE_DIR"] == str(home / ".openclaw-work")
    assert env_vars["OPENCLAW_SYSTEMD_UNIT"] == "openclaw-gateway-work.service"
    assert "EnvironmentFile=-" + str(home / ".openclaw-work" / "gateway.systemd.env") in text
    assert any("loginctl enable-linger" in w for w in result.warnings)


def test_install_sets_local_mode_when_config_has_none(tmp_path: Path) -> None:
    home, env = _home(tmp_path)
    (home / ".openclaw" / "openclaw.json").write_text('{"gateway": {"port": 18789}}')
    result = actions.install(_ctx(tmp_path, env, FakeSystemctl()), actions.InstallOptions())
    assert result.ok
    assert actions.NO_MODE_WARNING in result.warnings
    assert '"mode": "local"' in (home / ".openclaw" / "openclaw.json").read_text()


def test_escaping_follows_systemd_rules() -> None:
    assert escape_arg("/usr/bin/python3") == "/usr/bin/python3"
    assert escape_arg("a b") == '"a b"'
    assert escape_arg('say "hi"') == '"say \\"hi\\""'
    assert escape_arg("back\\slash") == '"back\\\\slash"'
    assert environment_line("X", "100%") == "Environment=X=100%%"
    assert environment_line("N", "OpenClaw Gateway") == 'Environment="N=OpenClaw Gateway"'
    for bad in ("a\nb", "a\rb"):
        with pytest.raises(ServiceError, match="cannot contain CR or LF"):
            escape_arg(bad)
        with pytest.raises(ServiceError, match="cannot contain CR or LF"):
            render_env_file({"OPENCLAW_GATEWAY_TOKEN": bad})
    assert render_env_file({"K": 'a"b\\c$d'}) == 'K="a\\"b\\\\c\\$d"\n'


@needs_analyze
def test_odd_values_still_verify_and_round_trip(tmp_path: Path) -> None:
    spec = UnitSpec(
        (sys.executable, "-m", "openclaw_gateway", "gateway", "--port", "18789"),
        (("PATH", "/opt/my tools/bin:/usr/bin"), ("OPENCLAW_STATE_DIR", '/srv/a "b"/50%')),
        tmp_path / "state dir" / "gateway.systemd.env",
    )
    unit = tmp_path / "openclaw-gateway.service"
    unit.write_text(render_unit(spec))
    assert verify(unit, tmp_path) == ""
    parsed = parse_unit(unit.read_text())
    assert parsed.environment == {
        "PATH": "/opt/my tools/bin:/usr/bin",
        "OPENCLAW_STATE_DIR": '/srv/a "b"/50%',
    }


def test_a_bad_port_changes_nothing(tmp_path: Path) -> None:
    _, env = _home(tmp_path)
    fake = FakeSystemctl()
    result = actions.install(_ctx(tmp_path, env, fake), actions.InstallOptions(port="99999"))
    assert (result.ok, result.exit_code) == (False, 1)
    assert result.error == "Invalid --port. Use a port number from 1 to 65535, for example 18789."
    assert not (tmp_path / "xdg-config").exists()
    assert not any(c[2] in ("enable", "restart") for c in fake.calls if c[0] == "systemctl")


def test_deep_status_lists_other_gateway_units(tmp_path: Path) -> None:
    _, env = _home(tmp_path)
    fake = FakeSystemctl()
    ctx = _ctx(tmp_path, env, fake)
    assert actions.install(ctx, actions.InstallOptions()).ok
    user_dir = tmp_path / "xdg-config" / "systemd" / "user"
    (user_dir / "clawdbot-gateway.service").write_text(
        "[Service]\nExecStart=/usr/bin/clawdbot gateway\n"
    )
    (user_dir / "unrelated.service").write_text("[Service]\nExecStart=/bin/true\n")
    system = tmp_path / "etc-systemd-system"
    system.mkdir()
    (system / "openclaw-gateway.service").write_text(
        "[Service]\nEnvironment=OPENCLAW_SERVICE_MARKER=openclaw\n"
    )
    assert extra_services(ctx, system_dirs=(system,)) == [
        {
            "platform": "linux",
            "label": "clawdbot-gateway.service",
            "detail": f"unit: {user_dir / 'clawdbot-gateway.service'}",
            "scope": "user",
            "marker": "clawdbot",
            "legacy": True,
        },
        {
            "platform": "linux",
            "label": "openclaw-gateway.service",
            "detail": f"unit: {system / 'openclaw-gateway.service'}",
            "scope": "system",
            "marker": "openclaw",
            "legacy": False,
        },
    ]


@needs_analyze
def test_wrapper_replaces_the_interpreter(tmp_path: Path) -> None:
    _, env = _home(tmp_path)
    fake = FakeSystemctl()
    not_exec = tmp_path / "wrapper.txt"
    not_exec.write_text("#!/bin/sh\n")
    bad = actions.install(_ctx(tmp_path, env, fake), actions.InstallOptions(wrapper=str(not_exec)))
    assert (bad.ok, bad.error) == (
        False,
        f"Invalid --wrapper: {str(not_exec)!r} is not an executable file",
    )
    assert not (tmp_path / "xdg-config").exists()

    wrapper = tmp_path / "bin" / "openclaw wrapper"
    wrapper.parent.mkdir()
    wrapper.write_text('#!/bin/sh\nexec "$@"\n')
    wrapper.chmod(0o755)
    good = actions.install(_ctx(tmp_path, env, fake), actions.InstallOptions(wrapper=str(wrapper)))
    assert good.ok, good.error
    unit = tmp_path / "xdg-config" / "systemd" / "user" / "openclaw-gateway.service"
    parsed = parse_unit(unit.read_text())
    assert parsed.program == (str(wrapper), "gateway", "--port", "18789")
    assert parsed.environment["OPENCLAW_WRAPPER"] == str(wrapper)
    assert verify(unit, tmp_path) == ""
