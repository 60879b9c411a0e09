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

import attrs
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
app.command("openclaw_gateway.cli.agent_node_cmd:agent_node", name="agent-node")

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


@Parameter(name="*")  # flattened: --url, --port, --token, --password on each command
@attrs.frozen
class GatewayFlags:
    """Where the gateway is and how to authenticate (cli.md §1.3), shared by the RPC commands."""

    url: Annotated[str | None, _URL] = None
    port: Annotated[str | None, _PORT] = None
    token: Annotated[str | None, _TOKEN] = None
    password: Annotated[str | None, _PASSWORD] = None
    expect_final: Annotated[bool, Parameter(negative="", show=False)] = False  # accepted, unused

    def opts(self) -> dict[str, object]:
        return {"url": self.url, "port": self.port, "token": self.token, "password": self.password}


_NO_FLAGS = GatewayFlags()


@gateway.command(name="call")
def _call(
    method: str,
    *,
    params: Annotated[str, Parameter(help="JSON object string for params.")] = "{}",
    gateway_flags: GatewayFlags = _NO_FLAGS,
    timeout: Annotated[str | None, _TIMEOUT] = None,
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Call a Gateway method and print the result."""
    from openclaw_gateway.cli.rpc_cmds import run_rpc

    opts = {**gateway_flags.opts(), "timeout": timeout, "json": json_output}
    return run_rpc(method, params, opts, _env(), render="call")


@gateway.command(name="status")
def _status(
    *,
    gateway_flags: GatewayFlags = _NO_FLAGS,
    timeout: Annotated[str | None, _TIMEOUT] = None,
    no_probe: Annotated[bool, Parameter(negative="", help="Skip the RPC probe.")] = False,
    deep: Annotated[
        bool, Parameter(negative="", help="Also scan system-level and other gateway units.")
    ] = False,
    require_rpc: Annotated[
        bool, Parameter(negative="", help="Probe with a read RPC and exit 1 if it fails.")
    ] = False,
    json_output: Annotated[bool, _JSON] = False,
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


# Service commands (service/, cli/service_cmd.py); `daemon …` is the legacy alias.
daemon = App(
    name="daemon", help="Manage the Gateway service (legacy alias).", help_format="plaintext"
)
app.command(daemon)
daemon.command(_status, name="status")


def _service(action: str, **opts: object) -> int:
    from openclaw_gateway.cli.service_cmd import run_service_command

    return run_service_command(action, opts, _env())


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
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Install and start the Gateway service (launchd/systemd; detached mode has none)."""
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


def _uninstall(*, json_output: Annotated[bool, _JSON] = False) -> int:
    """Uninstall the Gateway service (launchd/systemd; stops a detached gateway)."""
    return _service("uninstall", json=json_output)


def _start(*, json_output: Annotated[bool, _JSON] = False) -> int:
    """Start the Gateway service (launchd/systemd, or detached without a service manager)."""
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
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Stop the Gateway service (launchd/systemd/detached)."""
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
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Restart the Gateway service, or signal a foreground Gateway (SIGUSR2)."""
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


for _sub in (gateway, daemon):
    _sub.command(_install, name="install")
    _sub.command(_uninstall, name="uninstall")
    _sub.command(_start, name="start")
    _sub.command(_stop, name="stop")
    _sub.command(_restart, name="restart")


@gateway.command(name="discover")
def _discover(
    *,
    timeout: Annotated[
        str | None, Parameter(help="Per-command timeout in ms (default 2000).")
    ] = None,
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Discover gateways via Bonjour (local + wide-area if configured)."""
    from openclaw_gateway.cli.discover_cmd import run_discover

    return run_discover({"timeout": timeout, "json": json_output}, _env())


@gateway.command(name="health")
def _health(
    *,
    gateway_flags: GatewayFlags = _NO_FLAGS,
    timeout: Annotated[str | None, _TIMEOUT] = None,
    json_output: Annotated[bool, _JSON] = False,
) -> int:
    """Fetch Gateway health."""
    from openclaw_gateway.cli.rpc_cmds import run_rpc

    opts = {**gateway_flags.opts(), "timeout": timeout, "json": json_output}
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


@app.command(name="doctor")
def _doctor(
    *,
    json_output: Annotated[bool, _JSON] = False,
    fix: Annotated[
        bool,
        Parameter(
            negative="",
            help="Apply safe fixes: secret-file and state-dir permissions, stale lock/pidfile.",
        ),
    ] = False,
) -> int:
    """Check config, secrets, locks, port and service; --fix repairs the safe ones."""
    from openclaw_gateway.cli.doctor_cmd import run_doctor_command

    return run_doctor_command(_env(), as_json=json_output, fix=fix)


@app.command(name="logs")
def _logs(
    *,
    limit: Annotated[str | None, Parameter(help="Max lines to return (default 200).")] = None,
    max_bytes: Annotated[str | None, Parameter(help="Max bytes to read (default 250000).")] = None,
    follow: Annotated[bool, Parameter(negative="", help="Follow log output.")] = False,
    interval: Annotated[
        str | None, Parameter(help="Polling interval in ms (default 1000).")
    ] = None,
    json_output: Annotated[
        bool, Parameter(name="--json", negative="", help="Emit JSON log lines.")
    ] = False,
    plain: Annotated[
        bool, Parameter(negative="", help="Plain text output (no ANSI styling).")
    ] = False,
    no_color: Annotated[bool, Parameter(negative="", help="Disable ANSI colors.")] = False,
    local_time: Annotated[
        bool, Parameter(negative="", help="Display timestamps in local timezone (default).")
    ] = False,
    utc: Annotated[bool, Parameter(negative="", help="Display timestamps in UTC.")] = False,
    gateway_flags: GatewayFlags = _NO_FLAGS,
    timeout: Annotated[str | None, Parameter(help="Timeout in ms (default 30000).")] = None,
) -> int:
    """Tail gateway file logs via RPC."""
    from openclaw_gateway.cli.logs_cmd import run_logs

    opts = {
        "limit": limit,
        "max_bytes": max_bytes,
        "follow": follow,
        "interval": interval,
        "json": json_output,
        "plain": plain,
        "no_color": no_color or bool(_env().get("NO_COLOR")),
        "utc": utc,
        **gateway_flags.opts(),
        "timeout": timeout,
    }
    return run_logs(opts, _env())


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
        from openclaw_gateway.core.errors import UsageError
        from openclaw_gateway.core.paths import profile_env

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
    from openclaw_gateway.core.paths import profile_env

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
    return None, list(_hoist_gateway_options(scanned.argv))


def _option_shapes(command: App) -> dict[str, bool]:
    """--option -> takes a value, read from the command's own parameter definitions."""
    shapes: dict[str, bool] = {}
    for argument in command.assemble_argument_collection():
        takes_value = argument.token_count()[0] > 0
        for name in argument.names:
            if name.startswith("--"):
                shapes[name] = takes_value
    return shapes


def _hoist_gateway_options(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`gateway --port N status` -> `gateway status --port N` (cli.md §0, commander style)."""
    from openclaw_gateway.cli.argv import command_index, hoist_parent_options

    start = command_index(argv)
    if start is None or argv[start] != "gateway" or start + 1 >= len(argv):
        return argv
    if not argv[start + 1].startswith("-") or argv[start + 1] in ("-h", "--help"):
        return argv  # the common case: nothing written before the subcommand
    names = [name for name in gateway if not name.startswith("-") and name != "run"]
    subcommands = {name: _option_shapes(gateway[name]) for name in names}
    return hoist_parent_options(argv, _option_shapes(gateway["run"]), subcommands)


def main(argv: list[str] | None = None) -> None:
    if argv is None and hasattr(signal, "SIGPIPE"):
        # `openclaw gateway call status | head` should end quietly, like any Unix tool.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    tokens = sys.argv[1:] if argv is None else argv
    failed, rest = prepare(list(tokens))
    if failed is not None:
        sys.exit(failed)
    from cyclopts.exceptions import CycloptsError

    try:
        code = app.meta(rest, result_action="return_value", exit_on_error=False, print_error=False)
    except CycloptsError as exc:
        sys.exit(_usage_error(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: Exception) -> int:
    """A command line we cannot parse: the official (commander-based) wording, exit 1."""
    from cyclopts.exceptions import (
        MissingArgumentError,
        UnknownCommandError,
        UnknownOptionError,
        UnusedCliTokensError,
    )

    chain = [word for word in (getattr(exc, "command_chain", None) or ()) if word != "openclaw"]
    command = " ".join(["openclaw", *chain])
    unused = list(getattr(exc, "unused_tokens", None) or [])
    lines: list[str]
    if isinstance(exc, UnknownOptionError):
        lines = [f'OpenClaw does not recognize option "{exc.token.keyword or exc.token.value}".']
    elif isinstance(exc, UnknownCommandError) and not chain and unused:
        lines = [f'OpenClaw does not know the command "{unused[0]}".']
    elif isinstance(exc, (UnknownCommandError, UnusedCliTokensError)) and chain in (
        ["gateway"],
        ["config"],
        ["daemon"],
    ):
        # A word after a command group that is none of its subcommands.
        lines = [f'OpenClaw {" ".join(chain)} has no command "{unused[0] if unused else ""}".']
    elif isinstance(exc, UnusedCliTokensError):
        lines = ["Too many arguments for this command."]
    elif isinstance(exc, MissingArgumentError) and exc.argument is not None:
        name = exc.argument.name.lstrip("-")
        if exc.keyword:
            lines = [
                "OpenClaw could not parse this command: "
                f"option '{exc.keyword} <{name}>' argument missing"
            ]
        else:
            lines = [f'Missing required argument "{name}".']
    else:
        lines = [f"OpenClaw could not parse this command: {' '.join(str(exc).split())}"]
    lines.append(f"Try: {command} --help")
    if 'command "' in lines[0]:  # an unknown command also points at the docs
        lines.append("Docs: https://docs.openclaw.ai/cli")
    print("\n".join(lines), file=sys.stderr)
    return 1


def main_gateway(argv: list[str] | None = None) -> None:
    """`openclaw-gateway ...` is `openclaw gateway ...`."""
    tokens = sys.argv[1:] if argv is None else argv
    main(["gateway", *tokens])
