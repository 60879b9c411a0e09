"""The service commands: `gateway install|uninstall|start|stop|restart` (registered on the
gateway group by import path, gateway_app.py), and the legacy `daemon …` group (the same
commands plus `daemon status`). They run cli/service_cmd.py.
"""

# No `from __future__ import annotations` here: cyclopts reads these command signatures on
# every run, and annotations evaluated once at import spare it an eval() each (issue 17).
import sys
from typing import Annotated

from cyclopts import App, Parameter

from openclaw_gateway.cli.gateway_app import gateway_status
from openclaw_gateway.cli.params import GROUP_HELP, JSON, SERVICE_HELP, command_env

daemon = App(name="daemon", help=GROUP_HELP["daemon"], help_format="plaintext")
daemon.command(gateway_status, name="status")


def _service(action: str, **opts: object) -> int:
    from openclaw_gateway.cli.service_cmd import run_service_command

    return run_service_command(action, opts, command_env())


def _install(
    *,
    port: Annotated[str | None, Parameter(help="Gateway port.")] = None,
    runtime: Annotated[str | None, Parameter(help='Daemon runtime ("python").')] = None,
    runtime_path: Annotated[
        str | None, Parameter(help="Pin an absolute Python executable path.")
    ] = None,
    token: Annotated[str | None, Parameter(help="Gateway token (token auth).")] = None,
    wrapper: Annotated[
        str | None, Parameter(help="Executable wrapper for the service command (OPENCLAW_WRAPPER).")
    ] = None,
    allow_unconfigured: Annotated[
        bool, Parameter(negative="", help="Allow the service to start without gateway.mode=local.")
    ] = False,
    force: Annotated[
        bool, Parameter(negative="", help="Reinstall if already installed (restarts the Gateway).")
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    return _service(
        "install",
        port=port,
        runtime=runtime,
        runtime_path=runtime_path,
        token=token,
        wrapper=wrapper,
        allow_unconfigured=allow_unconfigured,
        force=force,
        json=json_output,
    )


def _uninstall(*, json_output: Annotated[bool, JSON] = False) -> int:
    return _service("uninstall", json=json_output)


def _start(*, json_output: Annotated[bool, JSON] = False) -> int:
    return _service("start", json=json_output)


def _stop(
    *,
    force: Annotated[
        bool, Parameter(negative="", help="Allow stop from a non-interactive shell.")
    ] = False,
    disable: Annotated[
        bool,
        Parameter(negative="", help="Persistently disable so it does not respawn (launchd only)."),
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    return _service("stop", force=force, disable=disable, json=json_output)


def _restart(
    *,
    force: Annotated[bool, Parameter(negative="", help="Begin restart now.")] = False,
    safe: Annotated[
        bool, Parameter(negative="", help="OpenClaw-aware restart after work drains.")
    ] = False,
    skip_deferral: Annotated[
        bool, Parameter(negative="", help="Bypass the safe-restart deferral (requires --safe).")
    ] = False,
    wait: Annotated[str | None, Parameter(help="Wait duration before restart.")] = None,
    preserve_definition: Annotated[
        bool, Parameter(negative="", help="Keep the native service definition.")
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    problem = None
    if skip_deferral and not safe:
        problem = "--skip-deferral requires --safe"
    elif force and wait is not None:
        problem = "--force cannot be combined with --wait"
    elif safe:
        problem = "--safe is not supported by this gateway (no gateway.restart.request method)"
    elif wait is not None:
        problem = "--wait is not supported by this gateway (it has no active-work deferral)"
    if problem is not None:
        print(f"[openclaw] {problem}", file=sys.stderr)
        return 1
    # --preserve-definition: restart never rewrites the definition here, so it always holds.
    return _service("restart", json=json_output)


# Their help is SERVICE_HELP (shared with the gateway group's lazy registration).
for _name, _function in (
    ("install", _install),
    ("uninstall", _uninstall),
    ("start", _start),
    ("stop", _stop),
    ("restart", _restart),
):
    daemon.command(_function, name=_name, help=SERVICE_HELP[_name])
