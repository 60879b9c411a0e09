"""Each doctor check finds the problem a test plants, and `--fix` repairs only the safe ones.

Real files, real permissions, real processes (a lock holder, a TCP listener); nothing is
faked but the tailscale binary, which records its argv.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from openclaw_gateway.cli.doctor.fixes import fix_lock
from openclaw_gateway.cli.doctor.model import FAIL, OK, WARN, Check
from openclaw_gateway.host.lock import LOCK_NAME
from openclaw_gateway.host.service.manager import Context as ServiceContext
from openclaw_gateway.host.service.systemd import Completed, UnitSpec, parse_unit, render_unit
from tests.cli.doctor.support import GOOD_TOKEN, Install, by_id, dead_pid, lock_holder
from tests.host.procs import listener
from tests.server.integration.support import free_port


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_healthy_install_is_all_ok(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    report = install.doctor()
    assert report.ok
    assert {c.status for c in report.checks} == {OK}, report.checks
    ids = [c.id for c in report.checks]
    # Tailscale and ssh are not configured, so not checked.
    assert ids == [
        "config",
        "gateway.mode",
        "auth.exposure",
        "auth.secret",
        "port",
        "lock",
        "pidfile",
        "permissions.state-dir",
        "permissions.secrets",
        "service.manager",
        "clock",
    ]
    assert GOOD_TOKEN not in json.dumps([c.as_json() for c in report.checks])


def test_world_readable_secret_files_are_found_and_fixed(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    install.config_path.chmod(0o644)  # holds gateway.auth.token inline
    token = install.state / "gateway.runtime-token"
    token.write_text("runtime\n")
    token.chmod(0o640)
    check = by_id(install.doctor())["permissions.secrets"]
    assert check.status == FAIL
    assert check.message == (
        "secret files readable by others: ~/.openclaw/gateway.runtime-token (0640), "
        "~/.openclaw/openclaw.json (0644)"
    )
    fixed = install.doctor(fix=True)
    assert by_id(fixed)["permissions.secrets"].status == OK
    assert [c.action for c in fixed.changes] == [
        f"chmod 600 {token} (was 0640)",
        f"chmod 600 {install.config_path} (was 0644)",
    ]
    assert _mode(token) == _mode(install.config_path) == 0o600
    assert token.read_text() == "runtime\n"  # contents untouched


def test_a_symlinked_secret_is_reported_never_followed(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    target = tmp_path / "elsewhere"
    target.write_text("x")
    target.chmod(0o644)
    (install.state / "gateway.runtime-token").symlink_to(target)
    assert by_id(install.doctor())["permissions.secrets"].status == WARN
    install.doctor(fix=True)
    assert _mode(target) == 0o644


def test_an_open_state_dir_is_tightened(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    install.state.chmod(0o755)
    check = by_id(install.doctor())["permissions.state-dir"]
    assert (check.status, check.message) == (
        WARN,
        "~/.openclaw is open to other users (mode 0755)",
    )
    fixed = install.doctor(fix=True)
    assert _mode(install.state) == 0o700
    assert by_id(fixed)["permissions.state-dir"].status == OK


def test_placeholder_and_short_tokens(tmp_path: Path) -> None:
    install = Install(tmp_path)
    port = free_port()
    install.write_config(
        {"gateway": {"mode": "local", "port": port, "auth": {"token": "change-me-now"}}}
    )
    report = install.doctor(fix=True)
    check = by_id(report)["auth.secret"]
    assert check.status == FAIL
    assert check.message.startswith("Invalid config: gateway auth token is blank, a published")
    assert "openssl rand -hex 32" in check.fix
    assert not report.ok  # --fix never invents a secret
    assert json.loads(install.config_path.read_text())["gateway"]["auth"]["token"] == (
        "change-me-now"
    )
    install.write_config({"gateway": {"mode": "local", "port": port, "auth": {"token": "abc12"}}})
    check = by_id(install.doctor())["auth.secret"]
    assert (check.status, check.message) == (WARN, "the gateway token is short (5 chars)")
    assert "abc12" not in check.message + check.fix


def test_non_loopback_bind_without_a_secret(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.write_config({"gateway": {"mode": "local", "bind": "lan", "port": free_port()}})
    check = by_id(install.doctor())["auth.exposure"]
    assert check.status == FAIL
    assert check.message == (
        "bind=lan (0.0.0.0) without a shared secret: `gateway run` refuses to start"
    )
    install.write_config(
        {"gateway": {"mode": "local", "tailscale": {"mode": "funnel"}, "auth": {"token": "t" * 20}}}
    )
    check = by_id(install.doctor())["auth.exposure"]
    assert check.status == FAIL
    assert check.message.startswith("tailscale funnel requires gateway auth mode=password")


def test_a_stale_lock_is_removed_a_live_one_never(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    lock = install.state / "tmp" / LOCK_NAME
    lock.parent.mkdir(mode=0o700)
    gone = dead_pid()
    lock.write_text(json.dumps({"pid": gone, "port": 1}))
    check = by_id(install.doctor())["lock"]
    assert (check.status, check.message) == (
        WARN,
        f"stale state lock from pid {gone}, which is no longer running",
    )
    fixed = install.doctor(fix=True)
    assert not lock.exists()
    assert [c.action for c in fixed.changes] == [f"removed stale lock {lock} (pid {gone} is gone)"]
    assert by_id(fixed)["lock"].status == OK

    with lock_holder(install.state) as holder:
        before = lock.read_text()
        check = by_id(install.doctor())["lock"]
        assert (check.status, check.message) == (
            OK,
            f"state lock held by a running gateway (pid {holder.pid})",
        )
        # Even when asked directly, the fixer leaves a held lock alone.
        changes = fix_lock(install.context())
        assert [c.applied for c in changes] == [False]
        assert lock.read_text() == before


def test_a_stale_pidfile_is_removed(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    pidfile = install.state / "gateway.pid"
    gone = dead_pid()
    pidfile.write_text(json.dumps({"pid": gone, "startTime": 1, "port": 1}))
    check = by_id(install.doctor())["pidfile"]
    assert (check.status, check.message) == (
        WARN,
        f"stale pidfile: pid {gone} is no longer the gateway",
    )
    fixed = install.doctor(fix=True)
    assert not pidfile.exists()
    assert by_id(fixed)["pidfile"].status == OK
    # A pidfile naming a live process that is not the gateway is stale too (pid reuse), and
    # removing it never touches that process.
    pidfile.write_text(json.dumps({"pid": os.getpid(), "startTime": 1}))
    install.doctor(fix=True)
    assert not pidfile.exists()


def test_a_port_held_by_another_process(tmp_path: Path) -> None:
    install = Install(tmp_path)
    with listener() as (holder, port):
        install.good_config(port)
        report = install.doctor(fix=True)
        check = by_id(report)["port"]
        assert check.status == FAIL
        assert check.message.startswith(f"port {port} is in use by pid {holder.pid}")
        assert check.message.endswith(f"(127.0.0.1:{port})")
        assert holder.poll() is None  # --fix never kills anything
    assert not report.ok


def test_a_broken_config_names_the_keys(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.write_config({"gateway": {"mode": "local", "port": "x", "bind": 7}})
    check = by_id(install.doctor())["config"]
    assert check.status == FAIL
    assert "gateway.port: Invalid input" in check.message
    assert "gateway.bind: Invalid input" in check.message
    install.write_config('{"gateway": {')
    check = by_id(install.doctor(fix=True))["config"]
    assert check.status == FAIL
    assert check.message.startswith("~/.openclaw/openclaw.json is not valid JSON5: ")
    assert install.config_path.read_text() == '{"gateway": {'  # left as it was


def test_clock_sanity(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.good_config(free_port())
    check = by_id(install.doctor(clock=lambda: 0.0))["clock"]
    assert (check.status, check.message) == (
        FAIL,
        "the system clock reads 1970-01-01T00:00:00+00:00, before 2025",
    )
    future = time.time() + 3600
    os.utime(install.config_path, (future, future))
    check = by_id(install.doctor())["clock"]
    assert check.status == WARN
    assert check.message.startswith("~/.openclaw/openclaw.json is dated 3")
    assert check.message.endswith("s in the future: the clock went back")


def test_tailscale_is_checked_only_when_configured(tmp_path: Path) -> None:
    install = Install(tmp_path)
    port = free_port()
    install.good_config(port, tailscale={"mode": "serve"})
    install.env["PATH"] = str(tmp_path / "empty")
    check = by_id(install.doctor())["tailscale"]
    assert check.status == FAIL
    assert check.message == "gateway.tailscale.mode=serve but the tailscale CLI was not found"
    # A fake tailscale that records its argv: doctor only asks for its version.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "tailscale"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho 1.80.0\n')
    fake.chmod(0o755)
    install.env["PATH"] = str(bin_dir)
    check = by_id(install.doctor())["tailscale"]
    assert (check.status, check.message) == (OK, f"tailscale CLI found at {fake}")
    assert calls.read_text().splitlines() == ["version"]


def test_ssh_is_checked_only_for_a_remote_ssh_target(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.write_config({"gateway": {"mode": "remote", "remote": {"sshTarget": "me@gw"}}})
    install.env["PATH"] = str(tmp_path / "empty")
    check = by_id(install.doctor())["ssh"]
    assert (check.status, check.message) == (
        FAIL,
        "gateway.remote.sshTarget=me@gw but no ssh client is on PATH",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "ssh").chmod(0o755)
    key = tmp_path / "id_ed25519"
    key.write_text("k")
    key.chmod(0o644)
    install.write_config(
        {"gateway": {"mode": "remote", "remote": {"sshTarget": "me@gw", "sshIdentity": str(key)}}}
    )
    install.env["PATH"] = str(bin_dir)
    check = by_id(install.doctor())["ssh"]
    assert (check.status, check.fix) == (FAIL, f"chmod 600 {key}")
    key.chmod(0o600)
    assert by_id(install.doctor())["ssh"].status == OK
    install.good_config(free_port())
    assert "ssh" not in by_id(install.doctor())


class FakeSystemctl:
    """Answers `systemctl --user …` like a user manager with one unit; records every argv."""

    def __init__(self, *, available: bool = True, enabled: bool = True) -> None:
        self.calls: list[list[str]] = []
        self.available = available
        self.enabled = enabled

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> Completed:
        self.calls.append(list(argv))
        verb = argv[2]
        if not self.available:
            return Completed(1, "", "Failed to connect to bus: No medium found")
        if verb == "is-enabled":
            return Completed(
                0 if self.enabled else 1, "enabled" if self.enabled else "disabled", ""
            )
        if verb == "show":
            return Completed(0, "LoadState=loaded\nActiveState=active\nMainPID=4242\n", "")
        return Completed(0, "", "")


def _systemd_install(tmp_path: Path, port: int, unit_port: int) -> tuple[Install, Path]:
    install = Install(tmp_path)
    install.good_config(port)
    marker = tmp_path / "run-systemd"
    marker.mkdir()
    unit = install.home / ".config" / "systemd" / "user" / "openclaw-gateway.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(
        "[Service]\nExecStart=/usr/bin/python3 -m openclaw_gateway gateway run "
        f"--port {unit_port}\n"
    )
    return install, marker


def test_service_unit_consistency(tmp_path: Path) -> None:
    port = free_port()
    install, marker = _systemd_install(tmp_path, port, port + 1)
    fake = FakeSystemctl()
    svc = ServiceContext(env=install.env, platform="linux", sd_booted_marker=marker, runner=fake)
    checks = by_id(install.doctor(service=svc))
    assert checks["service.manager"] == Check(
        "service.manager", OK, "systemd user manager available"
    )
    unit = checks["service.unit"]
    assert (unit.status, unit.fix) == (
        WARN,
        "openclaw doctor --fix (then openclaw gateway restart), or gateway install --force",
    )
    assert unit.message == (
        "~/.config/systemd/user/openclaw-gateway.service runs port "
        f"{port + 1}, the config says port {port}"
    )
    # Read-only: only queries, never start/stop/enable/daemon-reload.
    assert {tuple(c[:3]) for c in fake.calls} == {
        ("systemctl", "--user", "show-environment"),
        ("systemctl", "--user", "is-enabled"),
        ("systemctl", "--user", "show"),
    }
    install, marker = _systemd_install(tmp_path / "b", port, port)
    svc = ServiceContext(env=install.env, platform="linux", sd_booted_marker=marker, runner=fake)
    unit = by_id(install.doctor(service=svc))["service.unit"]
    assert unit.message == (
        "~/.config/systemd/user/openclaw-gateway.service enabled, running (pid 4242)"
    )
    down = FakeSystemctl(available=False)
    svc = ServiceContext(env=install.env, platform="linux", sd_booted_marker=marker, runner=down)
    manager = by_id(install.doctor(service=svc))["service.manager"]
    assert (manager.status, manager.message) == (
        WARN,
        "systemd user manager unreachable: Failed to connect to bus: No medium found",
    )


def test_fix_points_an_unedited_unit_at_the_configured_port(tmp_path: Path) -> None:
    port = free_port()
    install, marker = _systemd_install(tmp_path, port, port + 1)
    unit_path = install.home / ".config" / "systemd" / "user" / "openclaw-gateway.service"
    env_file = install.home / ".openclaw" / "gateway.systemd.env"
    program = (sys.executable, "-m", "openclaw_gateway", "gateway", "--port", str(port + 1))
    environment = (("HOME", str(install.home)), ("OPENCLAW_GATEWAY_PORT", str(port + 1)))
    ours = render_unit(UnitSpec(program, environment, env_file))
    unit_path.write_text(ours)
    fake = FakeSystemctl()
    svc = ServiceContext(env=install.env, platform="linux", sd_booted_marker=marker, runner=fake)
    report = install.doctor(fix=True, service=svc)
    [change] = [c for c in report.changes if c.id == "service.unit"]
    assert change.applied and f"for port {port} (was {port + 1}" in change.action
    assert unit_path.with_name(unit_path.name + ".bak").read_text() == ours
    fixed = parse_unit(unit_path.read_text())
    assert fixed.program == (*program[:-1], str(port))
    assert fixed.environment == {"HOME": str(install.home), "OPENCLAW_GATEWAY_PORT": str(port)}
    assert fixed.environment_files == (str(env_file),)
    # daemon-reload only: the running service is never restarted by doctor.
    verbs = {c[2] for c in fake.calls}
    assert "daemon-reload" in verbs and not verbs & {"start", "restart", "stop", "enable"}
    assert by_id(install.doctor(service=svc))["service.unit"].status == OK
    # A unit with hand edits is never rewritten.
    edited = render_unit(UnitSpec(program, environment, env_file)).replace(
        "[Install]", "Nice=5\n\n[Install]"
    )
    unit_path.write_text(edited)
    report = install.doctor(fix=True, service=svc)
    [change] = [c for c in report.changes if c.id == "service.unit"]
    assert not change.applied and "changes that `gateway install` did not write" in change.action
    assert unit_path.read_text() == edited
