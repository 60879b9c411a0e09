"""SIGUSR2 restarts: who restarts the process, and the signal bookkeeping (cli.md §10).

Pure (no trio, no I/O): the supervisor asks `Lifecycle` what a signal means, the CLI loop asks
`restart_mode` whether to redo the run in this process or exit for a service manager.

- Under systemd (INVOCATION_ID, SYSTEMD_EXEC_PID, JOURNAL_STREAM, OPENCLAW_SYSTEMD_UNIT, or the
  OPENCLAW_SERVICE_MARKER=openclaw + OPENCLAW_SERVICE_KIND=gateway pair) or launchd (macOS:
  OPENCLAW_LAUNCHD_LABEL, LAUNCH_JOB_*/XPC_SERVICE_NAME naming the gateway job) the process
  exits 0 and the manager starts a fresh one: the official unit has `Restart=always`, which
  restarts after a clean exit too (the official gateway also exits 0 here).
- OPENCLAW_NO_RESPAWN=1, a container, or a plain foreground run: restart in process, same pid.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

import attrs

from openclaw_gateway.host.netbind import in_container

RESTART_EXPECTED_MS = 1500  # what the `shutdown` event promises clients
SIGNAL_REPEAT_WINDOW_S = 300.0  # "the same signal 3 times in 5 min"
SIGNAL_REPEAT_COUNT = 3

_SYSTEMD_HINTS = ("OPENCLAW_SYSTEMD_UNIT", "INVOCATION_ID", "SYSTEMD_EXEC_PID", "JOURNAL_STREAM")
_LAUNCHD_HINTS = ("OPENCLAW_LAUNCHD_LABEL",)
_LAUNCHD_LABEL = "ai.openclaw.gateway"


def _has_any(env: Mapping[str, str], keys: tuple[str, ...]) -> bool:
    return any((env.get(key) or "").strip() for key in keys)


def _launchd_label(profile: str | None) -> str:
    name = (profile or "").strip().lower()
    return _LAUNCHD_LABEL if not name or name == "default" else f"ai.openclaw.{name}"


def service_supervisor(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """ "systemd" / "launchd" when a service manager restarts this process, else None."""
    if platform == "darwin":
        label = _launchd_label(env.get("OPENCLAW_PROFILE"))
        named = {(env.get(k) or "").strip() for k in ("LAUNCH_JOB_LABEL", "LAUNCH_JOB_NAME")}
        if _has_any(env, _LAUNCHD_HINTS) or label in named:
            return "launchd"
        return "launchd" if (env.get("XPC_SERVICE_NAME") or "").strip() == _LAUNCHD_LABEL else None
    if platform.startswith("linux"):
        marker = (env.get("OPENCLAW_SERVICE_MARKER") or "").strip() == "openclaw" and (
            env.get("OPENCLAW_SERVICE_KIND") or ""
        ).strip() == "gateway"
        return "systemd" if _has_any(env, _SYSTEMD_HINTS) or marker else None
    return None


@attrs.frozen
class RestartMode:
    in_process: bool
    log_line: str  # the official `restart mode: …` line


def restart_mode(env: Mapping[str, str], platform: str = sys.platform) -> RestartMode:
    if (env.get("OPENCLAW_NO_RESPAWN") or "").strip().lower() in ("1", "true", "yes", "on"):
        return RestartMode(True, "restart mode: in-process restart (OPENCLAW_NO_RESPAWN)")
    if service_supervisor(env, platform) is not None:
        return RestartMode(False, "restart mode: full process restart (supervisor restart)")
    detail = (
        "container: use in-process restart to keep PID 1 alive"
        if in_container(env)
        else "unmanaged: use in-process restart to keep custom supervisor PID tracking stable"
    )
    return RestartMode(True, f"restart mode: in-process restart ({detail})")


class SignalObserver:
    """Warns when the same signal arrives 3 times within 5 minutes (a competing supervisor).

    One instance lives for the whole process, so in-process restarts keep counting.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[str, list[float]] = {}

    def observe(self, name: str) -> str | None:
        now = self._clock()
        times = [t for t in self._seen.get(name, []) if now - t <= SIGNAL_REPEAT_WINDOW_S]
        times.append(now)
        self._seen[name] = times[-SIGNAL_REPEAT_COUNT:]
        if len(times) == SIGNAL_REPEAT_COUNT:
            return (
                f"received {name} {SIGNAL_REPEAT_COUNT} times in 5 min: another supervisor may "
                "be managing this Gateway — see `openclaw gateway status --deep`"
            )
        return None


@attrs.define
class Lifecycle:
    """What one run was asked to do: keep going, stop, or restart."""

    restart_allowed: bool = True  # commands.restart (external SIGUSR2)
    action: str | None = None  # None (running), "stop" or "restart"
    signal: str | None = None

    def decide(self, name: str) -> tuple[str, list[tuple[str, str, str]]]:
        """Handle signal `name`; returns (verdict, [(level, subsystem, message)]).

        verdict: "stop", "restart" (set `action`), "ignored".
        """
        restart = name == "SIGUSR2"
        if restart and not self.restart_allowed:
            return "ignored", [
                (
                    "warn",
                    "gateway",
                    "SIGUSR2 restart ignored (not authorized; commands.restart=false).",
                ),
                (
                    "warn",
                    "gateway",
                    "An unauthorized SIGUSR2 restart signal was received and ignored. If a "
                    "pending gateway restart needs to be applied, run `openclaw gateway "
                    "restart` or restart the gateway through your service manager.",
                ),
            ]
        if self.action is not None:
            return "ignored", [("info", "gateway", f"received {name} during shutdown; ignoring")]
        self.action = "restart" if restart else "stop"
        self.signal = name
        lines = [("info", "admission", f"closed: {self.action} ({name})")]
        if restart:
            lines.insert(0, ("info", "admission", "closed: restart-signal fence"))
        verb = "restarting" if restart else "shutting down"
        lines.append(("info", "gateway", f"received {name}; {verb}"))
        return self.action, lines

    def shutdown_payload(self) -> dict[str, object]:
        if self.action == "restart":
            return {"reason": "gateway restarting", "restartExpectedMs": RESTART_EXPECTED_MS}
        return {"reason": "gateway stopping"}
