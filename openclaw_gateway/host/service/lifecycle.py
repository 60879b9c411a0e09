"""`gateway install|start|stop|restart|uninstall` (cli.md §1.8, official lifecycle-core).

Each action returns an ActionResult (the JSON envelope); nothing here prints. The results and
messages are the official ones where the official program has them:

- install: already enabled without --force -> `already-installed`; else write + enable +
  (re)start -> `installed`. systemd/launchd only; detached mode refuses (nothing to install:
  without a service manager nothing restarts the gateway at boot or after a crash).
- start: not installed -> fail with install hints; running -> `already-running`; -> `started`.
  Detached mode: spawn, wait until it answers `health`, `started`; a second start refuses.
- stop: needs --force in non-interactive shells; not installed -> successful `not-loaded`
  no-op (or SIGTERM to a verified unmanaged gateway on the port, as the official fallback).
- restart: service restart, or SIGUSR2 to a verified foreground gateway on the port.
- uninstall: stop + remove the definition (unit/plist, .bak, secrets env file).

Guards: OPENCLAW_SUPERVISOR_MODE=external refuses everything; systemd/launchd also need the
canonical account identity (identity.mutation_error).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import attrs

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.core.paths import invalid_port_option, parse_port
from openclaw_gateway.host import ports
from openclaw_gateway.host.lock import LOCK_NAME, StateLock, read_lock_record
from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.detached import START_TIMEOUT, is_gateway_process, log_paths
from openclaw_gateway.host.service.launchd import PlistSpec
from openclaw_gateway.host.service.launchd import log_paths as launchd_logs
from openclaw_gateway.host.service.manager import Context, config_port, snapshot
from openclaw_gateway.host.service.results import ActionResult, GuardError, ServiceError, failure
from openclaw_gateway.host.service.systemd import SECRET_KEYS, UnitSpec

HealthCheck = Callable[[int], bool]  # port -> does the gateway there answer `health`?
RELOCK_TIMEOUT = 10.0  # SIGUSR2 -> the foreground run re-takes the state lock (then health)

STOP_NEEDS_FORCE = (
    "This stops the operator's running gateway service. Use an isolated dev gateway (openclaw "
    "gateway run --dev, or --profile <name> with a free port) for testing, or re-run with "
    "--force if you really mean it."
)
SYSTEMD_UNAVAILABLE_HINTS = (
    "systemd user services are unavailable; install/enable systemd or run the gateway under "
    "your supervisor.",
    "If you're in a container, run the gateway in the foreground instead of `openclaw gateway`.",
)
DETACHED_HINT = (
    "Without a service manager, `openclaw gateway start` runs the gateway detached (no restart "
    "after a crash or at boot)."
)
NO_MODE_WARNING = "No gateway.mode found. Set gateway.mode=local for managed gateway install."


@attrs.frozen
class InstallOptions:
    port: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    wrapper: str | None = None
    runtime: str | None = None
    runtime_path: str | None = None
    force: bool = False
    allow_unconfigured: bool = False


def _guard_external(action: str, ctx: Context, *, generic: bool = True) -> None:
    if identity.externally_supervised(ctx.env):
        message = identity.external_supervisor_message(action)
        raise GuardError(message) if generic else ServiceError(message)


def _guard_native(action: str, ctx: Context) -> None:
    problem = identity.mutation_error(action, ctx.env, home=ctx.home, platform=ctx.platform)
    if problem is not None:
        raise GuardError(problem)


def start_hints(ctx: Context) -> tuple[str, ...]:
    """The official renderGatewayServiceStartHints for this platform."""
    base = ("openclaw gateway install", "openclaw gateway start")
    if ctx.kind == "launchd":
        label = identity.launchd_label(ctx.env)
        return (*base, f"launchctl bootstrap gui/$UID ~/Library/LaunchAgents/{label}.plist")
    if ctx.kind == "systemd":
        return (*base, f"systemctl --user start {identity.systemd_unit_name(ctx.env)}")
    return (*SYSTEMD_UNAVAILABLE_HINTS, DETACHED_HINT)


# --------------------------------------------------------------------------------------------
# Unmanaged gateways on the port (a foreground `gateway run`)


def verified_listener(port: int) -> int | None:
    """The one gateway process listening on `port`, verified by its command line."""
    pids = sorted({row.pid for row in ports.listeners_on(port) if is_gateway_process(row.pid)})
    if len(pids) > 1:
        listed = ", ".join(str(p) for p in pids)
        raise ServiceError(
            f"multiple gateway processes are listening on port {port}: {listed}; use "
            '"openclaw gateway status --deep" before retrying'
        )
    return pids[0] if pids else None


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        raise ServiceError(f"gateway pid {pid} exited before it could be signalled") from None


def _wait_health(port: int, healthy: HealthCheck, ctx: Context, timeout: float) -> bool:
    detached = ctx.detached()
    deadline = detached.monotonic() + timeout
    while not healthy(port):
        if detached.monotonic() >= deadline:
            return False
        detached.sleep(0.2)
    return True


def _lock_record(ctx: Context) -> tuple[int, str] | None:
    """(pid, createdAt) of the state lock's current owner, as lock.py writes it."""
    record = read_lock_record(ctx.paths.lock_dir / LOCK_NAME)
    if record is None or record.created_at is None:
        return None
    return record.pid, record.created_at


def _wait_relocked(ctx: Context, before: tuple[int, str], timeout: float) -> None:
    """An in-process restart re-takes the state lock: wait for the new stamp (bounded).

    Without this, the first health check could still reach the old run that has not begun to
    shut down yet, and report a restart that has not happened.
    """
    detached = ctx.detached()
    deadline = detached.monotonic() + timeout
    while detached.monotonic() < deadline:
        now = _lock_record(ctx)
        if now is not None and now != before:
            return
        detached.sleep(0.05)


def _restart_foreground(ctx: Context, port: int, healthy: HealthCheck) -> ActionResult | None:
    pid = verified_listener(port)
    if pid is None:
        return None
    before = _lock_record(ctx)
    _signal(pid, signal.SIGUSR2)
    _audit(ctx, "restart", "sigusr2", pid)
    if before is not None and before[0] == pid:  # it owns our state dir: watch it re-lock
        _wait_relocked(ctx, before, RELOCK_TIMEOUT)
    if not _wait_health(port, healthy, ctx, START_TIMEOUT):
        raise ServiceError(
            f"Gateway restart timed out after {START_TIMEOUT:.0f}s waiting for health checks.",
            hints=("openclaw gateway status --deep", "openclaw doctor"),
            result="restart-health-failed",
        )
    return ActionResult(
        "restart",
        True,
        result="restarted",
        message=f"Gateway restart request sent to foreground process on port {port}: {pid}.",
    )


def _stop_foreground(ctx: Context, port: int) -> ActionResult | None:
    pid = verified_listener(port)
    if pid is None:
        return None
    _signal(pid, signal.SIGTERM)
    _audit(ctx, "stop", "sigterm", pid)
    return ActionResult(
        "stop",
        True,
        result="stopped",
        message=f"Gateway stop signal sent to unmanaged process on port {port}: {pid}.",
    )


def _audit(ctx: Context, action: str, mode: str, pid: int | None = None) -> None:
    """One line per lifecycle change in <state>/logs/gateway-restart.log (official format)."""
    import datetime as dt

    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    who = f" pid={pid}" if pid is not None else ""
    line = (
        f"[{stamp}] openclaw gateway lifecycle source=cli action={action} mode={mode}{who} "
        f"interactive=0\n"
    )
    path = ctx.paths.state_dir / "logs" / "gateway-restart.log"
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)


# --------------------------------------------------------------------------------------------
# install


def _program(ctx: Context, port: int, opts: InstallOptions) -> tuple[str, ...]:
    tail = ["gateway", "--port", str(port)]
    if opts.allow_unconfigured:
        tail.append("--allow-unconfigured")
    if opts.wrapper is not None or (ctx.env.get("OPENCLAW_WRAPPER") or "").strip():
        raw = opts.wrapper if opts.wrapper is not None else ctx.env["OPENCLAW_WRAPPER"]
        label = "--wrapper" if opts.wrapper is not None else "OPENCLAW_WRAPPER"
        path = Path(os.path.expanduser(raw.strip())).absolute()
        if not raw.strip() or not path.is_file() or not os.access(path, os.X_OK):
            raise ServiceError(f"Invalid {label}: {raw!r} is not an executable file")
        return (str(path), *tail)
    if opts.runtime not in (None, "python"):
        raise ServiceError('Invalid --runtime (use "python")')
    python = opts.runtime_path or ctx.python
    if not os.path.isabs(python) or not os.access(python, os.X_OK):
        raise ServiceError(f"Invalid runtime pin: {python} is not an absolute executable path")
    return (python, "-m", "openclaw_gateway", *tail)


def _install_port(ctx: Context, opts: InstallOptions) -> int:
    if opts.port is not None:
        port = parse_port(opts.port)
        if port is None:
            raise ServiceError(invalid_port_option())
        return port
    port = config_port(ctx)
    if not 1 <= port <= 65535:
        raise ServiceError(
            "Invalid gateway.port in config. Set gateway.port to a number from 1 to 65535, or "
            "pass --port 18789."
        )
    return port


def _ensure_local_mode(ctx: Context, warnings: list[str]) -> None:
    """As the official install: a valid config without gateway.mode gets mode=local."""
    loaded = cfg.load_snapshot(ctx.paths.config_path)
    if not loaded.valid or loaded.config.gateway.mode is not None:
        return
    raw = dict(loaded.config.raw)
    gateway = dict(raw.get("gateway") or {})
    gateway["mode"] = "local"
    raw["gateway"] = gateway
    cfg.save_atomic(ctx.paths.config_path, raw)
    warnings.append(NO_MODE_WARNING)


def _secrets(ctx: Context, opts: InstallOptions) -> dict[str, str]:
    values: dict[str, str] = {}
    token = (opts.token or ctx.env.get("OPENCLAW_GATEWAY_TOKEN") or "").strip()
    password = (ctx.env.get("OPENCLAW_GATEWAY_PASSWORD") or "").strip()
    if token:
        values[SECRET_KEYS[0]] = token
    if password:
        values[SECRET_KEYS[1]] = password
    return values


def _service_env(ctx: Context, port: int, extra: dict[str, str]) -> list[tuple[str, str]]:
    env = ctx.env
    pairs = [("HOME", str(ctx.home))]
    if (env.get("TMPDIR") or "").strip():
        pairs.append(("TMPDIR", env["TMPDIR"]))
    pairs.append(("PATH", env.get("PATH") or "/usr/local/bin:/usr/bin:/bin"))
    pairs.append(("PYTHONUNBUFFERED", "1"))
    pairs.append(("OPENCLAW_GATEWAY_PORT", str(port)))
    pairs += sorted(identity.service_environment(env).items())
    pairs += list(extra.items())
    pairs += [
        ("OPENCLAW_SERVICE_MARKER", identity.SERVICE_MARKER),
        ("OPENCLAW_SERVICE_KIND", identity.SERVICE_KIND),
    ]
    return pairs


def install(ctx: Context, opts: InstallOptions) -> ActionResult:
    try:
        return _install(ctx, opts)
    except ServiceError as exc:
        return failure("install", exc)


def _install(ctx: Context, opts: InstallOptions) -> ActionResult:
    kind = ctx.kind
    if kind == "detached":
        _guard_external("install or rewrite the gateway service", ctx, generic=False)
        raise ServiceError(
            "Gateway install failed: no supported service manager detected (systemd is not "
            "PID 1 here); nothing was installed.",
            hints=(*SYSTEMD_UNAVAILABLE_HINTS, DETACHED_HINT),
        )
    problem = identity.mutation_error(
        "install or rewrite the gateway service", ctx.env, home=ctx.home, platform=ctx.platform
    )
    if problem is not None:
        raise ServiceError(f"Gateway install blocked: Error: {problem}")
    result = ActionResult("install", True)
    port = _install_port(ctx, opts)
    program = _program(ctx, port, opts)
    secrets = _secrets(ctx, opts)
    if kind == "systemd":
        unit = ctx.systemd()
        available, detail = unit.available()
        if not available:
            raise ServiceError(
                f"Gateway install failed: Error: systemctl --user unavailable: {detail}",
                hints=SYSTEMD_UNAVAILABLE_HINTS,
            )
        if unit.is_enabled() and not opts.force:
            return _already_installed(result, kind)
        _ensure_local_mode(ctx, result.warnings)
        extra = {"OPENCLAW_SYSTEMD_UNIT": unit.unit}
        if opts.wrapper:
            extra["OPENCLAW_WRAPPER"] = program[0]
        spec = UnitSpec(program, tuple(_service_env(ctx, port, extra)), ctx.systemd_env_file())
        try:
            backed_up = unit.write(spec, secrets, ctx.systemd_env_file())
            unit.activate()
        except ServiceError as exc:
            raise ServiceError(f"Gateway install failed: Error: {exc.message}") from None
        result.lines += ["", f"Installed systemd service: {unit.unit_path}"]
        if backed_up:
            result.lines.append(f"Previous unit backed up to: {unit.unit_path}.bak")
        if not unit.is_enabled():
            raise ServiceError("Gateway install verification failed: service is not enabled.")
        linger = unit.linger(ctx.user())
        if linger == "no":
            result.warnings.append(
                f"systemd user linger is off for {ctx.user()}: the gateway stops when you log "
                f"out. Enable it with: sudo loginctl enable-linger {ctx.user()}"
            )
        _audit(ctx, "install", "systemd")
        result.result, result.service = "installed", snapshot(kind, True)
        return result
    agent = ctx.launchd()
    if agent.is_loaded() and not opts.force:
        return _already_installed(result, kind)
    _ensure_local_mode(ctx, result.warnings)
    out, err = launchd_logs(ctx.home, identity.profile(ctx.env))
    extra = {"OPENCLAW_LAUNCHD_LABEL": agent.label}
    plist = PlistSpec(
        agent.label,
        program,
        ctx.launchd_env_file(),
        out,
        err,
        tuple(_service_env(ctx, port, extra)),
    )
    try:
        agent.write(plist, secrets)
        agent.activate()
    except ServiceError as exc:
        raise ServiceError(f"Gateway install failed: Error: {exc.message}") from None
    result.lines += ["", f"Installed LaunchAgent: {agent.plist}", f"Logs: {out}"]
    if not agent.is_loaded():
        raise ServiceError("Gateway install verification failed: service is not loaded.")
    _audit(ctx, "install", "launchd")
    result.result, result.service = "installed", snapshot(kind, True)
    return result


def _already_installed(result: ActionResult, kind: str) -> ActionResult:
    snap = snapshot(kind, True)
    result.result = "already-installed"
    result.message = f"Gateway service already {snap.loaded_text}."
    result.service = snap
    result.lines_after = ["Reinstall with: openclaw gateway install --force"]
    return result


# --------------------------------------------------------------------------------------------
# start / stop / restart / uninstall


def start(ctx: Context, healthy: HealthCheck) -> ActionResult:
    try:
        return _start(ctx, healthy)
    except ServiceError as exc:
        return failure("start", exc)


def _not_loaded(ctx: Context) -> ServiceError:
    snap = snapshot(ctx.kind, False)
    hints = start_hints(ctx)
    if ctx.kind == "systemd" and not ctx.systemd().available()[0]:
        hints = (*hints, *SYSTEMD_UNAVAILABLE_HINTS)
    return ServiceError(f"Gateway service {snap.not_loaded_text}.", hints=hints)


def _start(ctx: Context, healthy: HealthCheck) -> ActionResult:
    kind = ctx.kind
    _guard_external("start the gateway", ctx)
    if kind == "detached":
        return _start_detached(ctx, healthy)
    _guard_native("start the gateway", ctx)
    if kind == "systemd":
        unit = ctx.systemd()
        if not unit.is_enabled():
            raise _not_loaded(ctx)
        if unit.is_active():
            return _already_running(kind, unit.show().get("MainPID"))
        try:
            unit.start()
        except ServiceError as exc:
            raise ServiceError(
                f"Gateway start failed: Error: {exc.message}", start_hints(ctx)
            ) from None
        _audit(ctx, "start", "systemd")
        return ActionResult(
            "start",
            True,
            result="started",
            service=snapshot(kind, True),
            lines=[f"Started systemd service: {unit.unit}"],
        )
    agent = ctx.launchd()
    if not agent.installed():
        raise _not_loaded(ctx)
    runtime = agent.runtime()
    if runtime.get("status") == "running":
        return _already_running(kind, str(runtime.get("pid", "")))
    try:
        agent.start(loaded=bool(runtime.get("loaded")))
    except ServiceError as exc:
        raise ServiceError(
            f"Gateway start failed: Error: {exc.message}", start_hints(ctx)
        ) from None
    _audit(ctx, "start", "launchd")
    return ActionResult(
        "start",
        True,
        result="started",
        service=snapshot(kind, True),
        lines=[f"Started LaunchAgent: {agent.target}"],
    )


def _already_running(kind: str, pid: str | None) -> ActionResult:
    which = f" (pid {pid})" if pid and pid != "0" else ""
    return ActionResult(
        "start",
        True,
        result="already-running",
        message=f"Gateway service already running{which}.",
        service=snapshot(kind, True),
    )


def _start_detached(ctx: Context, healthy: HealthCheck) -> ActionResult:
    return _spawn_detached(ctx, healthy)[0]


def _spawn_detached(ctx: Context, healthy: HealthCheck) -> tuple[ActionResult, int]:
    """Start a detached gateway and wait for health: (the `started` result, its pid)."""
    detached = ctx.detached()
    record, stale = detached.current()
    if record is not None:
        raise ServiceError(
            f"Gateway already running (detached, pid {record.pid}); not starting another. "
            "Stop it first: openclaw gateway stop --force",
        )
    # A gateway we did not start (a foreground `gateway run`) owns this state dir: say so
    # instead of spawning a child that would exit 78 on the same lock.
    port = config_port(ctx)
    lock = StateLock(ctx.paths.state_dir)
    try:
        lock.acquire(port=port, config_path=ctx.paths.config_path)
    except StartupError as exc:
        raise ServiceError(f"Gateway start failed: {exc}") from None
    lock.release()
    proc, new = detached.spawn(port)
    _audit(ctx, "start", "detached", new.pid)
    detached.wait_ready(proc, lambda: healthy(port))
    out, _ = log_paths(ctx.paths.state_dir)
    result = ActionResult(
        "start",
        True,
        result="started",
        message=f"Gateway started (detached, pid {new.pid}, port {port}). Logs: {out}",
        service=snapshot("detached", True),
    )
    if stale is not None:
        result.warnings.append(
            f"Removed a stale pidfile: pid {stale.pid} is no longer the gateway it recorded."
        )
    return result, new.pid


def stop(ctx: Context, *, force: bool, interactive: bool, disable: bool = False) -> ActionResult:
    try:
        return _stop(ctx, force=force, interactive=interactive, disable=disable)
    except ServiceError as exc:
        return failure("stop", exc)


def _stop(ctx: Context, *, force: bool, interactive: bool, disable: bool) -> ActionResult:
    if not interactive and not force:
        raise ServiceError(STOP_NEEDS_FORCE)
    kind = ctx.kind
    _guard_external("stop the gateway", ctx)
    if kind == "detached":
        detached = ctx.detached()
        record, _ = detached.current()
        if record is not None:
            how = detached.stop(record)
            _audit(ctx, "stop", how, record.pid)
            return ActionResult(
                "stop",
                True,
                result="stopped",
                message=f"Gateway stopped (detached pid {record.pid}"
                + (", killed after the stop timeout)." if how == "sigkill" else ")."),
                service=snapshot(kind, False),
            )
        return _stop_unmanaged_or_noop(ctx)
    _guard_native("stop the gateway", ctx)
    if kind == "systemd":
        unit = ctx.systemd()
        if unit.is_enabled() or unit.is_active():
            unit.stop()
            _audit(ctx, "stop", "systemd")
            return ActionResult(
                "stop",
                True,
                result="stopped",
                service=snapshot(kind, unit.is_enabled()),
                lines=[f"Stopped systemd service: {unit.unit}"],
            )
        return _stop_unmanaged_or_noop(ctx)
    agent = ctx.launchd()
    if agent.is_loaded() or (disable and agent.installed()):
        agent.stop(disable=disable)
        _audit(ctx, "stop", "launchd")
        return ActionResult(
            "stop",
            True,
            result="stopped",
            service=snapshot(kind, agent.is_loaded()),
            lines=[f"Stopped LaunchAgent: {agent.target}"],
        )
    return _stop_unmanaged_or_noop(ctx)


def _stop_unmanaged_or_noop(ctx: Context) -> ActionResult:
    handled = _stop_foreground(ctx, config_port(ctx))
    snap = snapshot(ctx.kind, False)
    if handled is not None:
        handled.service = snap
        return handled
    return ActionResult(
        "stop",
        True,
        result="not-loaded",
        message=f"Gateway service {snap.not_loaded_text}.",
        service=snap,
    )


def restart(ctx: Context, healthy: HealthCheck) -> ActionResult:
    try:
        return _restart(ctx, healthy)
    except ServiceError as exc:
        return failure("restart", exc)


def _restart(ctx: Context, healthy: HealthCheck) -> ActionResult:
    kind = ctx.kind
    _guard_external("restart the gateway", ctx, generic=False)
    port = config_port(ctx)
    if kind == "detached":
        detached = ctx.detached()
        record, _ = detached.current()
        if record is None:
            handled = _restart_foreground(ctx, port, healthy)
            if handled is None:
                raise _not_loaded(ctx)
            return handled
        detached.stop(record)
        _audit(ctx, "restart", "detached", record.pid)
        started, new_pid = _spawn_detached(ctx, healthy)
        started.action = "restart"
        started.result = "restarted"
        started.message = f"Gateway restarted (detached, pid {record.pid} -> {new_pid})."
        return started
    problem = identity.mutation_error(
        "restart the gateway", ctx.env, home=ctx.home, platform=ctx.platform
    )
    installed = (
        (ctx.systemd().is_enabled() or ctx.systemd().installed())
        if kind == "systemd"
        else ctx.launchd().installed()
    )
    if not installed or problem is not None:
        handled = _restart_foreground(ctx, port, healthy)
        if handled is not None:
            return handled
        if problem is not None:
            raise ServiceError(f"Gateway restart failed: Error: {problem}")
        raise _not_loaded(ctx)
    try:
        if kind == "systemd":
            ctx.systemd().restart()
            line = f"Restarted systemd service: {ctx.systemd().unit}"
        else:
            ctx.launchd().restart()
            line = f"Restarted LaunchAgent: {ctx.launchd().target}"
    except ServiceError as exc:
        raise ServiceError(
            f"Gateway restart failed: Error: {exc.message}", start_hints(ctx)
        ) from None
    _audit(ctx, "restart", kind)
    if not _wait_health(port, healthy, ctx, START_TIMEOUT):
        raise ServiceError(
            f"Gateway restart timed out after {START_TIMEOUT:.0f}s waiting for health checks.",
            hints=("openclaw gateway status --deep", "openclaw doctor"),
            result="still-starting",
        )
    return ActionResult(
        "restart", True, result="restarted", service=snapshot(kind, True), lines=[line]
    )


def uninstall(ctx: Context) -> ActionResult:
    try:
        return _uninstall(ctx)
    except ServiceError as exc:
        return failure("uninstall", exc)


def _uninstall(ctx: Context) -> ActionResult:
    kind = ctx.kind
    _guard_external("uninstall the gateway service", ctx)
    if kind == "detached":
        detached = ctx.detached()
        record, _ = detached.current()
        lines = ["No service manager: nothing was installed."]
        if record is not None:
            detached.stop(record)
            _audit(ctx, "uninstall", "detached", record.pid)
            lines = [f"Stopped the detached gateway (pid {record.pid})."]
        return ActionResult(
            "uninstall", True, result="uninstalled", service=snapshot(kind, False), lines=lines
        )
    _guard_native("uninstall the gateway service", ctx)
    if kind == "systemd":
        unit = ctx.systemd()
        path = unit.unit_path
        try:
            removed = unit.uninstall(ctx.systemd_env_file())
        except ServiceError as exc:
            raise ServiceError(f"Gateway uninstall failed: Error: {exc.message}") from None
        if unit.is_enabled():
            raise ServiceError("Gateway service still loaded after uninstall.")
        line = (
            f"Removed systemd service: {path}"
            if removed
            else f"Systemd service not found at {path}"
        )
    else:
        agent = ctx.launchd()
        path = agent.plist
        try:
            removed = agent.uninstall(ctx.launchd_env_file())
        except ServiceError as exc:
            raise ServiceError(f"Gateway uninstall failed: Error: {exc.message}") from None
        line = f"Removed LaunchAgent: {path}" if removed else f"LaunchAgent not found at {path}"
    _audit(ctx, "uninstall", kind)
    return ActionResult(
        "uninstall", True, result="uninstalled", service=snapshot(kind, False), lines=[line]
    )
