"""One interface for the service managers, so the lifecycle actions never ask which one runs.

Each backend (systemd_backend.py, launchd_backend.py, detached_backend.py) carries out
install/start/stop/restart/uninstall for its manager and raises ServiceError with the
official message; actions.py picks the backend for the host (Context.kind), runs the guards
every action shares and turns errors into the envelope. systemd and launchd are both managed
services (a definition on disk, the canonical-account guard), so they share ManagedBackend:
the install preamble, the restart sequence and the uninstall result; they supply the
manager's own steps.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Protocol

import attrs

from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.detached import START_TIMEOUT
from openclaw_gateway.host.service.lifecycle import (
    HealthCheck,
    InstallOptions,
    audit,
    guard_native,
    install_port,
    install_secrets,
    restart_foreground,
    service_program,
    wait_health,
)
from openclaw_gateway.host.service.manager import Context, snapshot
from openclaw_gateway.host.service.results import ActionResult, ServiceError


class Backend(Protocol):
    """A service manager's side of the lifecycle actions."""

    kind: ClassVar[str]  # systemd | launchd | detached (manager.Context.kind)

    def start_hints(self) -> tuple[str, ...]:
        """The official renderGatewayServiceStartHints for this manager."""
        ...

    def not_loaded(self) -> ServiceError:
        """`Gateway service <not loaded>.` with the start hints."""
        ...

    def install(self, opts: InstallOptions) -> ActionResult: ...

    def start(self, healthy: HealthCheck) -> ActionResult: ...

    def stop(self, *, disable: bool) -> ActionResult | None:
        """The stop result, or None when nothing of this manager's is loaded (actions.py then
        falls back to an unmanaged gateway on the port, as the official CLI)."""
        ...

    def restart(self, port: int, healthy: HealthCheck) -> ActionResult: ...

    def uninstall(self) -> ActionResult: ...


@attrs.frozen
class ManagedBackend(abc.ABC):
    """What systemd and launchd do alike; subclasses supply the manager's own steps."""

    ctx: Context
    kind: ClassVar[str]

    # -- the manager's own steps ---------------------------------------------------------------

    @abc.abstractmethod
    def _start_hint(self) -> str: ...

    @abc.abstractmethod
    def _install(
        self,
        result: ActionResult,
        opts: InstallOptions,
        port: int,
        program: tuple[str, ...],
        secrets: dict[str, str],
    ) -> ActionResult: ...

    @abc.abstractmethod
    def _start(self) -> ActionResult: ...

    @abc.abstractmethod
    def _stop(self, *, disable: bool) -> ActionResult | None: ...

    @abc.abstractmethod
    def _installed_for_restart(self) -> bool: ...

    @abc.abstractmethod
    def _restart_service(self) -> str:
        """Restart through the manager; returns the progress line."""

    @abc.abstractmethod
    def _remove(self) -> str:
        """Remove the definition; returns the progress line."""

    # -- the shared sequence ------------------------------------------------------------------

    def start_hints(self) -> tuple[str, ...]:
        return ("openclaw gateway install", "openclaw gateway start", self._start_hint())

    def not_loaded(self) -> ServiceError:
        snap = snapshot(self.kind, False)
        return ServiceError(f"Gateway service {snap.not_loaded_text}.", hints=self.start_hints())

    def install(self, opts: InstallOptions) -> ActionResult:
        ctx = self.ctx
        problem = identity.mutation_error(
            "install or rewrite the gateway service", ctx.env, home=ctx.home, platform=ctx.platform
        )
        if problem is not None:
            raise ServiceError(f"Gateway install blocked: Error: {problem}")
        result = ActionResult("install", True)
        port = install_port(ctx, opts)
        program = service_program(ctx, port, opts)
        secrets = install_secrets(ctx, opts)
        return self._install(result, opts, port, program, secrets)

    def start(self, healthy: HealthCheck) -> ActionResult:
        guard_native("start the gateway", self.ctx)
        return self._start()

    def stop(self, *, disable: bool) -> ActionResult | None:
        guard_native("stop the gateway", self.ctx)
        return self._stop(disable=disable)

    def restart(self, port: int, healthy: HealthCheck) -> ActionResult:
        ctx = self.ctx
        problem = identity.mutation_error(
            "restart the gateway", ctx.env, home=ctx.home, platform=ctx.platform
        )
        if not self._installed_for_restart() or problem is not None:
            handled = restart_foreground(ctx, port, healthy)
            if handled is not None:
                return handled
            if problem is not None:
                raise ServiceError(f"Gateway restart failed: Error: {problem}")
            raise self.not_loaded()
        try:
            line = self._restart_service()
        except ServiceError as exc:
            raise ServiceError(
                f"Gateway restart failed: Error: {exc.message}", self.start_hints()
            ) from None
        audit(ctx, "restart", self.kind)
        if not wait_health(port, healthy, ctx, START_TIMEOUT):
            raise ServiceError(
                f"Gateway restart timed out after {START_TIMEOUT:.0f}s waiting for health checks.",
                hints=("openclaw gateway status --deep", "openclaw doctor"),
                result="still-starting",
            )
        return ActionResult(
            "restart", True, result="restarted", service=snapshot(self.kind, True), lines=[line]
        )

    def uninstall(self) -> ActionResult:
        guard_native("uninstall the gateway service", self.ctx)
        line = self._remove()
        audit(self.ctx, "uninstall", self.kind)
        return ActionResult(
            "uninstall",
            True,
            result="uninstalled",
            service=snapshot(self.kind, False),
            lines=[line],
        )
