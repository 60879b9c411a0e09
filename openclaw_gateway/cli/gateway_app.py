"""`openclaw gateway …`: run (also the default), call, health, status, probe, discover.

The service commands (install, start, stop, restart, uninstall) live in service_app.py; app.py
mounts this group on the root. Subcommands are registered by import path (cyclopts lazy
commands): cyclopts reads a command's signature only when it is the one being run (or shown in
help), so `openclaw gateway call` does not pay for the other eleven (issue 17).
"""

# No `from __future__ import annotations` here: cyclopts reads these command signatures on
# every run, and annotations evaluated once at import spare it an eval() each (issue 17).
from typing import Annotated

from cyclopts import App, Parameter

from openclaw_gateway.cli.params import (
    GROUP_HELP,
    JSON,
    NO_FLAGS,
    PASSWORD,
    PORT,
    SERVICE_HELP,
    TIMEOUT,
    TOKEN,
    GatewayFlags,
    command_env,
)

gateway = App(name="gateway", help=GROUP_HELP["gateway"], help_format="plaintext")


def _run(
    *,
    port: Annotated[str | None, Parameter(help="Port for the gateway WebSocket.")] = None,
    bind: Annotated[
        str | None,
        Parameter(
            help='Bind mode ("loopback"|"lan"|"tailnet"|"auto"|"custom"). Defaults to config '
            "gateway.bind (or loopback)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        Parameter(
            help="Shared token required in connect.params.auth.token (default: "
            "OPENCLAW_GATEWAY_TOKEN env if set)."
        ),
    ] = None,
    auth: Annotated[
        str | None, Parameter(help='Gateway auth mode ("none"|"token"|"password"|"trusted-proxy").')
    ] = None,
    password: Annotated[str | None, Parameter(help="Password for auth mode=password.")] = None,
    password_file: Annotated[str | None, Parameter(help="Read gateway password from file.")] = None,
    tailscale: Annotated[
        str | None, Parameter(help='Tailscale exposure mode ("off"|"serve"|"funnel").')
    ] = None,
    tailscale_reset_on_exit: Annotated[bool, Parameter(show=False, negative="")] = False,
    allow_unconfigured: Annotated[
        bool,
        Parameter(
            negative="",
            help="Allow gateway start without enforcing gateway.mode=local in config (does not "
            "repair config).",
        ),
    ] = False,
    dev: Annotated[
        bool,
        Parameter(
            negative="",
            help="Create a dev config + workspace if missing (no BOOTSTRAP.md). Before the "
            "command (openclaw --dev gateway) it selects the dev profile instead.",
        ),
    ] = False,
    reset: Annotated[
        bool,
        Parameter(
            negative="",
            help="Reset dev config + credentials + sessions + workspace (requires --dev).",
        ),
    ] = False,
    ambient_channels: Annotated[
        bool,
        Parameter(
            negative="",
            help="Allow the gateway to auto-configure channels from ambient environment variables.",
        ),
    ] = False,
    dev_ambient_channels: Annotated[bool, Parameter(show=False, negative="")] = False,
    force: Annotated[
        bool,
        Parameter(
            negative="", help="Kill any existing listener on the target port before starting."
        ),
    ] = False,
    verbose: Annotated[
        bool, Parameter(negative="", help="Verbose logging to stdout/stderr.")
    ] = False,
    ws_log: Annotated[
        str, Parameter(help='WebSocket log style ("auto"|"full"|"compact").')
    ] = "auto",
    compact: Annotated[bool, Parameter(negative="", help='Alias for "--ws-log compact".')] = False,
    cli_backend_logs: Annotated[
        bool,
        Parameter(
            negative="",
            help="Only show CLI backend logs in the console (includes stdout/stderr).",
        ),
    ] = False,
    claude_cli_logs: Annotated[bool, Parameter(show=False, negative="")] = False,
    raw_stream: Annotated[
        bool, Parameter(negative="", help="Log raw model stream events to jsonl.")
    ] = False,
    raw_stream_path: Annotated[str | None, Parameter(help="Raw stream jsonl path.")] = None,
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
        ambient_channels=ambient_channels or dev_ambient_channels,
        force=force,
        verbose=verbose,
        ws_log=ws_log,
        compact=compact,
        cli_backend_logs=cli_backend_logs or claude_cli_logs,
        raw_stream=raw_stream,
        raw_stream_path=raw_stream_path,
    )
    return run_gateway_command(opts, command_env())


_HERE = __name__
# `openclaw gateway` with no subcommand is `gateway run`.
gateway.default(_run)
gateway.command(f"{_HERE}:_run", name="run", help="Run the WebSocket Gateway (foreground).")


def _call(
    method: str,
    *,
    params: Annotated[str, Parameter(help="JSON object string for params.")] = "{}",
    gateway_flags: GatewayFlags = NO_FLAGS,
    timeout: Annotated[str | None, TIMEOUT] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Call a Gateway method and print the result."""
    from openclaw_gateway.cli.rpc_cmds import run_rpc

    opts = {**gateway_flags.opts(), "timeout": timeout, "json": json_output}
    return run_rpc(method, params, opts, command_env(), render="call")


def gateway_status(
    *,
    gateway_flags: GatewayFlags = NO_FLAGS,
    timeout: Annotated[str | None, TIMEOUT] = None,
    no_probe: Annotated[bool, Parameter(negative="", help="Skip the RPC probe.")] = False,
    deep: Annotated[
        bool, Parameter(negative="", help="Also scan system-level and other gateway units.")
    ] = False,
    require_rpc: Annotated[
        bool, Parameter(negative="", help="Probe with a read RPC and exit 1 if it fails.")
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Show gateway service status and probe the Gateway."""
    from openclaw_gateway.cli.status_cmd import run_status

    opts = {
        **gateway_flags.opts(),
        "timeout": timeout,
        "no_probe": no_probe,
        "deep": deep,
        "require_rpc": require_rpc,
        "json": json_output,
    }
    return run_status(opts, command_env())


def _probe(
    *,
    url: Annotated[
        str | None, Parameter(help="Explicit Gateway URL to probe (also probes localhost).")
    ] = None,
    port: Annotated[str | None, PORT] = None,
    ssh: Annotated[str | None, Parameter(help="SSH target for a tunnel: user@host[:port].")] = None,
    ssh_identity: Annotated[str | None, Parameter(help="SSH identity file.")] = None,
    ssh_auto: Annotated[
        bool, Parameter(negative="", help="Pick an SSH target from discovery.")
    ] = False,
    token: Annotated[str | None, TOKEN] = None,
    password: Annotated[str | None, PASSWORD] = None,
    timeout: Annotated[
        str | None, Parameter(help="Overall probe budget in ms (default 3000).")
    ] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Show gateway reachability + discovery + health + status summary (local + remote)."""
    from openclaw_gateway.cli.probe_cmd import run_probe

    opts = {
        "url": url,
        "port": port,
        "ssh": ssh,
        "ssh_identity": ssh_identity,
        "ssh_auto": ssh_auto,
        "token": token,
        "password": password,
        "timeout": timeout,
        "json": json_output,
    }
    return run_probe(opts, command_env())


def _discover(
    *,
    timeout: Annotated[
        str | None, Parameter(help="Per-command timeout in ms (default 2000).")
    ] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Discover gateways via Bonjour (local + wide-area if configured)."""
    from openclaw_gateway.cli.discover_cmd import run_discover

    return run_discover({"timeout": timeout, "json": json_output}, command_env())


def _health(
    *,
    gateway_flags: GatewayFlags = NO_FLAGS,
    timeout: Annotated[str | None, TIMEOUT] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Fetch Gateway health."""
    from openclaw_gateway.cli.rpc_cmds import run_rpc

    opts = {**gateway_flags.opts(), "timeout": timeout, "json": json_output}
    return run_rpc("health", None, opts, command_env(), render="health")


for _name, _function in (
    ("call", _call),
    ("status", gateway_status),
    ("probe", _probe),
    ("discover", _discover),
    ("health", _health),
):
    gateway.command(f"{_HERE}:{_function.__name__}", name=_name, help=_function.__doc__)
for _name, _help in SERVICE_HELP.items():
    gateway.command(f"openclaw_gateway.cli.service_app:_{_name}", name=_name, help=_help)
