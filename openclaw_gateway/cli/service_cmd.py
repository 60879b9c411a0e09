"""CLI glue for `gateway install|start|stop|restart|uninstall` (and `daemon …`).

The work is in openclaw_gateway/service/; this module turns flags into a Context, supplies
the health check (a real `health` RPC through our client), and prints the result the official
way: `--json` prints the lifecycle envelope on stdout; otherwise progress lines and the
message go to stdout, an error to stderr followed by `Tip: <hint>` lines. Refusals raised
before the action (the canonical-HOME guard on start/stop/uninstall) print the generic CLI
failure block, as the official CLI does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import trio

from openclaw_gateway.cli.rpc_cmds import call_once, load_runtime_token, method_scope
from openclaw_gateway.cli.target import CliFailure, generic_failure_lines, resolve_target
from openclaw_gateway.client import GatewayRequestError, GatewayTransportError
from openclaw_gateway.core.config import load_snapshot
from openclaw_gateway.core.paths import resolve_paths
from openclaw_gateway.host.service import actions
from openclaw_gateway.host.service.manager import Context
from openclaw_gateway.host.service.results import ActionResult

HEALTH_CALL_TIMEOUT_MS = 2000


def health_check(env: Mapping[str, str]) -> actions.HealthCheck:
    """port -> True when the gateway on 127.0.0.1:<port> answers a `health` RPC."""

    def healthy(port: int) -> bool:
        paths = resolve_paths(env)
        try:
            target = resolve_target(
                method="health",
                url_flag=None,
                port_flag=str(port),
                token_flag=None,
                password_flag=None,
                env=env,
                paths=paths,
                loaded=load_snapshot(paths.config_path),
                runtime_token=load_runtime_token(paths),
            )
        except CliFailure:
            return False

        async def call() -> bool:
            try:
                await call_once(
                    target, "health", None, HEALTH_CALL_TIMEOUT_MS, method_scope("health")
                )
            except (GatewayTransportError, GatewayRequestError):
                return False
            return True

        return trio.run(call)

    return healthy


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def emit(result: ActionResult, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    if result.generic and not result.ok:
        if as_json:
            body = {"ok": False, "error": {"type": "cli_error", "message": result.error}}
            print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
        else:
            print("\n".join(generic_failure_lines(str(result.error))), file=err)
        return 1
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False), file=out)
        return result.exit_code
    for line in result.lines:
        print(line, file=out)
    for warning in result.warnings:
        print(warning, file=out)
    if result.ok:
        if result.message:
            print(result.message, file=out)
        for line in result.lines_after:
            print(line, file=out)
    else:
        print(result.error, file=err)
        for hint in result.hints:
            print(f"Tip: {hint}", file=out)
    return result.exit_code


def run_service_command(
    action: str,
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO | None = None,
    err: TextIO | None = None,
    ctx: Context | None = None,
) -> int:
    """`openclaw gateway <action>`; `ctx` lets tests pick the platform and manager."""
    context = ctx or Context(env=dict(env))
    healthy = health_check(context.env)
    if action == "install":
        result = actions.install(
            context,
            actions.InstallOptions(
                port=opts.get("port"),
                token=opts.get("token"),
                wrapper=opts.get("wrapper"),
                runtime=opts.get("runtime"),
                runtime_path=opts.get("runtime_path"),
                force=bool(opts.get("force")),
                allow_unconfigured=bool(opts.get("allow_unconfigured")),
            ),
        )
    elif action == "start":
        result = actions.start(context, healthy)
    elif action == "stop":
        result = actions.stop(
            context,
            force=bool(opts.get("force")),
            interactive=interactive(),
            disable=bool(opts.get("disable")),
        )
    elif action == "restart":
        result = actions.restart(context, healthy)
    elif action == "uninstall":
        result = actions.uninstall(context)
    else:  # pragma: no cover - app.py registers exactly the five actions
        raise ValueError(action)
    return emit(
        result, as_json=bool(opts.get("json")), out=out or sys.stdout, err=err or sys.stderr
    )
