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
canonical account identity (identity.mutation_error). Each service manager is one backend
(backend.py); this module picks it, runs the guards all share and maps errors to envelopes.
"""

from __future__ import annotations

from collections.abc import Callable

from openclaw_gateway.host.service.backend import Backend
from openclaw_gateway.host.service.detached_backend import DetachedBackend
from openclaw_gateway.host.service.launchd_backend import LaunchdBackend
from openclaw_gateway.host.service.lifecycle import (
    NO_MODE_WARNING,
    HealthCheck,
    InstallOptions,
    guard_external,
    stop_foreground,
)
from openclaw_gateway.host.service.manager import Context, config_port, snapshot
from openclaw_gateway.host.service.results import ActionResult, ServiceError, failure
from openclaw_gateway.host.service.systemd_backend import SystemdBackend

__all__ = [
    "NO_MODE_WARNING",
    "STOP_NEEDS_FORCE",
    "HealthCheck",
    "InstallOptions",
    "backend_for",
    "install",
    "restart",
    "start",
    "stop",
    "uninstall",
]

STOP_NEEDS_FORCE = (
    "This stops the operator's running gateway service. Use an isolated dev gateway (openclaw "
    "gateway run --dev, or --profile <name> with a free port) for testing, or re-run with "
    "--force if you really mean it."
)
BACKENDS: dict[str, Callable[[Context], Backend]] = {
    "systemd": SystemdBackend,
    "launchd": LaunchdBackend,
    "detached": DetachedBackend,
}


def backend_for(ctx: Context) -> Backend:
    """The backend of the service manager this host has (Context.kind)."""
    return BACKENDS[ctx.kind](ctx)


def install(ctx: Context, opts: InstallOptions) -> ActionResult:
    try:
        return backend_for(ctx).install(opts)
    except ServiceError as exc:
        return failure("install", exc)


def start(ctx: Context, healthy: HealthCheck) -> ActionResult:
    try:
        guard_external("start the gateway", ctx)
        return backend_for(ctx).start(healthy)
    except ServiceError as exc:
        return failure("start", exc)


def stop(ctx: Context, *, force: bool, interactive: bool, disable: bool = False) -> ActionResult:
    try:
        if not interactive and not force:
            raise ServiceError(STOP_NEEDS_FORCE)
        guard_external("stop the gateway", ctx)
        stopped = backend_for(ctx).stop(disable=disable)
        return stopped if stopped is not None else _stop_unmanaged_or_noop(ctx)
    except ServiceError as exc:
        return failure("stop", exc)


def _stop_unmanaged_or_noop(ctx: Context) -> ActionResult:
    handled = stop_foreground(ctx, config_port(ctx))
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
        guard_external("restart the gateway", ctx, generic=False)
        return backend_for(ctx).restart(config_port(ctx), healthy)
    except ServiceError as exc:
        return failure("restart", exc)


def uninstall(ctx: Context) -> ActionResult:
    try:
        guard_external("uninstall the gateway service", ctx)
        return backend_for(ctx).uninstall()
    except ServiceError as exc:
        return failure("uninstall", exc)
