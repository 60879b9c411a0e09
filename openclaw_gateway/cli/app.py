"""The `openclaw` command line (cyclopts).

Root options: `--dev`/`--profile` are taken from raw argv first (cli/argv.py, as the official
CLI does), so `openclaw --dev gateway` selects the dev profile while `openclaw gateway --dev` and
`openclaw gateway run --dev` reach the run option. The meta app then parses `--log-level` and
`--no-color` and runs the command with the resulting environment (params.COMMAND_ENV).

The `gateway` group is gateway_app.py, the service commands and the `daemon` alias
service_app.py; the root commands (config, doctor, logs) and the argv handling live here.
"""

# No `from __future__ import annotations` here: cyclopts reads these command signatures on
# every run, and annotations evaluated once at import spare it an eval() each (issue 17).
import gc
import os
import signal
import sys
from typing import Annotated

from cyclopts import App, Group, Parameter

from openclaw_gateway import __version__
from openclaw_gateway.cli.params import (
    COMMAND_ENV,
    GROUP_HELP,
    JSON,
    NO_FLAGS,
    GatewayFlags,
    command_env,
)

GLOBAL = Group("Global options", sort_key=100)

app = App(
    name="openclaw",
    help="OpenClaw gateway (Python reimplementation).",
    version=__version__,
    backend="trio",
    help_format="plaintext",
)
config_app = App(name="config", help="Read the configuration.", help_format="plaintext")
# The groups are registered by import path (cyclopts lazy commands): a command builds only its
# own group, e.g. `openclaw config get` never reads the gateway commands (issue 17).
app.command("openclaw_gateway.cli.gateway_app:gateway", name="gateway", help=GROUP_HELP["gateway"])
app.command(config_app)
app.command("openclaw_gateway.cli.agent_node_cmd:agent_node", name="agent-node")
app.command("openclaw_gateway.cli.service_app:daemon", name="daemon", help=GROUP_HELP["daemon"])


@config_app.command(name="get")
def config_get(
    path: str = "", *, json_output: Annotated[bool, Parameter(name="--json")] = False
) -> int:
    """Print a config value (secrets redacted). `gateway` shows the effective gateway view."""
    from openclaw_gateway.cli.config_cmd import config_get_command

    return config_get_command(path, command_env(), json_output)


@config_app.command(name="set")
def config_set(path: str, value: str) -> int:
    """Set a config value (dotted path; JSON5 values, else a string) and save atomically."""
    from openclaw_gateway.cli.config_cmd import config_set_command

    return config_set_command(path, value, command_env())


@app.command(name="doctor")
def _doctor(
    *,
    json_output: Annotated[bool, JSON] = False,
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

    return run_doctor_command(command_env(), as_json=json_output, fix=fix)


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
    gateway_flags: GatewayFlags = NO_FLAGS,
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
        "no_color": no_color or bool(command_env().get("NO_COLOR")),
        "utc": utc,
        **gateway_flags.opts(),
        "timeout": timeout,
    }
    return run_logs(opts, command_env())


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
    env = dict(COMMAND_ENV) if COMMAND_ENV else dict(os.environ)
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
    COMMAND_ENV.clear()
    COMMAND_ENV.update(env)
    result = app(tokens, result_action="return_value")
    return result if isinstance(result, int) else 0


def prepare(argv: list[str]) -> tuple[int | None, list[str]]:
    """Apply the root --dev/--profile to a copy of the environment (kept in COMMAND_ENV).

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
    COMMAND_ENV.clear()
    COMMAND_ENV.update(env)
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
    gateway = app["gateway"]
    names = [name for name in gateway if not name.startswith("-") and name != "run"]
    subcommands = {name: _option_shapes(gateway[name]) for name in names}
    return hoist_parent_options(argv, _option_shapes(gateway["run"]), subcommands)


def main(argv: list[str] | None = None) -> None:
    process = argv is None  # the real entry point, not a test calling main([...])
    if process:
        if hasattr(signal, "SIGPIPE"):
            # `openclaw gateway call status | head` should end quietly, like any Unix tool.
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        from openclaw_gateway.core import gcpace

        gcpace.startup()  # a gateway goes back to the default pace once ready
    try:
        _main(sys.argv[1:] if argv is None else argv)
    finally:
        if process:
            # The process ends: its last collection need not walk every module, class and
            # function again (~45 ms for `gateway call`).
            gc.freeze()


def _main(tokens: list[str]) -> None:
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
