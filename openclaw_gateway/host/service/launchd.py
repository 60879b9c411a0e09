"""The macOS LaunchAgent: plist and the `launchctl` driver (cli.md §7 "macOS (launchd)").

Policy keys as the official plist: RunAtLoad, KeepAlive, ExitTimeOut=20,
ProcessType=Interactive, ThrottleInterval=10, Umask=63 (0o077), stdin from /dev/null, output to
~/Library/Logs/openclaw/gateway[-<profile>].log (.err.log). As there, ProgramArguments start
with /bin/sh, which sources a generated env file before exec'ing the gateway, so secrets live
in a 0600 file in the state dir and never in the (world-readable) plist.

Commands run in the user's GUI domain, `gui/<uid>`: install = bootout (if loaded), enable,
bootstrap; start = bootstrap (when not loaded) or kickstart; restart = kickstart -k;
stop = bootout (+ disable with `--disable`); uninstall = bootout + remove the plist.
"""

from __future__ import annotations

import os
import plistlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from openclaw_gateway.core.atomicfile import write_atomic
from openclaw_gateway.host.service import files
from openclaw_gateway.host.service.results import ServiceError
from openclaw_gateway.host.service.systemd import Completed, Runner, run_command

ENV_FILE_NAME = "gateway.launchd.env"
# $0 is a name for ps, $1 the env file, the rest the gateway command line.
SH_WRAPPER = 'f="$1"; shift; if [ -r "$f" ]; then set -a; . "$f"; set +a; fi; exec "$@"'
_LINE_BREAK = re.compile(r"[\r\n]")


def log_paths(home: Path, profile: str | None) -> tuple[Path, Path]:
    stem = f"gateway-{profile}" if profile else "gateway"
    base = home / "Library" / "Logs" / "openclaw"
    return base / f"{stem}.log", base / f"{stem}.err.log"


def plist_path(home: Path, label: str) -> Path:
    return home / "Library" / "LaunchAgents" / f"{label}.plist"


@attrs.frozen
class PlistSpec:
    label: str
    program: tuple[str, ...]
    env_file: Path
    stdout_path: Path
    stderr_path: Path
    environment: tuple[tuple[str, str], ...] = ()


def build_plist(spec: PlistSpec) -> dict[str, Any]:
    return {
        "Label": spec.label,
        "ProgramArguments": [
            "/bin/sh",
            "-c",
            SH_WRAPPER,
            spec.label,
            str(spec.env_file),
            *spec.program,
        ],
        "RunAtLoad": True,
        "KeepAlive": True,
        "ExitTimeOut": 20,
        "ProcessType": "Interactive",
        "ThrottleInterval": 10,
        "Umask": 63,
        "StandardInPath": "/dev/null",
        "StandardOutPath": str(spec.stdout_path),
        "StandardErrorPath": str(spec.stderr_path),
        "EnvironmentVariables": {k: v for k, v in spec.environment if v.strip()},
    }


def render_plist(spec: PlistSpec) -> bytes:
    return plistlib.dumps(build_plist(spec), fmt=plistlib.FMT_XML, sort_keys=False)


def render_env_file(values: Mapping[str, str]) -> str:
    """POSIX sh assignments, single-quoted (nothing is expanded when sourced)."""
    lines = []
    for key, value in values.items():
        if _LINE_BREAK.search(key) or _LINE_BREAK.search(value):
            raise ServiceError("launchd environment values cannot contain CR or LF characters.")
        lines.append(f"{key}='" + value.replace("'", "'\\''") + "'")
    return "\n".join(lines) + "\n"


def parse_print(text: str) -> dict[str, Any]:
    """state / pid / last exit code from `launchctl print gui/<uid>/<label>`."""
    runtime: dict[str, Any] = {}
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition(" = ")
        if not sep:
            continue
        if key == "state" and "state" not in runtime:
            runtime["state"] = value.strip()
        elif key == "pid" and value.strip().isdigit():
            runtime["pid"] = int(value.strip())
        elif key == "last exit code" and value.strip().lstrip("-").isdigit():
            runtime["lastExitStatus"] = int(value.strip())
    state = runtime.get("state")
    runtime["status"] = "running" if state == "running" else ("stopped" if state else "unknown")
    return runtime


@attrs.define
class LaunchdService:
    env: Mapping[str, str]
    label: str
    home: Path
    uid: int = attrs.field(factory=os.getuid)
    runner: Runner = run_command

    @property
    def domain(self) -> str:
        return f"gui/{self.uid}"

    @property
    def target(self) -> str:
        return f"{self.domain}/{self.label}"

    @property
    def plist(self) -> Path:
        return plist_path(self.home, self.label)

    def launchctl(self, *args: str) -> Completed:
        return self.runner(["launchctl", *args], dict(self.env))

    def _check(self, done: Completed, action: str) -> None:
        if done.code != 0:
            raise ServiceError(f"launchctl {action} failed: {done.detail or 'unknown error'}")

    def installed(self) -> bool:
        return self.plist.is_file()

    def is_loaded(self) -> bool:
        return self.launchctl("print", self.target).code == 0

    def runtime(self) -> dict[str, Any]:
        """parse_print of the job; `{"status": "stopped", "loaded": False}` when not loaded."""
        done = self.launchctl("print", self.target)
        if done.code != 0:
            return {"status": "stopped", "loaded": False}
        return {**parse_print(done.stdout), "loaded": True}

    def write(self, spec: PlistSpec, env_values: Mapping[str, str]) -> None:
        write_atomic(spec.env_file, render_env_file(env_values), 0o600)
        spec.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.plist, render_plist(spec).decode("utf-8"))

    def activate(self) -> None:
        if self.is_loaded():
            self.launchctl("bootout", self.target)
        self.launchctl("enable", self.target)
        self._check(self.launchctl("bootstrap", self.domain, str(self.plist)), "bootstrap")

    def start(self, *, loaded: bool) -> None:
        """bootstrap when not loaded (the job starts: RunAtLoad), else kickstart it."""
        if not loaded:
            self.launchctl("enable", self.target)
            self._check(self.launchctl("bootstrap", self.domain, str(self.plist)), "bootstrap")
            return
        self._check(self.launchctl("kickstart", self.target), "kickstart")

    def restart(self) -> None:
        self._check(self.launchctl("kickstart", "-k", self.target), "kickstart -k")

    def stop(self, *, disable: bool = False) -> None:
        if disable:
            self._check(self.launchctl("disable", self.target), "disable")
        if self.is_loaded():
            self._check(self.launchctl("bootout", self.target), "bootout")

    def uninstall(self, env_file: Path) -> bool:
        if self.is_loaded():
            self._check(self.launchctl("bootout", self.target), "bootout")
        files.remove(env_file)
        return files.remove(self.plist)
