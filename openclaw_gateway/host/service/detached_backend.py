"""The lifecycle actions without a service manager: the detached gateway (detached.py).

Nothing is installed (nothing would restart the gateway at boot or after a crash); `start`
spawns a detached gateway and waits for health, `stop`/`restart`/`uninstall` act on the one
the pidfile verifiably records.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.host.lock import StateLock
from openclaw_gateway.host.service.detached import DetachedService, log_paths
from openclaw_gateway.host.service.lifecycle import (
    DETACHED_HINT,
    SYSTEMD_UNAVAILABLE_HINTS,
    HealthCheck,
    InstallOptions,
    audit,
    guard_external,
    restart_foreground,
)
from openclaw_gateway.host.service.manager import Context, config_port, snapshot
from openclaw_gateway.host.service.results import ActionResult, ServiceError


@attrs.frozen
class DetachedBackend:
    ctx: Context
    kind: ClassVar[str] = "detached"

    def start_hints(self) -> tuple[str, ...]:
        return (*SYSTEMD_UNAVAILABLE_HINTS, DETACHED_HINT)

    def not_loaded(self) -> ServiceError:
        snap = snapshot(self.kind, False)
        return ServiceError(f"Gateway service {snap.not_loaded_text}.", hints=self.start_hints())

    def install(self, opts: InstallOptions) -> ActionResult:
        guard_external("install or rewrite the gateway service", self.ctx, generic=False)
        raise ServiceError(
            "Gateway install failed: no supported service manager detected (systemd is not "
            "PID 1 here); nothing was installed.",
            hints=(*SYSTEMD_UNAVAILABLE_HINTS, DETACHED_HINT),
        )

    def start(self, healthy: HealthCheck) -> ActionResult:
        with self.ctx.detached().exclusive():
            return self._spawn(healthy)[0]

    def stop(self, *, disable: bool) -> ActionResult | None:
        detached = self.ctx.detached()
        with detached.exclusive():
            return self._stop(detached)

    def _stop(self, detached: DetachedService) -> ActionResult | None:
        record, _ = detached.current()
        if record is None:
            return None
        how = detached.stop(record)
        audit(self.ctx, "stop", how, record.pid)
        return ActionResult(
            "stop",
            True,
            result="stopped",
            message=f"Gateway stopped (detached pid {record.pid}"
            + (", killed after the stop timeout)." if how == "sigkill" else ")."),
            service=snapshot(self.kind, False),
        )

    def restart(self, port: int, healthy: HealthCheck) -> ActionResult:
        detached = self.ctx.detached()
        with detached.exclusive():
            return self._restart(detached, port, healthy)

    def _restart(self, detached: DetachedService, port: int, healthy: HealthCheck) -> ActionResult:
        record, _ = detached.current()
        if record is None:
            handled = restart_foreground(self.ctx, port, healthy)
            if handled is None:
                raise self.not_loaded()
            return handled
        detached.stop(record)
        audit(self.ctx, "restart", self.kind, record.pid)
        started, new_pid = self._spawn(healthy)
        started.action = "restart"
        started.result = "restarted"
        started.message = f"Gateway restarted (detached, pid {record.pid} -> {new_pid})."
        return started

    def uninstall(self) -> ActionResult:
        detached = self.ctx.detached()
        lines = ["No service manager: nothing was installed."]
        with detached.exclusive():
            record, _ = detached.current()
            if record is not None:
                detached.stop(record)
                audit(self.ctx, "uninstall", self.kind, record.pid)
                lines = [f"Stopped the detached gateway (pid {record.pid})."]
        return ActionResult(
            "uninstall", True, result="uninstalled", service=snapshot(self.kind, False), lines=lines
        )

    def _spawn(self, healthy: HealthCheck) -> tuple[ActionResult, int]:
        """Start a detached gateway and wait for health: (the `started` result, its pid).

        The caller holds `detached.exclusive()`, from the check to the pidfile.
        """
        ctx = self.ctx
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
        audit(ctx, "start", self.kind, new.pid)
        detached.wait_ready(proc, lambda: healthy(port))
        out, _ = log_paths(ctx.paths.state_dir)
        result = ActionResult(
            "start",
            True,
            result="started",
            message=f"Gateway started (detached, pid {new.pid}, port {port}). Logs: {out}",
            service=snapshot(self.kind, True),
        )
        if stale is not None:
            result.warnings.append(
                f"Removed a stale pidfile: pid {stale.pid} is no longer the gateway it recorded."
            )
        return result, new.pid
