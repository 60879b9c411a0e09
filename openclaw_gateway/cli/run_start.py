"""`gateway run`, the start-up stage: what follows `starting...` (step 9 in run.py).

Start-up refusals (official "Gateway failed to start: …"): an invalid config (78), weak
secrets (1), effective-config conflicts (78), bind planning (1); then the state lock, the
runtime token, the logger and the supervisor (`server.supervisor.run_gateway`), whose
failures are mapped here: the lock (78), a busy port (1, or 78 under a service manager when
another gateway holds it) and anything else that stops the start (tailscale…). A SIGUSR2
restart ends the round with RestartRequested once everything it held is released.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from openclaw_gateway import __version__
from openclaw_gateway.cli.run_checks import (
    ResolvedAuth,
    RuntimeConsole,
    effective_config_conflict,
    seed_allowed_origins,
    seeded_origins_message,
    weak_secret_error,
)
from openclaw_gateway.cli.run_live import live_settings, log_level, make_derive
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.atomicfile import write_atomic
from openclaw_gateway.core.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, StartupError
from openclaw_gateway.core.logs import FileLog, Logger, Redactor, configured_log_path
from openclaw_gateway.core.paths import Paths, shorten_home, user_path
from openclaw_gateway.core.tls import tls_files
from openclaw_gateway.discovery.runtime import DiscoveryPlan, plan_discovery
from openclaw_gateway.host.netbind import BindPlan, plan
from openclaw_gateway.host.ports import Listener, looks_like_gateway
from openclaw_gateway.server.restart import SignalObserver, restart_mode, service_supervisor

if TYPE_CHECKING:
    from openclaw_gateway.server.tls import Served
    from openclaw_gateway.server.web.front import ControlUiSettings


@attrs.frozen
class Prepared:
    """Everything the checks resolved, handed to the start-up stage."""

    allow_unconfigured: bool
    verbose: bool
    tailscale_reset_on_exit: bool
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
    # The flags a hot reload resolves auth with again (they keep winning over the file).
    token_flag: str | None = attrs.field(default=None, repr=False)
    auth_flag: str | None = None
    password_arg: str | None = attrs.field(default=None, repr=False)


class RunExit(Exception):
    """The command ends with `code`; what it had to say is already printed."""

    def __init__(self, code: int) -> None:
        self.code = code


class RestartRequested(Exception):
    """The run ended for an in-process restart; everything it held is released."""


def _open_logger(
    verbose: bool,
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
        verbose=verbose,
        ws_style=ws_style,
        level=log_level(env, config),
    )
    return logger, target


def start_failure(out: RuntimeConsole, message: str, code: int) -> RunExit:
    out.error(
        f"Gateway failed to start: {message}. Run openclaw gateway status --deep for diagnostics."
    )
    return RunExit(code)


def start(
    p: Prepared,
    redactor: Redactor,
    console: Logger,
    out: RuntimeConsole,
    observer: SignalObserver,
) -> int:
    """Start-up refusals (official "Gateway failed to start" stage), then the lock and serve."""
    paths, loaded, auth = p.paths, p.loaded, p.auth
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
        if not p.allow_unconfigured:
            out.error('Run "openclaw doctor --fix" to repair the config, then retry.')
        raise RunExit(EXIT_CONFIG)
    weak = weak_secret_error(auth)
    if weak is not None:
        raise start_failure(out, weak, EXIT_FAILURE)
    seeded = seed_allowed_origins(gw, p.bind_mode, p.port)
    if seeded:
        ui = attrs.evolve(gw.control_ui, allowed_origins=seeded)
        gw = attrs.evolve(gw, control_ui=ui)
        loaded = attrs.evolve(loaded, config=attrs.evolve(loaded.config, gateway=gw))
        p = attrs.evolve(p, loaded=loaded)
    conflict = effective_config_conflict(auth, p.tailscale, p.host, gw)
    if conflict is not None:
        raise start_failure(out, conflict, EXIT_CONFIG)
    if seeded:
        console.info("gateway", seeded_origins_message(seeded, p.bind_mode))
    if auth.mode == "trusted-proxy":
        raise start_failure(
            out,
            "gateway.auth.mode=trusted-proxy is not supported by this gateway yet; use token or "
            "password",
            EXIT_CONFIG,
        )
    try:
        bind_plan = plan(p.bind_mode, custom_host=gw.custom_bind_host, container=p.container)
    except StartupError as exc:
        raise start_failure(out, str(exc), exc.exit_code) from None
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
        raise RunExit(exc.exit_code) from None
    try:
        return _serve(p, bind_plan, redactor, console, out, observer)
    finally:
        lock.release()


def _serve(
    p: Prepared,
    bind_plan: BindPlan,
    redactor: Redactor,
    console: Logger,
    out: RuntimeConsole,
    observer: SignalObserver,
) -> int:
    env, paths, loaded, auth, port = p.env, p.paths, p.loaded, p.auth, p.port
    from openclaw_gateway.host.lock import StateLockError
    from openclaw_gateway.server.reloader import ReloadHooks
    from openclaw_gateway.server.run_settings import RunSettings
    from openclaw_gateway.server.supervisor import run_gateway

    gw = loaded.config.gateway
    runtime_token_path: Path | None = None
    generated: str | None = None
    if auth.mode == "token" and not auth.token:
        generated = secrets.token_urlsafe(32)
        redactor.add(generated)
        runtime_token_path = paths.runtime_token_path
        write_atomic(runtime_token_path, generated + "\n", 0o600)
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
    from openclaw_gateway.server.hooks.config import load_hooks

    # hooks.*: refused here (exit 78) when unusable, e.g. a token equal to the gateway's.
    hooks = load_hooks(loaded.config.raw, (auth.token, auth.password))
    if hooks is not None:
        redactor.add(hooks.token)
    logger, log_path = _open_logger(p.verbose, paths, loaded.config, env, p.ws_style, redactor)
    if log_path is not None:
        logger.info("gateway", f"log file: {log_path}")
    _set_process_title()
    tls = _load_tls(gw, paths.state_dir, env, logger, out)
    handshake_ms = env.get("OPENCLAW_HANDSHAKE_TIMEOUT_MS")
    fingerprint = tls.material.certificate.fingerprint if tls else None

    def discovery_for(raw: Mapping[str, Any]) -> DiscoveryPlan:
        return plan_discovery(
            raw,
            env,
            port=port,
            bind=bind_plan,
            state_dir=paths.state_dir,
            config_path=paths.config_path,
            container=p.container,
            tls_fingerprint=fingerprint,
        )

    live = live_settings(auth, loaded.config, env, generated, discovery_for)
    derive = make_derive(
        token_flag=p.token_flag,
        auth_flag=p.auth_flag,
        password_arg=p.password_arg,
        env=env,
        runtime_token=generated,
        discovery_for=discovery_for,
    )
    settings = RunSettings(
        version=__version__,
        port=port,
        bind=bind_plan,
        policy=live.policy,
        state_dir=paths.state_dir,
        config_path=paths.config_path,
        logger=logger,
        log_file=log_path,
        runtime_token_path=runtime_token_path,
        trusted_proxies=live.trusted_proxies,
        allow_real_ip_fallback=gw.allow_real_ip_fallback,
        max_connections=gw.max_connections,
        origin_policy=live.origin_policy,
        auth_rate_limit=live.auth_rate_limit,
        handshake_timeout=int(handshake_ms) / 1000
        if handshake_ms and handshake_ms.isdigit()
        else 15.0,
        cron_enabled=live.cron_enabled,
        cron_skip_missed=live.cron_skip_missed,
        tailscale_mode=p.tailscale,
        tailscale_reset_on_exit=p.tailscale_reset_on_exit or gw.tailscale.reset_on_exit,
        restart_allowed=live.restart_allowed,
        reload=ReloadHooks(loaded.config.raw, derive),
        agents_config=loaded.config.raw.get("agents"),
        openai_chat_completions=_endpoint_enabled(loaded.config.raw, "chatCompletions"),
        openai_responses=_endpoint_enabled(loaded.config.raw, "responses"),
        hooks=hooks,
        raw_config=dict(loaded.config.raw),
        signal_observer=observer,
        discovery=live.discovery,
        control_ui=control_ui_settings(gw.control_ui, env),
        tls=tls,
        tls_renewal=_reload_mode(loaded.config.raw) != "off",
    )
    outcome = "stop"
    try:
        outcome = trio.run(run_gateway, settings)
    except StateLockError as exc:
        out.error(
            f"Gateway failed to start: {exc}\nIf the gateway is supervised, stop it with: "
            "openclaw gateway stop"
        )
        raise RunExit(exc.exit_code) from None
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
            raise RunExit(port_conflict_code(exc.exit_code, owners, p.env)) from None
        raise start_failure(out, str(exc), exc.exit_code) from None
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
        raise RestartRequested
    # A stop, or a restart that a service manager performs (it restarts after a clean exit).
    return EXIT_OK


def _load_tls(
    gw: cfg.GatewayConfig,
    state_dir: Path,
    env: Mapping[str, str],
    logger: Logger,
    out: RuntimeConsole,
) -> Served | None:
    """gateway.tls: the pair (generated when both files are missing and autoGenerate is on),
    checked and ready to serve; any problem stops the start with exit 78, never plaintext."""
    if not gw.tls.enabled:
        return None
    from openclaw_gateway.host.tls_material import TlsError, ensure_pair
    from openclaw_gateway.server.tls import load_served

    files = tls_files(gw.tls, state_dir, env)
    try:
        if ensure_pair(files, auto_generate=gw.tls.auto_generate) is not None:
            where = shorten_home(files.cert, env)
            logger.info("tls", f"gateway tls: generated self-signed cert at {where}")
        served = load_served(files)
    except TlsError as exc:
        raise start_failure(out, str(exc), exc.exit_code) from None
    info = served.material.certificate
    logger.info(
        "tls",
        f"gateway tls: serving wss:// with sha256 {info.fingerprint} (expires "
        f"{info.not_after.date().isoformat()})",
    )
    return served


def control_ui_settings(ui: cfg.ControlUiConfig, env: Mapping[str, str]) -> ControlUiSettings:
    """gateway.controlUi -> what the web route serves (`root` resolved like other user paths)."""
    from openclaw_gateway.server.web.front import ControlUiSettings
    from openclaw_gateway.server.web.page import normalize_base_path

    root = user_path(ui.root, env) if ui.root and ui.root.strip() else None
    return ControlUiSettings(ui.enabled, normalize_base_path(ui.base_path), root)


def _reload_mode(raw: Mapping[str, object]) -> object:
    section = raw.get("gateway")
    reload = section.get("reload") if isinstance(section, dict) else None
    return reload.get("mode") if isinstance(reload, dict) else None


def port_conflict_code(code: int, owners: Sequence[Listener], env: Mapping[str, str]) -> int:
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


def _set_process_title() -> None:
    """`ps`/`ss` show `openclaw-gateway`, as for the official gateway (Linux prctl)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, b"openclaw-gateway", 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _endpoint_enabled(raw: dict[str, object], name: str) -> bool:
    """gateway.http.endpoints.<name>.enabled (official default: off)."""
    section: object = raw
    for part in ("gateway", "http", "endpoints", name):
        section = section.get(part) if isinstance(section, dict) else None
    return isinstance(section, dict) and section.get("enabled") is True
