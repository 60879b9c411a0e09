"""`openclaw gateway run`: the checks of cli.md §1.1 in the official order, then the gateway.

Order: --reset, --ws-log, dev config, config load, port, bind, --force, --auth/--tailscale,
password file, mode guard, password presence, bind auth refusal, start.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import trio

from openclaw_gateway import __version__
from openclaw_gateway import config as cfg
from openclaw_gateway.auth import AUTH_MODES, AuthPolicy, is_unusable_secret
from openclaw_gateway.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    ConfigError,
    GatewayError,
    StartupError,
    UsageError,
)
from openclaw_gateway.logs import WS_STYLES, FileLog, Logger, Redactor, default_log_path
from openclaw_gateway.netbind import BindPlan, can_bind, default_bind, in_container, plan
from openclaw_gateway.paths import Paths, resolve_paths, resolve_port


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
    force: bool = False
    verbose: bool = False
    ws_log: str = "auto"
    compact: bool = False


DEV_CONFIG = {"gateway": {"mode": "local", "bind": "loopback"}}


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _ensure_dev_config(paths: Paths, log: Logger, reset: bool) -> None:
    if reset and paths.config_path.exists():
        trash = (
            paths.home / ".Trash" / f".openclaw-reset-{int(dt.datetime.now().timestamp() * 1000)}"
        )
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / paths.config_path.name
        os.replace(paths.config_path, target)
        print(f"Moved to Trash: {paths.config_path}")
    if not paths.config_path.exists():
        cfg.save_atomic(paths.config_path, DEV_CONFIG)
        print(f"Dev config ready: {paths.config_path}")


def _mode_guard(opts: RunOptions, loaded: cfg.LoadedConfig, dev: bool) -> str | None:
    """None if the gateway may start, else the official refusal text (exit 78)."""
    if opts.allow_unconfigured:
        return None
    mode = loaded.config.gateway.mode
    if mode == "local":
        return None
    if not loaded.exists:
        if dev:
            return None
        return (
            "Missing config. Run `openclaw setup` or set gateway.mode=local "
            "(or pass --allow-unconfigured)."
        )
    if mode is None or loaded.parse_error is not None:
        return (
            "Gateway start blocked: existing config is missing gateway.mode. Treat this as "
            "suspicious or clobbered config. Re-run `openclaw onboard --mode local` or "
            "`openclaw setup`, set gateway.mode=local manually, or pass --allow-unconfigured."
        )
    return (
        f"Gateway start blocked: set gateway.mode=local (current: {mode}) or pass "
        "--allow-unconfigured."
    )


def _resolve_auth(
    opts: RunOptions, gw: cfg.GatewayConfig, env: Mapping[str, str], password_arg: str | None
) -> AuthPolicy:
    token = (
        opts.token
        or cfg.resolve_secret(gw.auth.token, "gateway.auth.token", env)
        or env.get("OPENCLAW_GATEWAY_TOKEN")
        or None
    )
    password = (
        password_arg
        or cfg.resolve_secret(gw.auth.password, "gateway.auth.password", env)
        or env.get("OPENCLAW_GATEWAY_PASSWORD")
        or None
    )
    mode = opts.auth or gw.auth.mode
    if mode is None:
        if token and password:
            raise ConfigError(
                "Both a gateway token and a gateway password are configured; set "
                "gateway.auth.mode (or pass --auth token|password) to choose one."
            )
        mode = "password" if password else "token"
    if mode not in AUTH_MODES:
        raise ConfigError(
            f"gateway.auth.mode: Invalid option: expected one of "
            f'"none"|"token"|"password"|"trusted-proxy" (got {mode})'
        )
    for label, value in (("token", token), ("password", password)):
        if value is not None and is_unusable_secret(value) and mode == label:
            raise ConfigError(
                f"Refusing to start: the gateway {label} is blank or a placeholder "
                f"({'empty' if not value.strip() else 'placeholder value'}). Set a real secret "
                f"(openclaw doctor --generate-gateway-token) or remove it."
            )
    if mode == "password" and not password:
        raise ConfigError(
            "Gateway auth is set to password, but no password is configured.\n"
            "Set gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD), or pass "
            "--password."
        )
    if mode == "trusted-proxy":
        raise StartupError(
            "gateway.auth.mode=trusted-proxy is not supported by this gateway "
            "yet; use token or password",
            exit_code=EXIT_CONFIG,
        )
    return AuthPolicy(mode=mode, token=token, password=password)  # type: ignore[arg-type]


def _open_logger(
    opts: RunOptions, paths: Paths, config: cfg.Config, ws_style: str, redactor: Redactor
) -> tuple[Logger, Path | None]:
    target = (
        Path(config.logging.file).expanduser()
        if config.logging.file
        else default_log_path(paths.profile, dt.datetime.now())
    )
    file_log: FileLog | None = FileLog(target, config.logging.max_file_bytes or 100 * 1024 * 1024)
    try:
        assert file_log is not None
        file_log.open()
    except OSError as exc:
        print(f"Warning: cannot open log file {target}: {exc.strerror}", file=sys.stderr)
        file_log, target = None, None  # type: ignore[assignment]
    logger = Logger(
        redactor=redactor,
        file_log=file_log,
        verbose=opts.verbose,
        ws_style=ws_style,
        level=config.logging.level or "info",
    )
    return logger, target


def run_gateway_command(opts: RunOptions, env: dict[str, str]) -> int:
    redactor = Redactor([opts.token, opts.password])
    console = Logger(redactor=redactor, verbose=opts.verbose)
    try:
        return _run(opts, env, redactor, console)
    except _Exit as done:
        return done.code
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except GatewayError as exc:
        console.error("gateway", redactor(str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_OK


def _run(opts: RunOptions, env: dict[str, str], redactor: Redactor, console: Logger) -> int:
    dev_profile = env.get("OPENCLAW_PROFILE") == "dev"
    if opts.reset and not opts.dev:
        raise UsageError("Use --reset with --dev.")
    ws_style = "compact" if opts.compact else opts.ws_log
    if ws_style not in WS_STYLES:
        raise UsageError('Invalid --ws-log. Use "auto", "full", or "compact".')
    paths = resolve_paths(env)
    if opts.dev or dev_profile:
        _ensure_dev_config(paths, console, opts.reset)
    console.info("gateway", "loading configuration…")
    try:
        loaded = cfg.load(paths.config_path)
    except ConfigError as exc:
        console.error("gateway", f"Gateway failed to start: {exc}")
        raise _Exit(EXIT_CONFIG) from None
    gw = loaded.config.gateway
    if gw.port is not None and not 1 <= gw.port <= 65535:
        console.error(
            "gateway",
            f"Gateway failed to start: Invalid config at {paths.config_path}:"
            f"\n{paths.config_path.name} — gateway.port: Too big or small: "
            "expected a port from 1 to 65535",
        )
        raise _Exit(EXIT_CONFIG)
    port = resolve_port(opts.port, env, gw.port, paths.profile)
    tailscale = opts.tailscale or gw.tailscale.mode or "off"
    bind_mode = opts.bind or default_bind(gw.bind, tailscale, in_container(env))
    if bind_mode not in cfg.BIND_MODES:
        raise UsageError('Invalid --bind. Use "loopback", "lan", "tailnet", "auto", or "custom".')
    if opts.force:
        from openclaw_gateway.ports import free_port

        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        probe_host = {"lan": "0.0.0.0", "custom": gw.custom_bind_host or "127.0.0.1"}.get(
            bind_mode, "127.0.0.1"
        )
        try:
            trio.run(
                lambda: free_port(
                    port,
                    interactive=interactive,
                    bindable=lambda: _port_bindable(probe_host, port),
                    log=lambda m: console.info("gateway", m),
                )
            )
        except StartupError as exc:
            console.error("gateway", str(exc))
            raise _Exit(EXIT_FAILURE) from None
    if opts.auth is not None and opts.auth not in AUTH_MODES:
        raise UsageError('Invalid --auth. Use "none", "token", "password", or "trusted-proxy".')
    if tailscale not in cfg.TAILSCALE_MODES:
        raise UsageError('Invalid --tailscale. Use "off", "serve", or "funnel".')
    password_arg = opts.password
    if opts.password and opts.password_file:
        raise UsageError("Use either --password or --password-file.")
    if opts.password:
        print(
            "Warning: --password can be exposed via process listings. Prefer --password-file "
            "or OPENCLAW_GATEWAY_PASSWORD.",
            file=sys.stderr,
        )
    if opts.password_file:
        try:
            password_arg = Path(opts.password_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(
                f"Cannot read --password-file {opts.password_file}: {exc.strerror}"
            ) from None
        redactor.add(password_arg)
    if opts.token:
        # As the official CLI does: the runtime sees the flag through the environment too.
        env["OPENCLAW_GATEWAY_TOKEN"] = opts.token
    console.info("gateway", "resolving authentication…")
    refusal = _mode_guard(opts, loaded, opts.dev or dev_profile)
    if refusal is not None:
        console.error("gateway", refusal)
        raise _Exit(EXIT_CONFIG)
    policy = _resolve_auth(opts, gw, env, password_arg)
    redactor.add(policy.token)
    redactor.add(policy.password)
    if tailscale != "off":
        raise StartupError(
            f"--tailscale {tailscale} is not available yet in this gateway "
            "(the Tailscale controller is a later milestone); use --tailscale off"
        )
    bind_plan: BindPlan = plan(
        bind_mode, custom_host=gw.custom_bind_host, container=in_container(env)
    )
    has_secret = (policy.mode == "token" and bool(policy.token)) or (
        policy.mode == "password" and bool(policy.password)
    )
    if not bind_plan.loopback_only and not has_secret:
        hint = (
            "Set gateway.auth.token/password (or OPENCLAW_GATEWAY_TOKEN/"
            "OPENCLAW_GATEWAY_PASSWORD) or pass --token/--password."
        )
        if in_container(env) and bind_mode == "auto":
            hint = (
                "Container environment detected — the gateway defaults to bind=auto (0.0.0.0)"
                " for port-forwarding compatibility.\nSet OPENCLAW_GATEWAY_TOKEN or "
                "OPENCLAW_GATEWAY_PASSWORD, or pass --token/--password to start with auth."
            )
        console.error("gateway", f"Refusing to bind gateway to {bind_mode} without auth.\n{hint}")
        raise _Exit(EXIT_CONFIG)
    runtime_token_path: Path | None = None
    if policy.mode == "token" and not policy.token:
        generated = secrets.token_urlsafe(32)
        redactor.add(generated)
        policy = attrs.evolve(policy, token=generated)
        runtime_token_path = paths.runtime_token_path
        _write_secret_file(runtime_token_path, generated)
        console.warn(
            "gateway",
            "auth token was missing. Generated a runtime token for this "
            "startup without changing config; restart will generate a "
            "different token. Persist one with `openclaw config set "
            "gateway.auth.mode token` and `openclaw config set "
            "gateway.auth.token <token>`.",
        )
    if policy.mode == "none":
        console.warn(
            "gateway",
            "Gateway auth mode=none explicitly configured; all gateway "
            "connections are unauthenticated.",
        )
    if not bind_plan.loopback_only:
        console.warn(
            "gateway",
            "⚠️  Gateway is binding to a non-loopback address. Ensure "
            "authentication is configured before exposing to public networks.",
        )
    logger, log_path = _open_logger(opts, paths, loaded.config, ws_style, redactor)
    console.info("gateway", "starting...")
    if log_path is not None:
        logger.info("gateway", f"log file: {log_path}")
    _set_process_title()
    from openclaw_gateway.supervisor import RunSettings, run_gateway

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
        handshake_timeout=int(handshake_ms) / 1000
        if handshake_ms and handshake_ms.isdigit()
        else 15.0,
    )
    try:
        trio.run(run_gateway, settings)
    except StartupError as exc:
        logger.error("gateway", f"Gateway failed to start: {exc}")
        if exc.exit_code == EXIT_FAILURE and "EADDRINUSE" in str(exc):
            from openclaw_gateway.ports import describe_owners

            logger.error(
                "gateway",
                "If the gateway is supervised, stop it with: "
                f"openclaw gateway stop\n{describe_owners(port)}",
            )
        if runtime_token_path is not None:
            runtime_token_path.unlink(missing_ok=True)
        raise _Exit(exc.exit_code) from None
    finally:
        logger.close()
    return EXIT_OK


def _port_bindable(host: str, port: int) -> bool:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        return True
    except OSError:
        return False


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


_ = can_bind  # re-exported for tests that patch bindability
