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
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import trio

from openclaw_gateway import __version__
from openclaw_gateway.cli.run_checks import (
    ResolvedAuth,
    RuntimeConsole,
    effective_config_conflict,
    ensure_dev_config,
    is_invalid_secret,
    miskey_hints,
    present,
    read_secret_file,
    resolve_auth,
    start_guard_errors,
    weak_secret_error,
)
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
from openclaw_gateway.core.logs import WS_STYLES, FileLog, Logger, Redactor, configured_log_path
from openclaw_gateway.core.paths import (
    Paths,
    invalid_port_option,
    parse_port,
    resolve_paths,
    resolve_port,
)
from openclaw_gateway.discovery.runtime import plan_discovery
from openclaw_gateway.host.netbind import (
    BindPlan,
    bind_host,
    default_bind,
    in_container,
    is_loopback_host,
    plan,
)
from openclaw_gateway.host.ports import Listener, looks_like_gateway
from openclaw_gateway.security import origin, ratelimit
from openclaw_gateway.security.auth import AUTH_MODES, AuthPolicy
from openclaw_gateway.server.restart import SignalObserver, restart_mode, service_supervisor


@attrs.frozen
class RunOptions:
    port: str | None = None
    bind: str | None = None
    token: str | None = None
    auth: str | None = None
    password: str | None = None
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


@attrs.frozen
class _Prepared:
    """Everything the checks resolved, handed to the start-up stage."""

    opts: RunOptions
    env: dict[str, str]
    paths: Paths
    loaded: cfg.LoadedConfig
    auth: ResolvedAuth
    tailscale: str
    bind_mode: str
    host: str
    port: int
    ws_style: str
    container: bool


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class _Restart(Exception):
    """The run ended for an in-process restart; everything it held is released."""


# -- the command -----------------------------------------------------------------------------


def _open_logger(
    opts: RunOptions,
    paths: Paths,
    config: cfg.Config,
    env: Mapping[str, str],
    ws_style: str,
    redactor: Redactor,
) -> tuple[Logger, Path | None]:
    target: Path | None = configured_log_path(config.logging.file, paths.profile, dt.datetime.now())
    file_log: FileLog | None = None
    if target is not None:
        file_log = FileLog(target, config.logging.max_file_bytes or 100 * 1024 * 1024)
        try:
            file_log.open()
        except OSError as exc:
            print(f"Warning: cannot open log file {target}: {exc.strerror}", file=sys.stderr)
            file_log, target = None, None
    logger = Logger(
        redactor=redactor,
        file_log=file_log,
        verbose=opts.verbose,
        ws_style=ws_style,
        level=_log_level(env, config),
    )
    return logger, target


def _log_level(env: Mapping[str, str], config: cfg.Config) -> str:
    """--log-level / OPENCLAW_LOG_LEVEL beat logging.level (`silent` keeps only fatal)."""
    raw = (env.get("OPENCLAW_LOG_LEVEL") or config.logging.level or "info").strip().lower()
    return "fatal" if raw == "silent" else raw


def run_gateway_command(opts: RunOptions, env: dict[str, str]) -> int:
    """The checks and the run; a SIGUSR2 restart redoes all of it (same pid, same flags).

    Each round reloads the config from disk and re-checks it, so a config that became invalid
    fails the restart exactly as it would fail a start. The round before it has released the
    state lock, the store, the listeners and the runtime token (regenerated, as the official
    warning says), so nothing is carried over but the flags, the console and the redactor.
    """
    redactor = Redactor([opts.token, opts.password])
    console = Logger(redactor=redactor, verbose=opts.verbose, level=_log_level(env, cfg.Config()))
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
            except _Restart:
                # Never wipe the dev config or kill listeners again on a restart.
                opts = attrs.evolve(opts, reset=False, force=False)
            except _Exit as done:
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


def _fail(out: RuntimeConsole, message: str, code: int) -> _Exit:
    out.error(message)
    return _Exit(code)


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
    if opts.raw_stream:
        env["OPENCLAW_RAW_STREAM"] = "1"
    if opts.raw_stream_path:
        env["OPENCLAW_RAW_STREAM_PATH"] = opts.raw_stream_path
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
        raise _Exit(EXIT_CONFIG)

    hints = miskey_hints(loaded.config.raw)
    try:
        auth = resolve_auth(
            token_flag=opts.token, auth_flag=opts.auth, password_arg=password_arg, gw=gw, env=env
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
    if not is_loopback_host(host) and not has_secret and auth.mode != "trusted-proxy":
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
    prepared = _Prepared(
        opts, env, paths, loaded, auth, tailscale, bind_mode, host, port, ws_style, container
    )
    return _start(prepared, redactor, console, out, observer)


def _start_failure(out: RuntimeConsole, message: str, code: int) -> _Exit:
    out.error(
        f"Gateway failed to start: {message}. Run openclaw gateway status --deep for diagnostics."
    )
    return _Exit(code)


def _start(
    p: _Prepared,
    redactor: Redactor,
    console: Logger,
    out: RuntimeConsole,
    observer: SignalObserver,
) -> int:
    """Start-up refusals (official "Gateway failed to start" stage), then the lock and serve."""
    opts, paths, loaded, auth = p.opts, p.paths, p.loaded, p.auth
    gw = loaded.config.gateway
    if not loaded.valid:
        lines = (
            list(loaded.issues)
            if loaded.issues
            else [f"<root>: JSON5 parse failed: SyntaxError: JSON5: {loaded.parse_error}"]
        )
        out.error(
            f"Gateway failed to start: {cfg.invalid_config_message(paths.config_path, lines)}"
        )
        if not opts.allow_unconfigured:
            out.error('Run "openclaw doctor --fix" to repair the config, then retry.')
        raise _Exit(EXIT_CONFIG)
    weak = weak_secret_error(auth)
    if weak is not None:
        raise _start_failure(out, weak, EXIT_FAILURE)
    conflict = effective_config_conflict(auth, p.tailscale, p.host, gw)
    if conflict is not None:
        raise _start_failure(out, conflict, EXIT_CONFIG)
    if auth.mode == "trusted-proxy":
        raise _start_failure(
            out,
            "gateway.auth.mode=trusted-proxy is not supported by this gateway yet; use token or "
            "password",
            EXIT_CONFIG,
        )
    try:
        bind_plan = plan(p.bind_mode, custom_host=gw.custom_bind_host, container=p.container)
    except StartupError as exc:
        raise _start_failure(out, str(exc), exc.exit_code) from None
    from openclaw_gateway.host.lock import StateLock, StateLockError

    # Own the state dir before writing into it: a second gateway must not replace (or, on its
    # way out, delete) the first one's runtime token. The supervisor's acquire nests in this.
    lock = StateLock(paths.state_dir)
    try:
        lock.acquire(port=p.port, config_path=paths.config_path)
    except StateLockError as exc:
        out.error(
            f"Gateway failed to start: {exc}\nIf the gateway is supervised, stop it with: "
            "openclaw gateway stop"
        )
        raise _Exit(exc.exit_code) from None
    try:
        return _serve(p, bind_plan, redactor, console, out, observer)
    finally:
        lock.release()


def _serve(
    p: _Prepared,
    bind_plan: BindPlan,
    redactor: Redactor,
    console: Logger,
    out: RuntimeConsole,
    observer: SignalObserver,
) -> int:
    opts, env, paths, loaded, auth, port = p.opts, p.env, p.paths, p.loaded, p.auth, p.port
    from openclaw_gateway.host.lock import StateLockError
    from openclaw_gateway.server.supervisor import RunSettings, run_gateway

    gw = loaded.config.gateway
    policy = AuthPolicy(mode=auth.mode, token=auth.token, password=auth.password)  # type: ignore[arg-type]
    runtime_token_path: Path | None = None
    if policy.mode == "token" and not policy.token:
        generated = secrets.token_urlsafe(32)
        redactor.add(generated)
        policy = attrs.evolve(policy, token=generated)
        runtime_token_path = paths.runtime_token_path
        _write_secret_file(runtime_token_path, generated)
        console.warn(
            "gateway",
            "auth token was missing. Generated a runtime token for this startup without "
            "changing config; restart will generate a different token. Persist one with "
            "`openclaw config set gateway.auth.mode token` and `openclaw config set "
            "gateway.auth.token <token>`.",
        )
    if not bind_plan.loopback_only:
        console.warn(
            "gateway",
            "⚠️  Gateway is binding to a non-loopback address. Ensure authentication is "
            "configured before exposing to public networks.",
        )
    logger, log_path = _open_logger(opts, paths, loaded.config, env, p.ws_style, redactor)
    if log_path is not None:
        logger.info("gateway", f"log file: {log_path}")
    _set_process_title()
    handshake_ms = env.get("OPENCLAW_HANDSHAKE_TIMEOUT_MS")
    settings = RunSettings(
        version=__version__,
        port=port,
        bind=bind_plan,
        policy=policy,
        state_dir=paths.state_dir,
        config_path=paths.config_path,
        logger=logger,
        log_file=log_path,
        runtime_token_path=runtime_token_path,
        trusted_proxies=gw.trusted_proxies,
        allow_real_ip_fallback=gw.allow_real_ip_fallback,
        origin_policy=origin.policy_from_config(gw.control_ui),
        auth_rate_limit=ratelimit.policy_from_config(gw.auth.rate_limit),
        handshake_timeout=int(handshake_ms) / 1000
        if handshake_ms and handshake_ms.isdigit()
        else 15.0,
        cron_enabled=_cron_option(loaded.config.raw, "enabled", True),
        cron_skip_missed=_cron_option(loaded.config.raw, "skipMissedJobs", False),
        tailscale_mode=p.tailscale,
        tailscale_reset_on_exit=opts.tailscale_reset_on_exit or gw.tailscale.reset_on_exit,
        restart_allowed=_restart_allowed(loaded.config.raw),
        agents_config=loaded.config.raw.get("agents"),
        signal_observer=observer,
        discovery=plan_discovery(
            loaded.config.raw,
            env,
            port=port,
            bind=bind_plan,
            state_dir=paths.state_dir,
            config_path=paths.config_path,
            container=p.container,
        ),
    )
    outcome = "stop"
    try:
        outcome = trio.run(run_gateway, settings)
    except StateLockError as exc:
        out.error(
            f"Gateway failed to start: {exc}\nIf the gateway is supervised, stop it with: "
            "openclaw gateway stop"
        )
        raise _Exit(exc.exit_code) from None
    except StartupError as exc:
        if "EADDRINUSE" in str(exc):
            from openclaw_gateway.host.ports import describe_owners, listeners_on

            out.error(
                f"Gateway failed to start: {exc}\nIf the gateway is supervised, stop it with: "
                "openclaw gateway stop"
            )
            owners = listeners_on(port)
            if owners:
                for line in describe_owners(port, owners).splitlines():
                    out.error(line)
            raise _Exit(_port_conflict_code(exc.exit_code, owners, p.env)) from None
        raise _start_failure(out, str(exc), exc.exit_code) from None
    finally:
        if runtime_token_path is not None:
            runtime_token_path.unlink(missing_ok=True)
        if outcome == "restart":
            mode = restart_mode(env)
            logger.info("gateway", mode.log_line)
            if mode.in_process:
                outcome = "again"
        logger.close()
    if outcome == "again":
        raise _Restart
    # A stop, or a restart that a service manager performs (it restarts after a clean exit).
    return EXIT_OK


def _restart_allowed(raw: Mapping[str, object]) -> bool:
    """commands.restart: only an explicit false blocks an external SIGUSR2 (official)."""
    section = raw.get("commands")
    return not (isinstance(section, dict) and section.get("restart") is False)


def _port_conflict_code(code: int, owners: Sequence[Listener], env: Mapping[str, str]) -> int:
    """Under a service manager, another gateway on the port is exit 78, not 1 (cli.md §7).

    The unit has `Restart=always` + `RestartPreventExitStatus=78`: exiting 1 because a
    gateway already serves the port would restart us every 5 s forever. In the foreground the
    official exit 1 stays.
    """
    if service_supervisor(env) is None:
        return code
    if any(looks_like_gateway(owner) for owner in owners):  # comm + cmdline, already read
        return EXIT_CONFIG
    return code


def _cron_option(raw: Mapping[str, object], key: str, default: bool) -> bool:
    """cron.enabled / cron.skipMissedJobs from the config file (booleans only)."""
    section = raw.get("cron")
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, bool) else default


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


def _write_secret_file(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    os.replace(tmp, path)


def _set_process_title() -> None:
    """`ps`/`ss` show `openclaw-gateway`, as for the official gateway (Linux prctl)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, b"openclaw-gateway", 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass
