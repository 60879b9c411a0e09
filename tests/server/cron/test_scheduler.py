"""The scheduler under the autojump clock, with an injected wall clock and a fake executor.

`wall()` derives wall-clock ms from trio's virtual clock, so an hour of schedule runs in
milliseconds and every instant is exact.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import trio
import trio.testing

from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron.payloads import Outcome
from openclaw_gateway.server.cron.scheduler import (
    DEFERRED_AGENT_DELAY_MS,
    INTERRUPTED,
    MAX_CONCURRENT,
    Scheduler,
    run_scheduler,
)
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store
from tests.server.cron.support import wall

MINUTE = 60_000


def put_job(
    store: Store,
    *,
    now: int,
    every_ms: int = MINUTE,
    name: str = "j",
    payload: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    raw = {
        "name": name,
        "schedule": {"kind": "every", "everyMs": every_ms},
        "payload": payload or {"kind": "systemEvent", "text": name},
        "wakeMode": "next-heartbeat",
        **extra,
    }
    job = J.normalize_create(raw, job_id=f"id-{name}", now_ms=now, host_tz="UTC")
    with store.transaction():
        store.cron_put_job(job, J.initial_state(job, now, "UTC") if state is None else state)
    return str(job["id"])


class Recorder:
    def __init__(self, duration_s: float = 0.0) -> None:
        self.duration_s = duration_s
        self.starts: list[tuple[str, int]] = []
        self.intervals: dict[str, list[tuple[int, int]]] = {}
        self.active = 0
        self.max_active = 0

    async def __call__(self, state: GatewayState, job: dict[str, Any]) -> Outcome:
        start = wall()
        self.starts.append((job["id"], start))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await trio.sleep(self.duration_s)
        finally:
            self.active -= 1
        self.intervals.setdefault(job["id"], []).append((start, wall()))
        return Outcome("ok", summary="done")


async def start(
    nursery: trio.Nursery, state: GatewayState, store: Store, execute: Any
) -> Scheduler:
    sched: Scheduler = await nursery.start(
        lambda task_status: run_scheduler(
            state, store, now=wall, execute=execute, task_status=task_status
        )
    )
    return sched


async def test_every_minute_fires_sixty_times_an_hour(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    job_id = put_job(store, now=created)
    rec = Recorder()
    async with trio.open_nursery() as nursery:
        await start(nursery, state, store, rec)
        await trio.sleep(3600 + 0.5)
        nursery.cancel_scope.cancel()
    assert [t for _, t in rec.starts] == [created + i * MINUTE for i in range(1, 61)]
    runs = store.cron_runs(job_id)
    assert len(runs) == 60
    assert {status for status, _ in runs} == {"ok"}
    assert len({e["runId"] for _, e in runs}) == 60
    found = store.cron_job(job_id)
    assert found is not None
    assert found[1]["nextRunAtMs"] == created + 61 * MINUTE
    assert found[1]["lastRunStatus"] == "ok"


async def test_a_job_never_overlaps_itself(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    job_id = put_job(store, now=created)
    rec = Recorder(duration_s=150)  # 2.5 slots per run
    async with trio.open_nursery() as nursery:
        await start(nursery, state, store, rec)
        await trio.sleep(600)
        nursery.cancel_scope.cancel()
    intervals = rec.intervals[job_id]
    assert rec.max_active == 1
    for (_, end), (nxt, _) in itertools.pairwise(intervals):
        assert nxt >= end
    # Slots that pass during a run fire once when it ends, not once each.
    starts = [t - created for _, t in rec.starts]
    assert starts == [60_000, 210_000, 360_000, 510_000]


async def test_at_most_eight_runs_at_once(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    for i in range(20):
        put_job(store, now=created, every_ms=10 * MINUTE, name=f"j{i:02}")
    rec = Recorder(duration_s=30)
    async with trio.open_nursery() as nursery:
        sched = await start(nursery, state, store, rec)
        await trio.sleep(600 + 95)
        nursery.cancel_scope.cancel()
    assert rec.max_active == MAX_CONCURRENT
    assert sched.max_seen_concurrency == MAX_CONCURRENT
    assert len(rec.starts) == 20
    assert len({job for job, _ in rec.starts}) == 20
    by_time: dict[int, int] = {}
    for _, t in rec.starts:
        by_time[t - created] = by_time.get(t - created, 0) + 1
    assert by_time == {600_000: 8, 630_000: 8, 660_000: 4}


async def test_missed_runs_catch_up_once_after_downtime(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    now = wall()
    # The gateway was down for 50 minutes: every job missed several 10-minute slots.
    created = now - 60 * MINUTE
    ids = [
        put_job(
            store,
            now=created,
            every_ms=10 * MINUTE,
            name=f"m{i}",
            state={"nextRunAtMs": created + 10 * MINUTE + i},
        )
        for i in range(7)
    ]
    agent = put_job(
        store,
        now=created,
        every_ms=10 * MINUTE,
        name="agent",
        payload={"kind": "agentTurn", "message": "hi"},
        state={"nextRunAtMs": created + 10 * MINUTE},
    )
    rec = Recorder()
    async with trio.open_nursery() as nursery:
        await start(nursery, state, store, rec)
        await trio.sleep(21)
        early = list(rec.starts)
        await trio.sleep(200)
        nursery.cancel_scope.cancel()
    # At most five right away, five seconds apart, oldest first; each once.
    assert [(job, t - now) for job, t in early] == [(ids[i], i * 5000) for i in range(5)]
    ran = [job for job, _ in rec.starts]
    assert sorted(ran) == sorted([*ids, agent])  # everything exactly once
    at = {job: t - now for job, t in rec.starts}
    assert at[ids[5]] == DEFERRED_AGENT_DELAY_MS + 25_000
    assert at[ids[6]] == DEFERRED_AGENT_DELAY_MS + 30_000
    assert at[agent] == DEFERRED_AGENT_DELAY_MS
    for job_id in ids:
        found = store.cron_job(job_id)
        assert found is not None
        # The next slot is the natural one after the catch-up, not a replay of the missed ones.
        assert found[1]["nextRunAtMs"] == now + 10 * MINUTE


async def test_skip_missed_jobs_advances_recurring(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    now = wall()
    created = now - 60 * MINUTE
    job_id = put_job(
        store, now=created, every_ms=10 * MINUTE, state={"nextRunAtMs": created + 10 * MINUTE}
    )
    rec = Recorder()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_scheduler(
                state, store, now=wall, execute=rec, skip_missed=True, task_status=task_status
            )
        )
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert rec.starts == []
    found = store.cron_job(job_id)
    assert found is not None
    assert found[1]["nextRunAtMs"] == now + 10 * MINUTE


async def test_run_left_running_is_recorded_interrupted_not_rerun(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    now = wall()
    # A previous process started the slot at now-30s, advanced the job, then died.
    job_id = put_job(
        store, now=now - 90_000, state={"nextRunAtMs": now + 30_000, "runningAtMs": now - 30_000}
    )
    with store.transaction():
        store.cron_insert_run(
            "cron:old", job_id, now - 30_000, {"jobId": job_id, "runId": "cron:old"}
        )
    rec = Recorder()
    async with trio.open_nursery() as nursery:
        await start(nursery, state, store, rec)
        await trio.sleep(29)
        assert rec.starts == []
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert [t - now for _, t in rec.starts] == [30_000]
    runs = dict((e["runId"], (status, e)) for status, e in store.cron_runs(job_id))
    status, entry = runs["cron:old"]
    assert status == "interrupted"
    assert entry["status"] == "error"
    assert entry["error"] == INTERRUPTED
    assert store.cron_running() == []


async def test_errors_back_off(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    created = wall()
    job_id = put_job(store, now=created, every_ms=10_000)
    starts: list[int] = []

    async def failing(st: GatewayState, job: dict[str, Any]) -> Outcome:
        starts.append(wall() - created)
        return Outcome("error", error="boom")

    async with trio.open_nursery() as nursery:
        await start(nursery, state, store, failing)
        await trio.sleep(200)
        nursery.cancel_scope.cancel()
    # 10 s, then +30 s, then +60 s backoff (the natural 10 s slots are skipped meanwhile).
    assert starts == [10_000, 40_000, 100_000]
    found = store.cron_job(job_id)
    assert found is not None
    assert found[1]["consecutiveErrors"] == 3
    assert found[1]["lastError"] == "boom"


async def test_one_shot_deleted_after_success(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    now = wall()
    at = J.normalize_create(
        {
            "name": "once",
            "schedule": {"kind": "at", "at": str(now + 5000)},
            "payload": {"kind": "systemEvent", "text": "once"},
        },
        job_id="once",
        now_ms=now,
        host_tz="UTC",
    )
    assert at["deleteAfterRun"] is True
    with store.transaction():
        store.cron_put_job(at, J.initial_state(at, now, "UTC"))
    rec = Recorder()
    async with trio.open_nursery() as nursery:
        await start(nursery, state, store, rec)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert [t - now for _, t in rec.starts] == [5000]
    assert store.cron_job("once") is None
    assert [s for s, _ in store.cron_runs("once")] == ["ok"]


def test_run_retention_is_bounded(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    try:
        with store.transaction():
            for i in range(10):
                store.cron_insert_run(f"r{i}", "job", i, {"runId": f"r{i}"})
                store.cron_finish_run(f"r{i}", "ok", 1000 + i, {"runId": f"r{i}"})
            store.cron_insert_run("live", "job", 5, {"runId": "live"})
            store.cron_insert_run("other", "job2", 0, {})
            store.cron_finish_run("other", "ok", 0, {})
        with store.transaction():
            assert store.cron_prune_runs("job", keep=4, older_than_ms=0) == 6
        assert [e["runId"] for _, e in store.cron_runs("job")] == ["r6", "r7", "r8", "r9"]
        with store.transaction():
            assert store.cron_prune_runs("job", keep=100, older_than_ms=1008) == 2
        assert [e["runId"] for _, e in store.cron_runs("job")] == ["r8", "r9"]
        assert [r[0] for r in store.cron_running()] == ["live"]  # running rows are kept
        assert len(store.cron_runs("job2")) == 1
    finally:
        store.close()
