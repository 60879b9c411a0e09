"""The `openclaw` command line (cyclopts). Root options --dev/--profile set the profile env."""

from __future__ import annotations

import os
import sys
from typing import Annotated

from cyclopts import App, Parameter

from openclaw_gateway import __version__

app = App(
    name="openclaw",
    help="OpenClaw gateway (Python reimplementation).",
    version=__version__,
    backend="trio",
)
gateway = App(name="gateway", help="Run, inspect and query the WebSocket gateway.")
config_app = App(name="config", help="Read the configuration.")
app.command(gateway)
app.command(config_app)

_ENV: dict[str, str] = {}


def _env() -> dict[str, str]:
    return _ENV if _ENV else dict(os.environ)


def _run(
    *,
    port: Annotated[str | None, Parameter(help="Port (default 18789).")] = None,
    bind: Annotated[str | None, Parameter(help="loopback|lan|tailnet|auto|custom")] = None,
    token: Annotated[str | None, Parameter(help="Shared token clients must present.")] = None,
    auth: Annotated[str | None, Parameter(help="none|token|password|trusted-proxy")] = None,
    password: Annotated[
        str | None, Parameter(help="Shared password (prefer --password-file).")
    ] = None,
    password_file: Annotated[str | None, Parameter(help="Read the password from a file.")] = None,
    tailscale: Annotated[str | None, Parameter(help="off|serve|funnel")] = None,
    tailscale_reset_on_exit: Annotated[bool, Parameter(show=False, negative="")] = False,
    allow_unconfigured: Annotated[bool, Parameter(negative="")] = False,
    dev: Annotated[bool, Parameter(negative="", help="Create a dev config if missing.")] = False,
    reset: Annotated[
        bool, Parameter(negative="", help="With --dev: reset the dev config.")
    ] = False,
    force: Annotated[bool, Parameter(negative="", help="Free the port first.")] = False,
    verbose: Annotated[bool, Parameter(negative="")] = False,
    ws_log: Annotated[str, Parameter(help="auto|full|compact")] = "auto",
    compact: Annotated[bool, Parameter(negative="")] = False,
) -> int:
    from openclaw_gateway.cli.run import RunOptions, run_gateway_command

    opts = RunOptions(
        port=port,
        bind=bind,
        token=token,
        auth=auth,
        password=password,
        password_file=password_file,
        tailscale=tailscale,
        tailscale_reset_on_exit=tailscale_reset_on_exit,
        allow_unconfigured=allow_unconfigured,
        dev=dev,
        reset=reset,
        force=force,
        verbose=verbose,
        ws_log=ws_log,
        compact=compact,
    )
    return run_gateway_command(opts, _env())


# `openclaw gateway` with no subcommand is `gateway run`.
gateway.default(_run)
gateway.command(_run, name="run", help="Run the gateway in the foreground.")


@config_app.command(name="get")
def config_get(
    path: str = "", *, json_output: Annotated[bool, Parameter(name="--json")] = False
) -> int:
    """Print a config section (secrets redacted). `gateway` shows the effective gateway view."""
    from openclaw_gateway.cli.config_cmd import config_get_command

    return config_get_command(path, _env(), json_output)


@app.meta.default
def _meta(
    *tokens: Annotated[str, Parameter(show=False, allow_leading_hyphen=True)],
    dev: Annotated[
        bool, Parameter(negative="", help="Use the dev profile (~/.openclaw-dev).")
    ] = False,
    profile: Annotated[str | None, Parameter(help="Use ~/.openclaw-<name>.")] = None,
    log_level: Annotated[
        str | None, Parameter(help="silent|fatal|error|warn|info|debug|trace")
    ] = None,
    no_color: Annotated[bool, Parameter(negative="")] = False,
) -> int:
    from openclaw_gateway.errors import UsageError
    from openclaw_gateway.paths import profile_env

    env = dict(os.environ)
    try:
        env.update(profile_env(dev, profile, env))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if log_level:
        env["OPENCLAW_LOG_LEVEL"] = log_level
    if no_color:
        env["NO_COLOR"] = "1"
    _ENV.clear()
    _ENV.update(env)
    result = app(tokens, result_action="return_value")
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> None:
    tokens = sys.argv[1:] if argv is None else argv
    code = app.meta(tokens, result_action="return_value")
    sys.exit(code if isinstance(code, int) else 0)


def main_gateway(argv: list[str] | None = None) -> None:
    """`openclaw-gateway ...` is `openclaw gateway ...`."""
    tokens = sys.argv[1:] if argv is None else argv
    main(["gateway", *tokens])
