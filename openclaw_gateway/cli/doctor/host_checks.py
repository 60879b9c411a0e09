"""The doctor's checks of what the host provides: the tailscale CLI (when a tailscale mode is
set), the ssh client and identity (for a remote sshTarget), the service manager and the
installed unit or LaunchAgent. Read-only, one `Check` each (or None when irrelevant).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import trio

from openclaw_gateway.cli.doctor.facts import exposed, show
from openclaw_gateway.cli.doctor.model import FAIL, OK, WARN, Check, Context


def check_tailscale(ctx: Context) -> Check | None:
    mode = ctx.config.gateway.tailscale.mode or "off"
    if mode == "off":
        return None
    from openclaw_gateway.server.tailscale import find_binary

    def which(name: str) -> str | None:
        return shutil.which(name, path=ctx.env.get("PATH"))

    found = trio.run(lambda: find_binary(which=which))
    if found == "tailscale":  # find_binary's "not found" answer: the bare name
        return Check(
            "tailscale",
            FAIL,
            f"gateway.tailscale.mode={mode} but the tailscale CLI was not found",
            "install Tailscale (https://tailscale.com/download) or set gateway.tailscale.mode off",
        )
    return Check("tailscale", OK, f"tailscale CLI found at {found}")


def check_ssh(ctx: Context) -> Check | None:
    gw = ctx.config.raw.get("gateway")
    remote = gw.get("remote") if isinstance(gw, dict) else None
    target = remote.get("sshTarget") if isinstance(remote, dict) else None
    if ctx.config.gateway.mode != "remote" or not isinstance(target, str) or not target.strip():
        return None
    ssh = shutil.which("ssh", path=ctx.env.get("PATH"))
    if ssh is None:
        return Check(
            "ssh",
            FAIL,
            f"gateway.remote.sshTarget={target} but no ssh client is on PATH",
            "install the OpenSSH client",
        )
    identity = remote.get("sshIdentity") if isinstance(remote, dict) else None
    if isinstance(identity, str) and identity.strip():
        key = Path(identity).expanduser()
        if not key.exists():
            return Check("ssh", FAIL, f"gateway.remote.sshIdentity {identity} does not exist", "")
        if exposed(key) is not None:
            return Check(
                "ssh", FAIL, f"ssh refuses {identity}: readable by others", f"chmod 600 {identity}"
            )
    return Check("ssh", OK, f"ssh client at {ssh} for {target}")


def check_service_manager(ctx: Context) -> Check:
    svc = ctx.service_context()
    if svc.kind == "detached":
        return Check(
            "service.manager",
            OK,
            "no service manager here: `gateway start` runs a detached gateway (no restart on "
            "crash or at boot)",
        )
    if svc.kind == "systemd":
        available, detail = svc.systemd().available()
        if not available:
            return Check(
                "service.manager",
                WARN,
                f"systemd user manager unreachable: {detail or 'systemctl --user failed'}",
                "run from a user login session, or `sudo loginctl enable-linger $USER`",
            )
        return Check("service.manager", OK, "systemd user manager available")
    return Check("service.manager", OK, "launchd (macOS LaunchAgent)")


def check_service_unit(ctx: Context) -> Check | None:
    """The installed unit/LaunchAgent: enabled, and running the configured port."""
    svc = ctx.service_context()
    if svc.kind == "detached":
        return None  # the pidfile check covers detached gateways
    from openclaw_gateway.host.service.manager import inspect

    info = inspect(svc)  # read-only
    label = "systemd unit" if info.manager == "systemd" else "LaunchAgent"
    shown = show(info.definition_path, ctx) if info.definition_path else label
    fix = "openclaw gateway install --force"
    if not info.installed:
        return Check("service.unit", OK, f"no {label} installed (gateway runs in the foreground)")
    if info.port_matches is False:
        return Check(
            "service.unit",
            WARN,
            f"{shown} runs port {info.service_port}, the config says port {info.config_port}",
            "openclaw doctor --fix (then openclaw gateway restart), or gateway install --force",
        )
    if not info.enabled:
        return Check("service.unit", WARN, f"{shown} is installed but not enabled", fix)
    running = f", running (pid {info.pid})" if info.active and info.pid else ""
    return Check("service.unit", OK, f"{shown} enabled{running}")
