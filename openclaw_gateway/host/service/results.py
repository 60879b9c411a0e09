"""The lifecycle JSON envelope and its exit codes (official `shared-*.mjs` createDaemonActionContext).

`{action, ok, result?, message?, service?, error?, hints?, hintItems?, warnings?}`; human
output prints the message (stdout) or the error (stderr) followed by `Tip: <hint>` lines.
Exit 1 on failure, 2 when the result is `still-starting`.
"""

from __future__ import annotations

from typing import Any

import attrs

from openclaw_gateway.core.errors import GatewayError

EXIT_STILL_STARTING = 2


class ServiceError(GatewayError):
    """A service operation failed; `hints` become `Tip:` lines / `hints` in JSON."""

    def __init__(self, message: str, hints: tuple[str, ...] = (), result: str | None = None):
        super().__init__(message)
        self.message = message
        self.hints = hints
        self.result = result


class GuardError(ServiceError):
    """A refusal the official CLI raises before the action starts (start/stop/uninstall).

    It is reported as the generic CLI failure (`[openclaw] The CLI command failed.` /
    `{"ok":false,"error":{"type":"cli_error",…}}`), not as a lifecycle envelope.
    """


@attrs.frozen
class ServiceSnapshot:
    """`service` in the envelope: what kind of service and whether it is loaded."""

    label: str
    loaded: bool
    loaded_text: str
    not_loaded_text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "loaded": self.loaded,
            "loadedText": self.loaded_text,
            "notLoadedText": self.not_loaded_text,
        }


def hint_kind(text: str) -> str:
    """The official classifyDaemonHintText."""
    if " install" in text and ("gateway install" in text or "node install" in text):
        return "install"
    if text.startswith("Service not installed. Run:"):
        return "install"
    if text.startswith("systemd user services are unavailable;"):
        return "systemd-unavailable"
    if text.startswith(
        ("On a headless server (SSH/no desktop session):", "Also ensure XDG_RUNTIME_DIR")
    ):
        return "systemd-headless"
    if text.startswith("If you're in a container, run the gateway in the foreground instead of"):
        return "container-foreground"
    return "generic"


@attrs.define
class ActionResult:
    action: str
    ok: bool
    result: str | None = None
    message: str | None = None
    service: ServiceSnapshot | None = None
    error: str | None = None
    hints: tuple[str, ...] = ()
    warnings: list[str] = attrs.field(factory=list)
    lines: list[str] = attrs.field(factory=list)  # human progress lines (stdout), not in JSON
    lines_after: list[str] = attrs.field(factory=list)  # human lines after the message
    generic: bool = False  # a GuardError: report as the generic CLI failure

    @property
    def exit_code(self) -> int:
        if self.ok:
            return 0
        return EXIT_STILL_STARTING if self.result == "still-starting" else 1

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"action": self.action, "ok": self.ok}
        if self.result is not None:
            body["result"] = self.result
        if self.message is not None:
            body["message"] = self.message
        if self.service is not None:
            body["service"] = self.service.to_json()
        if self.error is not None:
            body["error"] = self.error
        if self.hints:
            body["hints"] = list(self.hints)
            body["hintItems"] = [{"kind": hint_kind(h), "text": h} for h in self.hints]
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return body


def failure(action: str, exc: ServiceError, service: ServiceSnapshot | None = None) -> ActionResult:
    return ActionResult(
        action,
        False,
        result=exc.result,
        error=exc.message,
        hints=exc.hints,
        service=service,
        generic=isinstance(exc, GuardError),
    )
