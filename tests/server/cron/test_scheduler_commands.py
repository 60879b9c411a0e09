"""Command payloads as real subprocesses (real clock, short bounded timeouts)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.server.assembly import build_state
from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron.payloads import NO_AGENT, execute, run_command
from openclaw_gateway.server.cron.scheduler import INTERRUPTED, Scheduler, run_scheduler
from openclaw_gateway.server.mainsession.service import run_main_session
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.agents import AgentDirectory
from openclaw_gateway.server.runs.service import run_conversations
from openclaw_gateway.state.sessions import SessionBook
from openclaw_gateway.state.store import Store
from tests.helpers import make_settings

PY = sys.executable


def cmd(*argv: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "command", "argv": list(argv), **extra}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_exit_codes_output_and_inputs(tmp_path: Path) -> None:
    with trio.fail_after(20):
        ok = await run_command(
            cmd(
                PY,
                "-c",
                "import os,sys; print(sys.stdin.read(), os.environ['FOO'], os.getcwd())",
                input="in",
                env={"FOO": "bar"},
                cwd=str(tmp_path),
            )
        )
        assert ok.status == "ok"
        assert ok.error is None
        assert ok.summary == f"in bar {tmp_path}\n"
        assert ok.extra == {"exitCode": 0}

        bad = await run_command(cmd("sh", "-c", "echo out; echo err >&2; exit 3"))
        assert bad.status == "error"
        assert bad.error == "command exited with code 3"
        assert bad.summary == "out\nerr\n"

        big = await run_command(cmd(PY, "-c", "print('x' * 10000)", outputMaxBytes=100))
        assert big.status == "ok"
        assert big.summary == "x" * 100
        assert big.extra["outputTruncated"] is True

        missing = await run_command(cmd(str(tmp_path / "no-such-binary")))
        assert missing.status == "error"
        assert missing.error is not None
        assert missing.error.startswith("command failed to start:")


async def test_timeout_kills_the_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with trio.fail_after(10):
        started = time.monotonic()
        out = await run_command(
            cmd("sh", "-c", f"echo $$ > {pid_file}; exec sleep 30", timeoutSeconds=0.5),
            kill_grace=1.0,
        )
    assert time.monotonic() - started < 5
    assert out.status == "error"
    assert out.error == "command timed out after 0.5s"
    assert not _alive(int(pid_file.read_text()))


async def test_silence_timeout_and_sigkill_after_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # Ignores SIGTERM (the ignore is inherited by sleep), so only SIGKILL ends it.
    script = f"trap '' TERM; echo $$ > {pid_file}; echo started; sleep 30; echo never"
    with trio.fail_after(10):
        started = time.monotonic()
        out = await run_command(cmd("sh", "-c", script, noOutputTimeoutSeconds=0.5), kill_grace=0.3)
    assert time.monotonic() - started < 5
    assert out.status == "error"
    assert out.error == "command produced no output for 0.5s"
    assert out.summary == "started\n"
    assert out.extra["exitCode"] == -9
    assert not _alive(int(pid_file.read_text()))


async def test_agent_turn_and_system_event(tmp_path: Path) -> None:
    settings, _, _ = make_settings(tmp_path)
    state = build_state(settings)
    store = Store.open(tmp_path / "state")
    try:
        async with trio.open_nursery() as nursery:
            conv = await nursery.start(
                run_conversations, state, SessionBook(store), AgentDirectory.from_config(None), bool
            )
            main = await nursery.start(run_main_session, state, conv, {})
            job = {"id": "j1", "payload": {"kind": "agentTurn", "message": "hi"}}
            agent = await execute(state, job)
            sysev = await execute(
                state,
                {
                    "id": "j2",
                    "wakeMode": "next-heartbeat",
                    "payload": {"kind": "systemEvent", "text": " hello "},
                },
            )
            nursery.cancel_scope.cancel()
        assert agent.status == "error"
        assert agent.error == NO_AGENT
        assert sysev.status == "ok"
        assert main.queued_texts() == ["hello"]
        _rec, lines = conv.book.history("agent:main:main", 10)
        assert [(m["role"], m["content"][0]["text"], m["source"]) for m in lines] == [
            ("system", "hello", "cron:j2")
        ]
    finally:
        store.close()
        settings.logger.close()


@pytest.fixture(name="env")
def _env(tmp_path: Path) -> Iterator[tuple[GatewayState, Store]]:
    settings, _, _ = make_settings(tmp_path)
    state = build_state(settings)
    store = Store.open(tmp_path / "state")
    state.store = store
    yield state, store
    store.close()
    settings.logger.close()


def _add(store: Store, payload: dict[str, Any]) -> str:
    now = int(time.time() * 1000)
    job = J.normalize_create(
        {"name": "c", "schedule": {"kind": "every", "everyMs": 3_600_000}, "payload": payload},
        job_id="cmd-job",
        now_ms=now,
        host_tz="UTC",
    )
    with store.transaction():
        store.cron_put_job(job, J.initial_state(job, now, "UTC"))
    return str(job["id"])


def _now() -> int:
    return int(time.time() * 1000)


async def test_scheduled_command_timeout_is_recorded(env: tuple[GatewayState, Store]) -> None:
    state, store = env
    job_id = _add(store, cmd("sleep", "30", timeoutSeconds=0.5))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sched: Scheduler = await nursery.start(
                lambda task_status: run_scheduler(
                    state, store, now=_now, kill_grace=0.5, task_status=task_status
                )
            )
            sched.run_now(job_id, manual=True)
            while sched.is_running(job_id):  # noqa: ASYNC110 - polls a real subprocess run
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    [(status, entry)] = store.cron_runs(job_id)
    assert status == "error"
    assert entry["error"] == "command timed out after 0.5s"
    assert entry["completionStatus"] == "failed"
    found = store.cron_job(job_id)
    assert found is not None
    assert found[1]["lastRunStatus"] == "error"
    assert "runningAtMs" not in found[1]


async def test_shutdown_stops_running_commands_and_records_them(
    env: tuple[GatewayState, Store], tmp_path: Path
) -> None:
    state, store = env
    pid_file = tmp_path / "pid"
    job_id = _add(store, cmd("sh", "-c", f"trap '' TERM; echo $$ > {pid_file}; sleep 30"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sched: Scheduler = await nursery.start(
                lambda task_status: run_scheduler(
                    state, store, now=_now, kill_grace=0.3, task_status=task_status
                )
            )
            sched.run_now(job_id, manual=True)
            while not pid_file.exists() or not pid_file.read_text().strip():  # noqa: ASYNC110
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()
    assert not _alive(int(pid_file.read_text()))
    [(status, entry)] = store.cron_runs(job_id)
    assert status == "interrupted"
    assert entry["error"] == INTERRUPTED
    assert store.cron_running() == []
