"""The lifecycle actions under launchd: a LaunchAgent driven by `launchctl` (launchd.py)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from openclaw_gateway.host.service import identity
from openclaw_gateway.host.service.backend import ManagedBackend
from openclaw_gateway.host.service.launchd import LaunchdService, PlistSpec
from openclaw_gateway.host.service.launchd import log_paths as launchd_logs
from openclaw_gateway.host.service.lifecycle import (
    InstallOptions,
    already_installed,
    already_running,
    audit,
    ensure_local_mode,
    service_env,
)
from openclaw_gateway.host.service.manager import snapshot
from openclaw_gateway.host.service.results import ActionResult, ServiceError


@attrs.frozen
class LaunchdBackend(ManagedBackend):
    kind: ClassVar[str] = "launchd"

    @property
    def agent(self) -> LaunchdService:
        return self.ctx.launchd()

    def _start_hint(self) -> str:
        label = identity.launchd_label(self.ctx.env)
        return f"launchctl bootstrap gui/$UID ~/Library/LaunchAgents/{label}.plist"

    def _install(
        self,
        result: ActionResult,
        opts: InstallOptions,
        port: int,
        program: tuple[str, ...],
        secrets: dict[str, str],
    ) -> ActionResult:
        ctx, agent = self.ctx, self.agent
        if agent.is_loaded() and not opts.force:
            return already_installed(result, self.kind)
        ensure_local_mode(ctx, result.warnings)
        out, err = launchd_logs(ctx.home, identity.profile(ctx.env))
        extra = {"OPENCLAW_LAUNCHD_LABEL": agent.label}
        plist = PlistSpec(
            agent.label,
            program,
            ctx.launchd_env_file(),
            out,
            err,
            tuple(service_env(ctx, port, extra)),
        )
        try:
            agent.write(plist, secrets)
            agent.activate()
        except ServiceError as exc:
            raise ServiceError(f"Gateway install failed: Error: {exc.message}") from None
        result.lines += ["", f"Installed LaunchAgent: {agent.plist}", f"Logs: {out}"]
        if not agent.is_loaded():
            raise ServiceError("Gateway install verification failed: service is not loaded.")
        audit(ctx, "install", self.kind)
        result.result, result.service = "installed", snapshot(self.kind, True)
        return result

    def _start(self) -> ActionResult:
        agent = self.agent
        if not agent.installed():
            raise self.not_loaded()
        runtime = agent.runtime()
        if runtime.get("status") == "running":
            return already_running(self.kind, str(runtime.get("pid", "")))
        try:
            agent.start(loaded=bool(runtime.get("loaded")))
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
            lines=[f"Started LaunchAgent: {agent.target}"],
        )

    def _stop(self, *, disable: bool) -> ActionResult | None:
        agent = self.agent
        if not (agent.is_loaded() or (disable and agent.installed())):
            return None
        agent.stop(disable=disable)
        audit(self.ctx, "stop", self.kind)
        return ActionResult(
            "stop",
            True,
            result="stopped",
            service=snapshot(self.kind, agent.is_loaded()),
            lines=[f"Stopped LaunchAgent: {agent.target}"],
        )

    def _installed_for_restart(self) -> bool:
        return self.agent.installed()

    def _restart_service(self) -> str:
        self.agent.restart()
        return f"Restarted LaunchAgent: {self.agent.target}"

    def _remove(self) -> str:
        agent = self.agent
        path = agent.plist
        try:
            removed = agent.uninstall(self.ctx.launchd_env_file())
        except ServiceError as exc:
            raise ServiceError(f"Gateway uninstall failed: Error: {exc.message}") from None
        return f"Removed LaunchAgent: {path}" if removed else f"LaunchAgent not found at {path}"
