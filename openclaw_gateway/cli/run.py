"""`openclaw gateway run`: the official checks, in the official order, then the gateway.

Order (official `run-*.mjs` and its pre-action hook, checked against the real program):

1. `--reset` without dev                         plain, exit 1
2. mode guard on a *valid* config (pre-action)   plain, exit 78 (skipped with --reset)
3. `--ws-log`                                    plain, exit 1
   -- from here on, CLI errors carry a `<ISO ts> ` prefix (no subsystem) --
4. dev config (+ --reset), `loading configuration…`
5. --port, gateway.port range, --bind (flag or config), --force
6. --auth, --tailscale, --password/--password-file, the --password warning
7. `resolving authentication…`, mode guard again (catches unparseable/invalid configs)
8. password mode without a password, auth=none warning, non-loopback bind without auth (78)
9. `starting...`, then start-up failures as `Gateway failed to start: …`: invalid config (78),
   weak secrets (1), effective-config conflicts (78), bind planning (1), tailscale (1), the
   state lock (78) and a busy port (1, with the owner listing).

Steps 1-8 and the restart loop live here; step 9, the start-up stage, is run_start.py.
"""

from __future__ import annotations

import signal
import sys
import time

import attrs
import trio

from openclaw_gateway.cli.dev_config import ensure_dev_config
from openclaw_gateway.cli.run_checks import (
    RuntimeConsole,
    gateway_secrets,
    is_invalid_secret,
    miskey_hints,
    present,
    read_secret_file,
    resolve_auth,
    start_guard_errors,
)
from openclaw_gateway.cli.run_live import log_level
from openclaw_gateway.cli.run_start import Prepared, RestartRequested, RunExit, start
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    ConfigError,
    GatewayError,
    StartupError,
    UsageError,
)
from openclaw_gateway.core.logs import WS_STYLES, Logger, Redactor
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.core.paths import invalid_port_option, parse_port, resolve_paths, resolve_port
from openclaw_gateway.host.netbind import bind_host, default_bind, in_container
from openclaw_gateway.security.auth import AUTH_MODES
from openclaw_gateway.server.restart import SignalObserver


@attrs.frozen
class RunOptions:
    port: str | None = None
    bind: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    auth: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    password_file: str | None = None
    tailscale: str | None = None
    tailscale_reset_on_exit: bool = False
    allow_unconfigured: bool = False
    dev: bool = False
    reset: bool = False
    ambient_channels: bool = False
    force: bool = False
    verbose: bool = False
    ws_log: str = "auto"
    compact: bool = False
    cli_backend_logs: bool = False
    raw_stream: bool = False
    raw_stream_path: str | None = None


def run_gateway_command(opts: RunOptions, env: dict[str, str]) -> int:
    """The checks and the run; a SIGUSR2 restart redoes all of it (same pid, same flags).

    Each round reloads the config from disk and re-checks it, so a config that became invalid
    fails the restart exactly as it would fail a start. The round before it has released the
    state lock, the store, the listeners and the runtime token (regenerated, as the official
    warning says), so nothing is carried over but the flags, the console and the redactor.
    """
    redactor = Redactor([opts.token, opts.password])
    console = Logger(redactor=redactor, verbose=opts.verbose, level=log_level(env, cfg.Config()))
    out = RuntimeConsole(redactor)
    observer = SignalObserver(time.monotonic)
    # A SIGUSR2 between two rounds (no trio receiver installed) must not kill the process.
    try:
        previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        installed = True
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous, installed = None, False
    try:
        while True:
            try:
                return _run(opts, env, redactor, console, out, observer)
            except RestartRequested:
                # Never wipe the dev config or kill listeners again on a restart.
                opts = attrs.evolve(opts, reset=False, force=False)
            except RunExit as done:
                return done.code
            except UsageError as exc:
                out.error(str(exc))
                return exc.exit_code
            except GatewayError as exc:
                out.error(f"Gateway failed to start: {exc}")
                return exc.exit_code
            except KeyboardInterrupt:
                return EXIT_OK
    finally:
        if installed:
            signal.signal(signal.SIGUSR2, previous)


# Official flags whose subject does not exist here: refused, never accepted and ignored.
UNSUPPORTED_FLAGS = (
    ("ambient_channels", "--ambient-channels", "no channels are configured from the environment"),
    ("cli_backend_logs", "--cli-backend-logs", "no CLI backend runs in this gateway"),
    ("raw_stream", "--raw-stream", "no raw model stream is logged by this gateway"),
    ("raw_stream_path", "--raw-stream-path", "no raw model stream is logged by this gateway"),
)


def unsupported_flags(opts: RunOptions) -> str | None:
    """The refusal for the first official flag given that has no meaning here, or None."""
    for field, flag, why in UNSUPPORTED_FLAGS:
        if getattr(opts, field):
            return f"{flag} is not supported: {why}."
    return None


def _fail(out: RuntimeConsole, message: str, code: int) -> RunExit:
    out.error(message)
    return RunExit(code)


def _run(
    opts: RunOptions,
    env: dict[str, str],
    redactor: Redactor,
    console: Logger,
    out: RuntimeConsole,
    observer: SignalObserver,
) -> int:
    dev_mode = opts.dev or (env.get("OPENCLAW_PROFILE") or "").strip().lower() == "dev"
    if opts.reset and not dev_mode:
        raise _fail(out, "Use --reset with --dev.", EXIT_FAILURE)
    paths = resolve_paths(env)
    if not opts.reset:
        # The official pre-action hook guards a *valid* config before the command runs.
        early = cfg.load_snapshot(paths.config_path)
        if early.valid:
            errors = start_guard_errors(
                allow_unconfigured=opts.allow_unconfigured,
                exists=early.exists,
                mode=early.config.gateway.mode,
                dev=dev_mode,
            )
            if errors:
                raise _fail(out, "\n".join(errors), EXIT_CONFIG)
    ws_style = "compact" if opts.compact else opts.ws_log
    if ws_style not in WS_STYLES:
        raise _fail(out, 'Invalid --ws-log. Use "auto", "full", or "compact".', EXIT_FAILURE)
    refused = unsupported_flags(opts)
    if refused:
        raise _fail(out, refused, EXIT_FAILURE)
    out.stamped = True
    if dev_mode:
        ensure_dev_config(paths, env, out, reset=opts.reset)
    console.info("gateway", "loading configuration…")
    loaded = cfg.load_snapshot(paths.config_path)
    gw = loaded.config.gateway

    if opts.port is not None and parse_port(opts.port) is None:
        raise _fail(out, invalid_port_option(), EXIT_FAILURE)
    port = resolve_port(opts.port, env, gw.port, paths.profile)
    if not 1 <= port <= 65535:
        raise _fail(
            out,
            "Invalid gateway.port in config. Set gateway.port to a number from 1 to 65535, or "
            "pass --port 18789.",
            EXIT_CONFIG,
        )
    bind_explicit = ((opts.bind if opts.bind is not None else gw.bind) or "").strip() or None
    if bind_explicit is not None and bind_explicit not in cfg.BIND_MODES:
        raise _fail(
            out,
            'Invalid --bind. Use "loopback", "lan", "tailnet", "auto", or "custom".',
            EXIT_FAILURE,
        )
    if opts.force:
        _force_free(port, bind_explicit, gw, console, out)
    if present(opts.token):
        # As the official CLI does: the runtime sees the flag through the environment too.
        env["OPENCLAW_GATEWAY_TOKEN"] = opts.token or ""
    if opts.auth and opts.auth not in AUTH_MODES:
        raise _fail(
            out,
            'Invalid --auth. Use "none", "token", "password", or "trusted-proxy".',
            EXIT_FAILURE,
        )
    if opts.tailscale and opts.tailscale not in cfg.TAILSCALE_MODES:
        raise _fail(out, 'Invalid --tailscale. Use "off", "serve", or "funnel".', EXIT_FAILURE)
    tailscale = opts.tailscale or gw.tailscale.mode or "off"
    container = in_container(env)
    bind_mode = bind_explicit or default_bind(None, tailscale, container)
    try:
        if opts.password and opts.password_file:
            raise UsageError("Use either --password or --password-file.")
        password_arg = (
            read_secret_file(opts.password_file, "Gateway password", env)
            if opts.password_file
            else (opts.password or None)
        )
    except UsageError as exc:
        raise _fail(out, str(exc), EXIT_FAILURE) from None
    redactor.add(password_arg)
    if opts.password:
        out.error(
            "Warning: --password can be exposed via process listings. Prefer --password-file "
            "or OPENCLAW_GATEWAY_PASSWORD."
        )
    console.info("gateway", "resolving authentication…")
    errors = start_guard_errors(
        allow_unconfigured=opts.allow_unconfigured,
        exists=loaded.exists,
        mode=gw.mode,
        dev=dev_mode,
    )
    for line in errors:
        out.error(line)
    if errors:
        raise RunExit(EXIT_CONFIG)

    hints = miskey_hints(loaded.config.raw)
    try:
        auth = resolve_auth(
            token_flag=opts.token,
            auth_flag=opts.auth,
            password_arg=password_arg,
            gw=gw,
            env=env,
            resolve=gateway_secrets(loaded.config.raw, env),
        )
    except ConfigError as exc:
        raise _fail(out, str(exc), EXIT_CONFIG) from None
    for secret in (auth.token, auth.password):
        if not is_invalid_secret(secret):  # "undefined"/"null" would mask ordinary words
            redactor.add(secret)
    if auth.mode == "password" and not auth.password:
        raise _fail(
            out,
            "\n".join(
                [
                    "Gateway auth is set to password, but no password is configured.",
                    "Set gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD), or pass --password.",
                    *hints,
                ]
            ),
            EXIT_CONFIG,
        )
    if auth.mode == "none":
        console.warn(
            "gateway",
            "auth mode=none explicitly configured; all gateway connections are unauthenticated.",
        )
    host = bind_host(bind_mode, custom_host=gw.custom_bind_host, container=container)
    has_secret = (auth.mode == "token" and bool(auth.token)) or (
        auth.mode == "password" and bool(auth.password)
    )
    if not is_loopback(host) and not has_secret and auth.mode != "trusted-proxy":
        advice = (
            [
                "Container environment detected — the gateway defaults to bind=auto (0.0.0.0) "
                "for port-forwarding compatibility.",
                "Set OPENCLAW_GATEWAY_TOKEN or OPENCLAW_GATEWAY_PASSWORD, or pass "
                "--token/--password to start with auth.",
            ]
            if container
            else [
                "Set gateway.auth.token/password (or OPENCLAW_GATEWAY_TOKEN/"
                "OPENCLAW_GATEWAY_PASSWORD) or pass --token/--password."
            ]
        )
        raise _fail(
            out,
            "\n".join([f"Refusing to bind gateway to {bind_mode} without auth.", *advice, *hints]),
            EXIT_CONFIG,
        )

    console.info("gateway", "starting...")
    prepared = Prepared(
        allow_unconfigured=opts.allow_unconfigured,
        verbose=opts.verbose,
        tailscale_reset_on_exit=opts.tailscale_reset_on_exit,
        env=env,
        paths=paths,
        loaded=loaded,
        auth=auth,
        tailscale=tailscale,
        bind_mode=bind_mode,
        host=host,
        port=port,
        ws_style=ws_style,
        container=container,
        token_flag=opts.token,
        auth_flag=opts.auth,
        password_arg=password_arg,
    )
    return start(prepared, redactor, console, out, observer)


def _force_free(
    port: int,
    bind_explicit: str | None,
    gw: cfg.GatewayConfig,
    console: Logger,
    out: RuntimeConsole,
) -> None:
    from openclaw_gateway.host.ports import free_port, port_bindable

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    probe_host = {
        "loopback": "127.0.0.1",
        "lan": "0.0.0.0",
        "custom": (gw.custom_bind_host or "").strip() or "0.0.0.0",
    }.get(bind_explicit or "", "0.0.0.0")
    try:
        trio.run(
            lambda: free_port(
                port,
                interactive=interactive,
                bindable=lambda: port_bindable(probe_host, port),
                log=lambda m: console.info("gateway", m),
            )
        )
    except StartupError as exc:
        raise _fail(out, str(exc), EXIT_FAILURE) from None
