"""SIGUSR2/SIGTERM handling of the in-process supervisor (autojump clock, real signals).

The signals are real: the test sends them to its own process, and trio's receiver in
`run_gateway` (handle_signals=True) is what catches them.
"""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import attrs
import trio

from openclaw_gateway.server.restart import (
    Lifecycle,
    SignalObserver,
    restart_mode,
    service_supervisor,
)
from openclaw_gateway.server.run_settings import RunSettings
from openclaw_gateway.server.supervisor import run_gateway
from tests.helpers import TOKEN, make_settings
from tests.server.integration.support import read_until_closed, ws_connected

HINT = (
    "received SIGUSR2 3 times in 5 min: another supervisor may be managing this Gateway — see "
    "`openclaw gateway status --deep`"
)


def _messages(settings: RunSettings) -> list[str]:
    assert settings.log_file is not None
    return [json.loads(x)["message"] for x in settings.log_file.read_text().splitlines()]


def _signalled(tmp_path: Path, **overrides: Any) -> tuple[RunSettings, io.StringIO]:
    tmp_path.mkdir(exist_ok=True)
    settings, _, err = make_settings(tmp_path, **overrides)
    return attrs.evolve(settings, handle_signals=True), err


async def _run(settings: RunSettings, outcome: list[str], task_status: Any) -> None:
    outcome.append(await run_gateway(settings, task_status=task_status))


async def test_sigusr2_restart_event_and_second_signal_ignored(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, tmp_path: Path
) -> None:
    settings = _signalled(tmp_path)[0]
    outcome: list[str] = []
    async with trio.open_nursery() as inner:
        addresses = await inner.start(_run, settings, outcome)
        port = addresses[0][1]
        async with ws_connected(nursery, port, auth={"token": TOKEN}) as client:
            os.kill(os.getpid(), signal.SIGUSR2)
            os.kill(os.getpid(), signal.SIGTERM)  # arrives during the restart's shutdown
            with trio.fail_after(30):
                closed = await read_until_closed(client)
    settings.logger.close()
    assert outcome == ["restart"]
    assert (closed.code, closed.reason) == (1012, "service restart")
    shutdown = [f["payload"] for f in closed.frames if f.get("event") == "shutdown"]
    assert shutdown == [{"reason": "gateway restarting", "restartExpectedMs": 1500}]
    messages = _messages(settings)
    at = messages.index("received SIGUSR2; restarting")
    assert messages[at - 2 : at + 2] == [
        "closed: restart-signal fence",
        "closed: restart (SIGUSR2)",
        "received SIGUSR2; restarting",
        "received SIGTERM during shutdown; ignoring",
    ]


async def test_sigterm_stops_with_the_stop_event(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, tmp_path: Path
) -> None:
    settings = _signalled(tmp_path)[0]
    outcome: list[str] = []
    async with trio.open_nursery() as inner:
        port = (await inner.start(_run, settings, outcome))[0][1]
        async with ws_connected(nursery, port, auth={"token": TOKEN}) as client:
            os.kill(os.getpid(), signal.SIGTERM)
            with trio.fail_after(30):
                closed = await read_until_closed(client)
    settings.logger.close()
    assert outcome == ["stop"]
    shutdown = [f["payload"] for f in closed.frames if f.get("event") == "shutdown"]
    assert shutdown == [{"reason": "gateway stopping"}]
    messages = _messages(settings)
    at = messages.index("received SIGTERM; shutting down")
    assert messages[at - 1] == "closed: stop (SIGTERM)"


async def test_restart_not_allowed_keeps_serving(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    settings, err = _signalled(tmp_path, restart_allowed=False)
    outcome: list[str] = []
    async with trio.open_nursery() as inner:
        await inner.start(_run, settings, outcome)
        os.kill(os.getpid(), signal.SIGUSR2)
        await trio.sleep(5)
        assert outcome == []  # still running
        os.kill(os.getpid(), signal.SIGTERM)
    settings.logger.close()
    assert outcome == ["stop"]
    assert "SIGUSR2 restart ignored (not authorized; commands.restart=false)." in err.getvalue()
    assert "received SIGUSR2; restarting" not in _messages(settings)


async def test_the_repeat_hint_counts_across_in_process_restarts(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    observer = SignalObserver(trio.current_time)
    outcomes: list[str] = []
    warnings = ""
    for round_ in range(3):
        settings, err = _signalled(tmp_path / str(round_), signal_observer=observer)
        async with trio.open_nursery() as inner:
            await inner.start(_run, settings, outcomes)
            await trio.sleep(10)
            os.kill(os.getpid(), signal.SIGUSR2)
        settings.logger.close()
        warnings += err.getvalue()
    assert outcomes == ["restart"] * 3
    assert warnings.count(HINT) == 1


def test_signal_observer_window() -> None:
    now = [0.0]
    observer = SignalObserver(lambda: now[0])
    assert observer.observe("SIGTERM") is None
    now[0] = 200
    assert observer.observe("SIGTERM") is None
    now[0] = 301  # the first one has left the 5 min window
    assert observer.observe("SIGTERM") is None
    now[0] = 350
    assert observer.observe("SIGINT") is None  # counted per signal
    assert observer.observe("SIGTERM") is not None


def test_lifecycle_decisions() -> None:
    blocked = Lifecycle(restart_allowed=False)
    verdict, lines = blocked.decide("SIGUSR2")
    assert verdict == "ignored" and blocked.action is None
    assert lines[0] == (
        "warn",
        "gateway",
        "SIGUSR2 restart ignored (not authorized; commands.restart=false).",
    )
    # commands.restart=false does not block a stop.
    assert blocked.decide("SIGINT")[0] == "stop"
    assert blocked.shutdown_payload() == {"reason": "gateway stopping"}
    life = Lifecycle()
    assert life.decide("SIGUSR2")[0] == "restart"
    assert life.decide("SIGUSR2") == (
        "ignored",
        [("info", "gateway", "received SIGUSR2 during shutdown; ignoring")],
    )
    assert life.action == "restart"


def test_supervisor_detection_and_restart_mode() -> None:
    assert service_supervisor({}, "linux") is None
    for key in ("INVOCATION_ID", "SYSTEMD_EXEC_PID", "JOURNAL_STREAM", "OPENCLAW_SYSTEMD_UNIT"):
        assert service_supervisor({key: "x"}, "linux") == "systemd"
    assert service_supervisor({key: " "}, "linux") is None
    marker = {"OPENCLAW_SERVICE_MARKER": "openclaw", "OPENCLAW_SERVICE_KIND": "gateway"}
    assert service_supervisor(marker, "linux") == "systemd"
    # launchd hints count on macOS only, and XPC_SERVICE_NAME only for the gateway's own job.
    assert service_supervisor({"OPENCLAW_LAUNCHD_LABEL": "x"}, "linux") is None
    assert service_supervisor({"OPENCLAW_LAUNCHD_LABEL": "x"}, "darwin") == "launchd"
    assert service_supervisor({"XPC_SERVICE_NAME": "ai.openclaw.gateway"}, "darwin") == "launchd"
    assert service_supervisor({"XPC_SERVICE_NAME": "com.apple.Terminal"}, "darwin") is None
    work = {"OPENCLAW_PROFILE": "work", "LAUNCH_JOB_LABEL": "ai.openclaw.work"}
    assert service_supervisor(work, "darwin") == "launchd"

    supervised = restart_mode({"INVOCATION_ID": "x"}, "linux")
    assert not supervised.in_process
    assert supervised.log_line == "restart mode: full process restart (supervisor restart)"
    forced = restart_mode({"INVOCATION_ID": "x", "OPENCLAW_NO_RESPAWN": "1"}, "linux")
    assert forced.in_process
    assert forced.log_line == "restart mode: in-process restart (OPENCLAW_NO_RESPAWN)"
    assert restart_mode({}, "linux").in_process
