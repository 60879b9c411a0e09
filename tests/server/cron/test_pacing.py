"""Cron `pacing` (issue 13), as the official: bounds validated at cron.add/cron.update, and a
successful run's next-check proposal (an agent node's `nextCheck`) clamped into them."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron.errors import ScheduleError
from openclaw_gateway.server.cron.pacing import (
    DurationError,
    normalize_pacing,
    paced_next_run_ms,
    parse_duration_ms,
)
from openclaw_gateway.server.cron.payloads import Outcome
from openclaw_gateway.server.cron.scheduler import run_scheduler
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store
from tests.server.cron.support import EPOCH_MS, wall

MINUTE = 60_000
HOUR = 60 * MINUTE


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("30s", 30_000),
        ("5m", 300_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("1h30m", 5_400_000),
        ("1.5h", 5_400_000),
        (" 15M ", 900_000),
        ("250", 250),
    ],
)
def test_durations_as_the_official_parser(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "  ", "abc", "1h30", "h", "-5m", "5 m", "1x", "1h-30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration_ms(text)


def test_a_proposal_is_clamped_into_the_bounds() -> None:
    pacing = {"min": "15m", "max": "4h"}
    now = EPOCH_MS
    assert paced_next_run_ms(now, 30 * MINUTE, pacing) == now + 30 * MINUTE
    assert paced_next_run_ms(now, MINUTE, pacing) == now + 15 * MINUTE
    assert paced_next_run_ms(now, 10 * HOUR, pacing) == now + 4 * HOUR
    assert paced_next_run_ms(now, 0, {"max": "1h"}) == now
    assert paced_next_run_ms(now, 99 * HOUR, {"min": "1m"}) == now + 99 * HOUR


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({}, "cron pacing requires at least one of min or max"),
        ({"min": "abc"}, "cron pacing min must be a positive duration"),
        ({"max": "0s"}, "cron pacing max must be a positive duration"),
        ({"min": "2h", "max": "1h"}, "cron pacing min must not exceed max"),
        ({"min": "1m", "x": 1}, "at /pacing: unexpected property 'x'"),
        ({"min": " "}, 'at /pacing/min: must match pattern "\\S"'),
        ({"min": 5}, "at /pacing/min: must be string"),
        ("1m", "at /pacing: must be object"),
    ],
)
def test_pacing_validation_wording(value: Any, reason: str) -> None:
    with pytest.raises(ScheduleError) as info:
        normalize_pacing(value)
    assert str(info.value) == reason


def _create(**extra: Any) -> J.Job:
    raw = {
        "name": "paced",
        "schedule": {"kind": "every", "everyMs": HOUR},
        "payload": {"kind": "systemEvent", "text": "x"},
        **extra,
    }
    return J.normalize_create(raw, job_id="id-p", now_ms=EPOCH_MS, host_tz="UTC")


def test_pacing_needs_a_recurring_schedule() -> None:
    assert _create(pacing={"min": "1m", "max": "1h30m"})["pacing"] == {
        "min": "1m",
        "max": "1h30m",
    }
    with pytest.raises(J.JobError, match="cron pacing requires an every or cron schedule"):
        _create(pacing={"min": "1m"}, schedule={"kind": "at", "at": "2030-01-01T00:00:00Z"})
    job = _create(pacing={"min": "1m"})
    with pytest.raises(J.JobError, match="cron pacing requires an every or cron schedule"):
        J.apply_patch(
            job,
            {"schedule": {"kind": "at", "at": "2030-01-01T00:00:00Z"}},
            now_ms=EPOCH_MS,
            host_tz="UTC",
        )
    cleared = J.apply_patch(job, {"pacing": None}, now_ms=EPOCH_MS, host_tz="UTC")
    assert "pacing" not in cleared


# --- the scheduler applies a proposal ----------------------------------------------------------


def _put(store: Store, now: int, **extra: Any) -> str:
    raw = {
        "name": "agent",
        "schedule": {"kind": "every", "everyMs": HOUR},
        "payload": {"kind": "agentTurn", "message": "check"},
        "sessionTarget": "isolated",
        "delivery": {"mode": "none"},
        **extra,
    }
    job = J.normalize_create(raw, job_id="id-agent", now_ms=now, host_tz="UTC")
    with store.transaction():
        store.cron_put_job(job, J.initial_state(job, now, "UTC"))
    return str(job["id"])


class Proposer:
    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.starts: list[int] = []

    async def __call__(self, state: GatewayState, job: dict[str, Any]) -> Outcome:
        self.starts.append(wall())
        await trio.sleep(1)
        return self.outcomes.pop(0) if self.outcomes else Outcome("ok", summary="done")


async def test_a_successful_proposal_sets_the_next_check_within_bounds(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    job_id = _put(store, created, pacing={"min": "15m", "max": "2h"})
    run = Proposer(
        Outcome("ok", summary="a", next_check_ms=20 * MINUTE),  # taken as it is
        Outcome("ok", summary="b", next_check_ms=MINUTE),  # raised to the 15 min floor
        Outcome("error", error="boom", next_check_ms=MINUTE),  # a failure discards it
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_scheduler(
                state, store, now=wall, execute=run, task_status=task_status
            )
        )
        await trio.sleep(HOUR / 1000 + 20 * 60 + 15 * 60 + 5)
        nursery.cancel_scope.cancel()
    first = created + HOUR
    second = first + 1000 + 20 * MINUTE
    third = second + 1000 + 15 * MINUTE
    assert run.starts[:3] == [first, second, third]
    found = store.cron_job(job_id)
    assert found is not None
    st = found[1]
    # After the failed third run: the natural slot with error backoff, not the proposal.
    assert st["nextRunAtMs"] == created + 2 * HOUR


async def test_a_proposal_without_pacing_fails_the_run(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    job_id = _put(store, created)
    run = Proposer(Outcome("ok", summary="a", next_check_ms=20 * MINUTE))
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_scheduler(
                state, store, now=wall, execute=run, task_status=task_status
            )
        )
        await trio.sleep(HOUR / 1000 + 5)
        nursery.cancel_scope.cancel()
    status, entry = store.cron_runs(job_id)[0]
    assert status == "error"
    assert entry["error"] == "cron next_check requires pacing on the current job"


async def test_a_forced_run_keeps_the_pending_slot(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    job_id = _put(store, created, pacing={"min": "1m"})
    run = Proposer(Outcome("ok", summary="a", next_check_ms=5 * MINUTE))
    async with trio.open_nursery() as nursery:
        sched = await nursery.start(
            lambda task_status: run_scheduler(
                state, store, now=wall, execute=run, task_status=task_status
            )
        )
        sched.run_now(job_id, manual=True)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    found = store.cron_job(job_id)
    assert found is not None
    assert found[1]["nextRunAtMs"] == created + HOUR
