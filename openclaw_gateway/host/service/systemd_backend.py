"""The lifecycle actions under systemd: a user unit driven by `systemctl --user` (systemd.py)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.backend import ManagedBackend
from openclaw_gateway.host.service.lifecycle import (
    SYSTEMD_UNAVAILABLE_HINTS,
    InstallOptions,
    already_installed,
    already_running,
    audit,
    ensure_local_mode,
    service_env,
)
from openclaw_gateway.host.service.manager import snapshot
from openclaw_gateway.host.service.results import ActionResult, ServiceError
from openclaw_gateway.host.service.systemd import SystemdService, UnitSpec


@attrs.frozen
class SystemdBackend(ManagedBackend):
    kind: ClassVar[str] = "systemd"

    @property
    def unit(self) -> SystemdService:
        return self.ctx.systemd()

    def _start_hint(self) -> str:
        return f"systemctl --user start {identity.systemd_unit_name(self.ctx.env)}"

    def not_loaded(self) -> ServiceError:
        error = super().not_loaded()
        if not self.unit.available()[0]:
            error.hints = (*error.hints, *SYSTEMD_UNAVAILABLE_HINTS)
        return error

    def _install(
        self,
        result: ActionResult,
        opts: InstallOptions,
        port: int,
        program: tuple[str, ...],
        secrets: dict[str, str],
    ) -> ActionResult:
        ctx, unit = self.ctx, self.unit
        available, detail = unit.available()
        if not available:
            raise ServiceError(
                f"Gateway install failed: Error: systemctl --user unavailable: {detail}",
                hints=SYSTEMD_UNAVAILABLE_HINTS,
            )
        if unit.is_enabled() and not opts.force:
            return already_installed(result, self.kind)
        ensure_local_mode(ctx, result.warnings)
        extra = {"OPENCLAW_SYSTEMD_UNIT": unit.unit}
        if opts.wrapper:
            extra["OPENCLAW_WRAPPER"] = program[0]
        spec = UnitSpec(program, tuple(service_env(ctx, port, extra)), ctx.systemd_env_file())
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
        audit(ctx, "install", self.kind)
        result.result, result.service = "installed", snapshot(self.kind, True)
        return result

    def _start(self) -> ActionResult:
        unit = self.unit
        if not unit.is_enabled():
            raise self.not_loaded()
        if unit.is_active():
            return already_running(self.kind, unit.show().get("MainPID"))
        try:
            unit.start()
        except ServiceError as exc:
            raise ServiceError(
                f"Gateway start failed: Error: {exc.message}", self.start_hints()
            ) from None
        audit(self.ctx, "start", self.kind)
        return ActionResult(
            "start",
            True,
            result="started",
            service=snapshot(self.kind, True),
            lines=[f"Started systemd service: {unit.unit}"],
        )

    def _stop(self, *, disable: bool) -> ActionResult | None:
        unit = self.unit
        if not (unit.is_enabled() or unit.is_active()):
            return None
        unit.stop()
        audit(self.ctx, "stop", self.kind)
        return ActionResult(
            "stop",
            True,
            result="stopped",
            service=snapshot(self.kind, unit.is_enabled()),
            lines=[f"Stopped systemd service: {unit.unit}"],
        )

    def _installed_for_restart(self) -> bool:
        return self.unit.is_enabled() or self.unit.installed()

    def _restart_service(self) -> str:
        self.unit.restart()
        return f"Restarted systemd service: {self.unit.unit}"

    def _remove(self) -> str:
        unit = self.unit
        path = unit.unit_path
        try:
            removed = unit.uninstall(self.ctx.systemd_env_file())
        except ServiceError as exc:
            raise ServiceError(f"Gateway uninstall failed: Error: {exc.message}") from None
        if unit.is_enabled():
            raise ServiceError("Gateway service still loaded after uninstall.")
        return (
            f"Removed systemd service: {path}"
            if removed
            else f"Systemd service not found at {path}"
        )
