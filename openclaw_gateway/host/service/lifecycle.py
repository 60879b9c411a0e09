"""What the lifecycle actions share, whatever the service manager (official lifecycle-core).

The install options and what a service runs (program, environment, secrets), the guards, the
audit line in `<state>/logs/gateway-restart.log`, the health and re-lock waits, and the
fallback to an unmanaged (foreground `gateway run`) gateway on the port: `stop` sends it
SIGTERM, `restart` SIGUSR2, once its command line shows it is a gateway. The steps of each
service manager are its backend (backend.py: systemd, launchd, detached); actions.py runs them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import attrs

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.paths import invalid_port_option, parse_port
from openclaw_gateway.host import ports
from openclaw_gateway.host.lock import LOCK_NAME, read_lock_record
from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.detached import START_TIMEOUT, is_gateway_process
from openclaw_gateway.host.service.manager import Context, config_port, snapshot
from openclaw_gateway.host.service.results import ActionResult, GuardError, ServiceError
from openclaw_gateway.host.service.systemd import SECRET_KEYS
from openclaw_gateway.host.terminate import pinned

HealthCheck = Callable[[int], bool]  # port -> does the gateway there answer `health`?
RELOCK_TIMEOUT = 10.0  # SIGUSR2 -> the foreground run re-takes the state lock (then health)

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


def guard_external(action: str, ctx: Context, *, generic: bool = True) -> None:
    if identity.externally_supervised(ctx.env):
        message = identity.external_supervisor_message(action)
        raise GuardError(message) if generic else ServiceError(message)


def guard_native(action: str, ctx: Context) -> None:
    problem = identity.mutation_error(action, ctx.env, home=ctx.home, platform=ctx.platform)
    if problem is not None:
        raise GuardError(problem)


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
    """Signal the verified gateway `pid` through a pidfd, re-verified once it is pinned."""
    with pinned(pid) as send:
        if send is None or not is_gateway_process(pid):
            raise ServiceError(f"gateway pid {pid} exited before it could be signalled")
        send(signum)


def wait_health(port: int, healthy: HealthCheck, ctx: Context, timeout: float) -> bool:
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


def restart_foreground(ctx: Context, port: int, healthy: HealthCheck) -> ActionResult | None:
    pid = verified_listener(port)
    if pid is None:
        return None
    before = _lock_record(ctx)
    _signal(pid, signal.SIGUSR2)
    audit(ctx, "restart", "sigusr2", pid)
    if before is not None and before[0] == pid:  # it owns our state dir: watch it re-lock
        _wait_relocked(ctx, before, RELOCK_TIMEOUT)
    if not wait_health(port, healthy, ctx, START_TIMEOUT):
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


def stop_foreground(ctx: Context, port: int) -> ActionResult | None:
    pid = verified_listener(port)
    if pid is None:
        return None
    _signal(pid, signal.SIGTERM)
    audit(ctx, "stop", "sigterm", pid)
    return ActionResult(
        "stop",
        True,
        result="stopped",
        message=f"Gateway stop signal sent to unmanaged process on port {port}: {pid}.",
    )


def audit(ctx: Context, action: str, mode: str, pid: int | None = None) -> None:
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


def service_program(ctx: Context, port: int, opts: InstallOptions) -> tuple[str, ...]:
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


def install_port(ctx: Context, opts: InstallOptions) -> int:
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


def ensure_local_mode(ctx: Context, warnings: list[str]) -> None:
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


def install_secrets(ctx: Context, opts: InstallOptions) -> dict[str, str]:
    values: dict[str, str] = {}
    token = (opts.token or ctx.env.get("OPENCLAW_GATEWAY_TOKEN") or "").strip()
    password = (ctx.env.get("OPENCLAW_GATEWAY_PASSWORD") or "").strip()
    if token:
        values[SECRET_KEYS[0]] = token
    if password:
        values[SECRET_KEYS[1]] = password
    return values


def service_env(ctx: Context, port: int, extra: dict[str, str]) -> list[tuple[str, str]]:
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


def already_installed(result: ActionResult, kind: str) -> ActionResult:
    snap = snapshot(kind, True)
    result.result = "already-installed"
    result.message = f"Gateway service already {snap.loaded_text}."
    result.service = snap
    result.lines_after = ["Reinstall with: openclaw gateway install --force"]
    return result


def already_running(kind: str, pid: str | None) -> ActionResult:
    which = f" (pid {pid})" if pid and pid != "0" else ""
    return ActionResult(
        "start",
        True,
        result="already-running",
        message=f"Gateway service already running{which}.",
        service=snapshot(kind, True),
    )
