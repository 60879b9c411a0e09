"""Which service manager runs the gateway here, and what it says about it.

- macOS: launchd (a LaunchAgent in the user's GUI domain).
- Linux booted by systemd (`/run/systemd/system` exists, sd_booted()): a systemd user unit.
- anything else (containers, minimal hosts): detached mode (detached.py).

The platform and the sd_booted marker are parameters (`Context`), so tests pick a manager
without patching globals. `inspect()` is the small public question `openclaw doctor` asks:
is a unit installed, is it enabled/active, and does its ExecStart port match the config.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.paths import Paths, resolve_paths, resolve_port
from openclaw_gateway.host.lock import LOCK_NAME, read_lock_record
from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.detached import DetachedService, is_gateway_process
from openclaw_gateway.host.service.launchd import ENV_FILE_NAME as LAUNCHD_ENV_FILE
from openclaw_gateway.host.service.launchd import LaunchdService
from openclaw_gateway.host.service.results import ServiceSnapshot
from openclaw_gateway.host.service.systemd import (
    ENV_FILE_NAME as SYSTEMD_ENV_FILE,
)
from openclaw_gateway.host.service.systemd import (
    Runner,
    SystemdService,
    parse_unit,
    run_command,
    runtime_from_show,
)

SD_BOOTED_MARKER = Path("/run/systemd/system")


@attrs.frozen
class Context:
    """Everything a service command depends on, explicit so tests can choose each part."""

    env: Mapping[str, str]
    platform: str = sys.platform
    home: Path = attrs.field(factory=identity.account_home)  # the OS account home
    sd_booted_marker: Path = SD_BOOTED_MARKER
    runner: Runner = run_command
    python: str = sys.executable

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.env)

    @property
    def kind(self) -> str:
        if self.platform == "darwin":
            return "launchd"
        if self.platform.startswith("linux") and self.sd_booted_marker.is_dir():
            return "systemd"
        return "detached"

    def systemd(self) -> SystemdService:
        return SystemdService(self.env, identity.systemd_unit_name(self.env), self.runner)

    def launchd(self) -> LaunchdService:
        return LaunchdService(
            self.env, identity.launchd_label(self.env), self._home_dir(), runner=self.runner
        )

    def detached(self) -> DetachedService:
        program = (os.path.abspath(self.python), "-m", "openclaw_gateway", "gateway", "run")
        return DetachedService(self.paths.state_dir, self.env, program)

    def _home_dir(self) -> Path:
        raw = (self.env.get("HOME") or "").strip()
        return Path(raw) if raw else self.home

    def systemd_env_file(self) -> Path:
        return self.paths.state_dir / SYSTEMD_ENV_FILE

    def launchd_env_file(self) -> Path:
        return self.paths.state_dir / LAUNCHD_ENV_FILE

    def user(self) -> str:
        try:
            return pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            return str(os.getuid())


SNAPSHOTS = {
    "systemd": ("systemd", "enabled", "disabled"),
    "launchd": ("LaunchAgent", "loaded", "not loaded"),
    "detached": ("detached process", "running", "not running"),
}


def snapshot(kind: str, loaded: bool) -> ServiceSnapshot:
    label, yes, no = SNAPSHOTS[kind]
    return ServiceSnapshot(label, loaded, yes, no)


def config_port(ctx: Context) -> int:
    loaded = cfg.load_snapshot(ctx.paths.config_path)
    return resolve_port(None, ctx.env, loaded.config.gateway.port, ctx.paths.profile)


def _port_arg(program: tuple[str, ...]) -> int | None:
    for i, word in enumerate(program):
        if word == "--port" and i + 1 < len(program) and program[i + 1].isdigit():
            return int(program[i + 1])
        if word.startswith("--port=") and word[7:].isdigit():
            return int(word[7:])
    return None


@attrs.frozen
class ServiceInspection:
    """What doctor needs to know about the installed service (if any)."""

    manager: str  # systemd | launchd | detached
    definition_path: Path | None  # unit file / plist; None in detached mode
    installed: bool
    enabled: bool
    active: bool
    pid: int | None
    service_port: int | None  # the port in ExecStart / ProgramArguments
    config_port: int

    @property
    def port_matches(self) -> bool | None:
        return None if self.service_port is None else self.service_port == self.config_port


def inspect(ctx: Context) -> ServiceInspection:
    """Read-only: never starts, stops or writes anything."""
    port = config_port(ctx)
    if ctx.kind == "systemd":
        unit = ctx.systemd()
        installed = unit.installed()
        program = parse_unit(unit.unit_path.read_text("utf-8")).program if installed else ()
        props = unit.show()
        runtime = runtime_from_show(props)
        return ServiceInspection(
            "systemd",
            unit.unit_path,
            installed,
            unit.is_enabled(),
            runtime.get("status") == "running",
            runtime.get("pid"),
            _port_arg(program),
            port,
        )
    if ctx.kind == "launchd":
        agent = ctx.launchd()
        installed = agent.installed()
        args: list[object] = []
        if installed:
            import plistlib

            with open(agent.plist, "rb") as fh:
                args = list(plistlib.load(fh).get("ProgramArguments", []))
        agent_runtime = agent.runtime()
        return ServiceInspection(
            "launchd",
            agent.plist,
            installed,
            bool(agent_runtime.get("loaded")),
            agent_runtime.get("status") == "running",
            agent_runtime.get("pid"),
            _port_arg(tuple(str(a) for a in args)),
            port,
        )
    record = ctx.detached().running()  # read-only: a stale pidfile is left for doctor/start
    return ServiceInspection(
        "detached",
        None,
        False,
        False,
        record is not None,
        record.pid if record else None,
        record.port if record else None,
        port,
    )


def describe(ctx: Context) -> dict[str, Any]:
    """The `service` block of `gateway status --json` (official shape + `mode`)."""
    kind = ctx.kind
    if kind == "systemd":
        unit = ctx.systemd()
        available, detail = unit.available()
        if not available:
            return _unavailable("systemd", detail, unit.unit_path)
        enabled = unit.is_enabled()
        runtime = runtime_from_show(unit.show())
        command = None
        if unit.installed():
            parsed = parse_unit(unit.unit_path.read_text("utf-8"))
            command = {
                "programArguments": list(parsed.program),
                "sourcePath": str(unit.unit_path),
                "environment": _safe_env(parsed.environment),
            }
        runtime["systemd"] = {"scope": "user", "unit": unit.unit}
        return _block("systemd", enabled, command, runtime, unit_path=str(unit.unit_path))
    if kind == "launchd":
        agent = ctx.launchd()
        runtime = agent.runtime()
        loaded = bool(runtime.pop("loaded"))
        command = {"sourcePath": str(agent.plist)} if agent.installed() else None
        return _block("launchd", loaded, command, runtime, plist_path=str(agent.plist))
    detached = ctx.detached()
    # Read-only (no stale reclaim): status takes no lock, so it must not remove a pidfile a
    # concurrent start may be rewriting; the next start/stop reclaims a stale one.
    record = detached.running()
    state: dict[str, Any] = {"status": "running" if record else "stopped"}
    if record is not None:
        state["pid"] = record.pid
    else:
        holder = _lock_holder(ctx)
        if holder is not None:
            state["detail"] = f"a gateway not started by `gateway start` runs as pid {holder}"
    block = _block(
        "detached",
        record is not None,
        {"programArguments": list(detached.program), "sourcePath": str(detached.pidfile)}
        if record
        else None,
        state,
    )
    block["inspectionReason"] = "service-manager-unavailable"
    return block


def _lock_holder(ctx: Context) -> int | None:
    record = read_lock_record(ctx.paths.lock_dir / LOCK_NAME)
    return record.pid if record is not None and is_gateway_process(record.pid) else None


def _safe_env(environment: Mapping[str, str]) -> dict[str, str]:
    keep = (
        "OPENCLAW_PROFILE",
        "OPENCLAW_STATE_DIR",
        "OPENCLAW_CONFIG_PATH",
        "OPENCLAW_GATEWAY_PORT",
    )
    return {k: environment[k] for k in keep if environment.get(k)}


def _block(
    kind: str,
    loaded: bool,
    command: dict[str, Any] | None,
    runtime: dict[str, Any],
    **paths: str,
) -> dict[str, Any]:
    snap = snapshot(kind, loaded)
    block: dict[str, Any] = {
        "label": snap.label,
        "mode": kind,
        "loaded": loaded,
        "loadState": {"status": "loaded" if loaded else "not-loaded"},
        "loadedText": snap.loaded_text,
        "notLoadedText": snap.not_loaded_text,
        "command": command,
        "runtime": runtime,
        "configAudit": {"ok": True, "issues": []},
    }
    for key, value in paths.items():
        block["unitPath" if key == "unit_path" else "plistPath"] = value
    return block


def _unavailable(kind: str, detail: str, unit_path: Path) -> dict[str, Any]:
    block = _block(kind, False, None, {"status": "unknown", "detail": detail})
    block["inspectionReason"] = "service-manager-unavailable"
    block["unitPath"] = str(unit_path)
    return block


SYSTEM_UNIT_DIRS = (
    Path("/etc/systemd/system"),
    Path("/usr/lib/systemd/system"),
    Path("/lib/systemd/system"),
)
LEGACY_UNIT_NAMES = ("clawdbot-gateway",)


def _unit_marker(text: str) -> str | None:
    """ "openclaw" for a unit we wrote (service marker), "clawdbot" for the legacy gateway."""
    if "OPENCLAW_SERVICE_MARKER=openclaw" in text:
        return "openclaw"
    lowered = text.lower()
    if "clawdbot" in lowered and "gateway" in lowered:
        return "clawdbot"
    return None


def _scan_units(directory: Path, scope: str, skip: str | None) -> list[dict[str, Any]]:
    found = []
    try:
        entries = sorted(directory.glob("*.service"))
    except OSError:
        return []
    for path in entries:
        if path.name == skip:
            continue
        try:
            marker = _unit_marker(path.read_text("utf-8", errors="replace"))
        except OSError:
            continue
        if marker is None:
            continue
        found.append(
            {
                "platform": "linux",
                "label": path.name,
                "detail": f"unit: {path}",
                "scope": scope,
                "marker": marker,
                "legacy": marker != "openclaw",
            }
        )
    return found


def extra_services(
    ctx: Context, system_dirs: tuple[Path, ...] = SYSTEM_UNIT_DIRS
) -> list[dict[str, Any]]:
    """`gateway status --deep`: other gateway-like units (another profile's, legacy, system).

    Best effort, read-only, in the official `extraServices` shape. Our own unit is left out.
    """
    if ctx.kind != "systemd" and not ctx.platform.startswith("linux"):
        return []
    own = identity.systemd_unit_name(ctx.env)
    user_dir = ctx.systemd().unit_path.parent
    found = _scan_units(user_dir, "user", own)
    for name in LEGACY_UNIT_NAMES:
        backup = user_dir / f"{name}.service.bak"
        if backup.is_file() and not any(s["label"] == f"{name}.service" for s in found):
            found.append(
                {
                    "platform": "linux",
                    "label": f"{name}.service",
                    "detail": f"unit backup: {backup}",
                    "scope": "user",
                    "marker": "clawdbot",
                    "legacy": True,
                }
            )
    seen: set[Path] = set()
    for directory in system_dirs:
        resolved = directory.resolve() if directory.exists() else directory
        if resolved in seen:  # /lib is often a symlink to /usr/lib
            continue
        seen.add(resolved)
        found += _scan_units(directory, "system", None)
    return found
