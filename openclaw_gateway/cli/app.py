"""The `openclaw` command line (cyclopts).

Root options: `--dev`/`--profile` are taken from raw argv first (cli/argv.py, as the official
CLI does), so `openclaw --dev gateway` selects the dev profile while `openclaw gateway --dev` and
`openclaw gateway run --dev` reach the run option. The meta app then parses `--log-level` and
`--no-color` and runs the command with the resulting environment.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

from cyclopts import App, Group, Parameter

from openclaw_gateway import __version__

GLOBAL = Group("Global options", sort_key=100)

app = App(
    name="openclaw",
    help="OpenClaw gateway (Python reimplementation).",
    version=__version__,
    backend="trio",
    help_format="plaintext",
)
gateway = App(
    name="gateway",
    help="Run, inspect and query the WebSocket gateway.",
    help_format="plaintext",
)
config_app = App(name="config", help="Read the configuration.", help_format="plaintext")
app.command(gateway)
app.command(config_app)

_ENV: dict[str, str] = {}


def _env() -> dict[str, str]:
    return _ENV if _ENV else dict(os.environ)


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
    return run_gateway_command(opts, _env())


# `openclaw gateway` with no subcommand is `gateway run`.
gateway.default(_run)
gateway.command(_run, name="run", help="Run the WebSocket Gateway (foreground).")


_URL = Parameter(help="Gateway WebSocket URL (credentials are never taken from config with it).")
_PORT = Parameter(help="Local gateway port (ws://127.0.0.1:<port>).")
_TOKEN = Parameter(help="Gateway token.")
_PASSWORD = Parameter(help="Gateway password.")
_TIMEOUT = Parameter(help="Timeout in ms (default 10000).")
_JSON = Parameter(name="--json", negative="", help="Output JSON.")


@gateway.command(name="call")
def _call(
    method: str,
    *,
    params: Annotated[str, Parameter(help="JSON object string for params.")] = "{}",
    url: Annotated[str | None, _URL] = None,
    port: Annotated[str | None, _PORT] = None,
    token: Annotated[str | None, _TOKEN] = None,
    password: Annotated[str | None, _PASSWORD] = None,
    timeout: Annotated[str | None, _TIMEOUT] = None,
    expect_final: Annotated[bool, Parameter(negative="", show=False)] = False,
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Call a Gateway method and print the result."""
    from openclaw_gateway.cli.rpc_cmds import run_rpc

    opts = {
        "url": url,
        "port": port,
        "token": token,
        "password": password,
        "timeout": timeout,
        "json": json_output,
    }
    return run_rpc(method, params, opts, _env(), render="call")


@gateway.command(name="status")
def _status(
    *,
    url: Annotated[str | None, _URL] = None,
    port: Annotated[str | None, _PORT] = None,
    token: Annotated[str | None, _TOKEN] = None,
    password: Annotated[str | None, _PASSWORD] = None,
    timeout: Annotated[str | None, _TIMEOUT] = None,
    no_probe: Annotated[bool, Parameter(negative="", help="Skip the RPC probe.")] = False,
    deep: Annotated[
        bool, Parameter(negative="", help="Scan more (no extra scans here yet).")
    ] = False,
    require_rpc: Annotated[
        bool, Parameter(negative="", help="Probe with a read RPC and exit 1 if it fails.")
    ] = False,
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Show gateway service status and probe the Gateway."""
    from openclaw_gateway.cli.status_cmd import run_status

    opts = {
        "url": url,
        "port": port,
        "token": token,
        "password": password,
        "timeout": timeout,
        "no_probe": no_probe,
        "deep": deep,
        "require_rpc": require_rpc,
        "json": json_output,
    }
    return run_status(opts, _env())


@gateway.command(name="probe")
def _probe(
    *,
    url: Annotated[
        str | None, Parameter(help="Explicit Gateway URL to probe (also probes localhost).")
    ] = None,
    port: Annotated[str | None, _PORT] = None,
    ssh: Annotated[str | None, Parameter(help="SSH target for a tunnel: user@host[:port].")] = None,
    ssh_identity: Annotated[str | None, Parameter(help="SSH identity file.")] = None,
    ssh_auto: Annotated[
        bool, Parameter(negative="", help="Pick an SSH target from discovery.")
    ] = False,
    token: Annotated[str | None, _TOKEN] = None,
    password: Annotated[str | None, _PASSWORD] = None,
    timeout: Annotated[
        str | None, Parameter(help="Overall probe budget in ms (default 3000).")
    ] = None,
    json_output: Annotated[bool, _JSON] = False,
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
    return run_probe(opts, _env())


@gateway.command(name="health")
def _health(
    *,
    url: Annotated[str | None, _URL] = None,
    port: Annotated[str | None, _PORT] = None,
    token: Annotated[str | None, _TOKEN] = None,
    password: Annotated[str | None, _PASSWORD] = None,
    timeout: Annotated[str | None, _TIMEOUT] = None,
    expect_final: Annotated[bool, Parameter(negative="", show=False)] = False,
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Fetch Gateway health."""
    from openclaw_gateway.cli.rpc_cmds import run_rpc

    opts = {
        "url": url,
        "port": port,
        "token": token,
        "password": password,
        "timeout": timeout,
        "json": json_output,
    }
    return run_rpc("health", None, opts, _env(), render="health")


@config_app.command(name="get")
def config_get(
    path: str = "", *, json_output: Annotated[bool, Parameter(name="--json")] = False
) -> int:
    """Print a config value (secrets redacted). `gateway` shows the effective gateway view."""
    from openclaw_gateway.cli.config_cmd import config_get_command

    return config_get_command(path, _env(), json_output)


@config_app.command(name="set")
def config_set(path: str, value: str) -> int:
    """Set a config value (dotted path; JSON5 values, else a string) and save atomically."""
    from openclaw_gateway.cli.config_cmd import config_set_command

    return config_set_command(path, value, _env())


@app.meta.default
def _meta(
    *tokens: Annotated[str, Parameter(show=False, allow_leading_hyphen=True)],
    dev: Annotated[
        bool,
        Parameter(
            negative="",
            group=GLOBAL,
            help="Dev profile: isolate state under ~/.openclaw-dev, default gateway port 19001.",
        ),
    ] = False,
    profile: Annotated[
        str | None,
        Parameter(
            group=GLOBAL,
            help="Use a named profile (isolates OPENCLAW_STATE_DIR/OPENCLAW_CONFIG_PATH under "
            "~/.openclaw-<name>).",
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        Parameter(
            group=GLOBAL,
            help="Global log level override for file + console "
            "(silent|fatal|error|warn|info|debug|trace).",
        ),
    ] = None,
    no_color: Annotated[
        bool, Parameter(negative="", group=GLOBAL, help="Disable ANSI colors.")
    ] = False,
) -> int:
    # main() applies --dev/--profile from raw argv first (cli/argv.py), so these are normally
    # unset here; they are declared for help, and honoured if the meta app is called directly.
    env = dict(_ENV) if _ENV else dict(os.environ)
    if dev or profile:
        from openclaw_gateway.errors import UsageError
        from openclaw_gateway.paths import profile_env

        try:
            env.update(profile_env(dev, profile, env))
        except UsageError as exc:
            print(f"[openclaw] {exc}", file=sys.stderr)
            return 2
    if log_level:
        env["OPENCLAW_LOG_LEVEL"] = log_level
    if no_color:
        env["NO_COLOR"] = "1"
    _ENV.clear()
    _ENV.update(env)
    result = app(tokens, result_action="return_value")
    return result if isinstance(result, int) else 0


def prepare(argv: list[str]) -> tuple[int | None, list[str]]:
    """Apply the root --dev/--profile to a copy of the environment (kept in _ENV).

    Returns (exit code, None) on an argument error, else (None, remaining argv).
    """
    from openclaw_gateway.cli.argv import ArgumentError, scan_profile_args
    from openclaw_gateway.paths import profile_env

    env = dict(os.environ)
    try:
        scanned = scan_profile_args(argv)
        if scanned.profile:
            env.update(profile_env(False, scanned.profile, env))
    except ArgumentError as exc:
        print(f"[openclaw] {exc}", file=sys.stderr)
        return exc.exit_code, []
    _ENV.clear()
    _ENV.update(env)
    return None, list(scanned.argv)


def main(argv: list[str] | None = None) -> None:
    if argv is None and hasattr(signal, "SIGPIPE"):
        # `openclaw gateway call status | head` should end quietly, like any Unix tool.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    tokens = sys.argv[1:] if argv is None else argv
    failed, rest = prepare(list(tokens))
    if failed is not None:
        sys.exit(failed)
    code = app.meta(rest, result_action="return_value")
    sys.exit(code if isinstance(code, int) else 0)


def main_gateway(argv: list[str] | None = None) -> None:
    """`openclaw-gateway ...` is `openclaw gateway ...`."""
    tokens = sys.argv[1:] if argv is None else argv
    main(["gateway", *tokens])
