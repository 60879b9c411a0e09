"""The systemd user unit and the `systemctl --user` driver (cli.md §7, official systemd-unit).

The unit keeps the official keys and policy, with one deliberate difference: `Type=notify` +
`NotifyAccess=main`, because this gateway tells systemd when it is listening (sdnotify.py), so
`systemctl start` returns only once the gateway answers and `WatchdogSec=` (an operator drop-in)
works. Secrets never go inline: token/password live in `<stateDir>/gateway.systemd.env`
(mode 0600), referenced as `EnvironmentFile=-<path>`.

Values are escaped as the official renderer does: quoted when they contain whitespace, quotes
or backslashes, `%` doubled (systemd specifiers), CR/LF refused.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from openclaw_gateway.core.atomicfile import write_atomic
from openclaw_gateway.host.service import files
from openclaw_gateway.host.service.results import ServiceError

SYSTEMCTL_TIMEOUT = 30.0  # `start`/`restart` block until READY=1; the unit allows 30 s for it
ENV_FILE_NAME = "gateway.systemd.env"
SECRET_KEYS = ("OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD")
_LINE_BREAK = re.compile(r"[\r\n]")
_NEEDS_QUOTES = re.compile(r'[\s"\\]')

# Official SYSTEMD_FIXED_POLICY, in its order.
UNIT_POLICY = (
    "After=network-online.target",
    "Wants=network-online.target",
    "StartLimitBurst=10",
    "StartLimitIntervalSec=300",
)
SERVICE_POLICY = (
    "Restart=always",
    "RestartSec=5",
    "RestartPreventExitStatus=78",
    "TimeoutStopSec=330",
    "TimeoutStartSec=30",
    "SuccessExitStatus=0 143",
    "OOMPolicy=continue",
    "KillMode=mixed",
)
INSTALL_POLICY = ("WantedBy=default.target",)


def _no_line_breaks(value: str, label: str) -> None:
    if _LINE_BREAK.search(value):
        raise ServiceError(f"{label} cannot contain CR or LF characters.")


def escape_arg(value: str) -> str:
    """One ExecStart word / Environment assignment, systemd-quoted when needed."""
    _no_line_breaks(value, "Systemd unit values")
    if not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def environment_line(key: str, value: str) -> str:
    _no_line_breaks(key, "Systemd environment variable names")
    _no_line_breaks(value, "Systemd environment variable values")
    return "Environment=" + escape_arg(f"{key}={value.strip()}".replace("%", "%%"))


@attrs.frozen
class UnitSpec:
    program: tuple[str, ...]
    environment: tuple[tuple[str, str], ...] = ()
    environment_file: Path | None = None
    description: str = "OpenClaw Gateway"


def render_unit(spec: UnitSpec) -> str:
    description = spec.description.strip() or "OpenClaw Gateway"
    _no_line_breaks(description, "Systemd Description")
    exec_start = " ".join(escape_arg(arg.replace("%", "%%")) for arg in spec.program)
    lines = ["[Unit]", f"Description={description}", *UNIT_POLICY, "", "[Service]"]
    lines += ["Type=notify", "NotifyAccess=main", f"ExecStart={exec_start}", *SERVICE_POLICY]
    if spec.environment_file is not None:
        path = str(spec.environment_file)
        _no_line_breaks(path, "Systemd EnvironmentFile values")
        # Taken literally to the end of the line (systemd does not unquote this key).
        lines.append(f"EnvironmentFile=-{path.replace('%', '%%')}")
    lines += [environment_line(k, v) for k, v in spec.environment if v.strip()]
    lines += ["", "[Install]", *INSTALL_POLICY, ""]
    return "\n".join(lines)


def render_env_file(values: Mapping[str, str]) -> str:
    """KEY="value" lines; inside double quotes systemd unescapes \\ \" and \\$ (no expansion)."""
    out = []
    for key, value in values.items():
        _no_line_breaks(key, "Systemd environment variable names")
        _no_line_breaks(value, "Systemd environment variable values")
        quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        out.append(f'{key}="{quoted}"')
    return "\n".join(out) + "\n"


@attrs.frozen
class ParsedUnit:
    program: tuple[str, ...]
    environment: dict[str, str]
    environment_files: tuple[str, ...]


def parse_unit(text: str) -> ParsedUnit:
    """ExecStart words and Environment= assignments of a unit we (or someone) wrote."""
    program: tuple[str, ...] = ()
    environment: dict[str, str] = {}
    env_files: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        try:
            words = shlex.split(value.replace("%%", "%"), posix=True)
        except ValueError:
            continue
        if key == "ExecStart":
            program = tuple(words)
        elif key == "Environment":
            for word in words:
                if "=" in word:
                    name, _, val = word.partition("=")
                    environment[name] = val
        elif key == "EnvironmentFile":
            env_files.append(value.strip().lstrip("-"))
    return ParsedUnit(program, environment, tuple(env_files))


def unit_dir(env: Mapping[str, str]) -> Path:
    """$XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user."""
    config_home = (env.get("XDG_CONFIG_HOME") or "").strip()
    if config_home:
        return Path(config_home) / "systemd" / "user"
    home = (env.get("HOME") or "").strip() or str(Path.home())
    return Path(home) / ".config" / "systemd" / "user"


# --------------------------------------------------------------------------------------------
# systemctl --user


@attrs.frozen
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def detail(self) -> str:
        return self.stderr.strip() or self.stdout.strip()


Runner = Callable[[Sequence[str], Mapping[str, str]], Completed]


def run_command(argv: Sequence[str], env: Mapping[str, str]) -> Completed:
    """Run a service-manager command with a bound; a missing binary is exit 127."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        return Completed(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return Completed(124, "", f"{' '.join(argv[:3])} timed out after {SYSTEMCTL_TIMEOUT:.0f}s")
    return Completed(done.returncode, done.stdout, done.stderr)


def _user_env(env: Mapping[str, str]) -> dict[str, str]:
    """systemctl --user needs XDG_RUNTIME_DIR to find the user manager (the official fix-up)."""
    out = dict(env)
    if not (out.get("XDG_RUNTIME_DIR") or "").strip():
        candidate = Path(f"/run/user/{os.getuid()}")
        if candidate.is_dir():
            out["XDG_RUNTIME_DIR"] = str(candidate)
    return out


SHOW_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "MainPID",
    "ExecMainStatus",
    "ExecMainCode",
    "NRestarts",
    "Result",
    "UnitFileState",
    "FragmentPath",
    "StatusText",
)


@attrs.define
class SystemdService:
    """One user unit, driven through `systemctl --user`."""

    env: Mapping[str, str]
    unit: str
    runner: Runner = run_command

    @property
    def unit_path(self) -> Path:
        return unit_dir(self.env) / self.unit

    def systemctl(self, *args: str) -> Completed:
        return self.runner(["systemctl", "--user", *args], _user_env(self.env))

    def available(self) -> tuple[bool, str]:
        """Is a user manager reachable? (detail for the error when not)."""
        done = self.systemctl("show-environment")
        return done.code == 0, done.detail

    def _check(self, done: Completed, action: str) -> None:
        if done.code == 0:
            return
        detail = done.detail or "unknown error"
        if "Failed to connect to bus" in detail or "No medium found" in detail:
            raise ServiceError(f"systemctl --user unavailable: {detail}")
        raise ServiceError(f"systemctl {action} failed: {detail}")

    def is_enabled(self) -> bool:
        done = self.systemctl("is-enabled", self.unit)
        return done.code == 0 and done.stdout.strip() in ("enabled", "enabled-runtime", "linked")

    def is_active(self) -> bool:
        return self.systemctl("is-active", "--quiet", self.unit).code == 0

    def show(self) -> dict[str, str]:
        done = self.systemctl("show", self.unit, "--no-pager", *(f"-p{p}" for p in SHOW_PROPERTIES))
        props: dict[str, str] = {}
        if done.code != 0:
            return props
        for line in done.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                props[key] = value
        return props

    def installed(self) -> bool:
        return self.unit_path.is_file()

    def write(self, spec: UnitSpec, secrets: Mapping[str, str], env_file: Path) -> bool:
        """Publish the env file then the unit (old unit kept as .bak); True if backed up."""
        if secrets:
            write_atomic(env_file, render_env_file(secrets), 0o600)
        else:
            files.remove(env_file)
        text = render_unit(spec)
        path = self.unit_path
        backed_up = False
        if path.is_file():
            previous = path.read_text(encoding="utf-8")
            if previous != text:
                write_atomic(path.with_name(path.name + ".bak"), previous)
                backed_up = True
        write_atomic(path, text)
        return backed_up

    def retarget_port(self, port: int) -> str | None:
        """Point the installed unit at `port` (ExecStart `--port`, OPENCLAW_GATEWAY_PORT), keep
        everything else, back up the old unit, daemon-reload; never restarts the service (the
        running gateway keeps its port until the next restart). Only a unit that is exactly what
        we render is rewritten, so hand edits are never lost: returns None when done, else why
        it was left alone."""
        text = self.unit_path.read_text(encoding="utf-8")
        parsed = parse_unit(text)
        env_file = Path(parsed.environment_files[0]) if len(parsed.environment_files) == 1 else None
        spec = UnitSpec(parsed.program, tuple(parsed.environment.items()), env_file)
        try:
            if render_unit(spec) != text:
                return "the unit has changes that `gateway install` did not write"
        except ServiceError as exc:
            return exc.message
        program = list(parsed.program)
        if "--port" not in program[:-1]:
            return "its ExecStart has no --port"
        program[program.index("--port") + 1] = str(port)
        environment = tuple(
            (key, str(port) if key == "OPENCLAW_GATEWAY_PORT" else value)
            for key, value in parsed.environment.items()
        )
        write_atomic(self.unit_path.with_name(self.unit_path.name + ".bak"), text)
        write_atomic(
            self.unit_path,
            render_unit(attrs.evolve(spec, program=tuple(program), environment=environment)),
        )
        self._check(self.systemctl("daemon-reload"), "daemon-reload")
        return None

    def activate(self) -> None:
        """daemon-reload, enable, restart (restart blocks until READY=1 or the start timeout)."""
        self._check(self.systemctl("daemon-reload"), "daemon-reload")
        self._check(self.systemctl("enable", self.unit), "enable")
        self._check(self.systemctl("restart", self.unit), "restart")

    def start(self) -> None:
        self.systemctl("reset-failed", self.unit)
        self._check(self.systemctl("start", self.unit), "start")

    def stop(self) -> None:
        self._check(self.systemctl("stop", self.unit), "stop")

    def restart(self) -> None:
        self.systemctl("reset-failed", self.unit)
        self._check(self.systemctl("restart", self.unit), "restart")

    def uninstall(self, env_file: Path) -> bool:
        """disable --now, remove the unit (+ .bak) and the env file, daemon-reload."""
        done = self.systemctl("disable", "--now", self.unit)
        if done.code != 0 and self.installed():
            self._check(done, "disable")
        removed = files.remove(self.unit_path)
        files.remove(self.unit_path.with_name(self.unit_path.name + ".bak"))
        files.remove(env_file)
        self.systemctl("daemon-reload")
        return removed

    def linger(self, user: str) -> str | None:
        """`yes`/`no` from loginctl, None when it cannot tell (no logind here)."""
        done = self.runner(["loginctl", "show-user", user, "-p", "Linger"], _user_env(self.env))
        for line in done.stdout.splitlines():
            if line.strip().startswith("Linger="):
                return line.split("=", 1)[1].strip()
        return None


def runtime_from_show(props: Mapping[str, str]) -> dict[str, Any]:
    """The official runtime object: status running|stopped|unknown, state, subState, pid…"""
    active = props.get("ActiveState")
    if not active:
        return {"status": "unknown"}
    runtime: dict[str, Any] = {
        "status": "running" if active in ("active", "reloading", "activating") else "stopped",
        "state": active,
    }
    if props.get("SubState"):
        runtime["subState"] = props["SubState"]
    pid = props.get("MainPID", "0")
    if pid.isdigit() and int(pid) > 0:
        runtime["pid"] = int(pid)
    status = props.get("ExecMainStatus", "")
    if status.isdigit() and (props.get("ExecMainCode") not in (None, "", "0")):
        runtime["lastExitStatus"] = int(status)
    if props.get("Result") and props["Result"] != "success":
        runtime["lastRunResult"] = props["Result"]
    restarts = props.get("NRestarts", "")
    if restarts.isdigit():
        runtime["restarts"] = int(restarts)
    return runtime
