"""The cron scheduler: one task that starts due runs, plus one task per run.

The store is the truth: every loop reads the jobs, starts those whose `state.nextRunAtMs` has
passed, and sleeps (`trio.sleep_until`) until the next one or until the methods change a job
(`wake()`). Starting a run is one transaction: a `running` row in cron_runs and the job's state
advanced to its next slot, so a crash (kill -9) mid-run never repeats the slot; on the next
start the row is recorded `interrupted`. Finishing is one transaction too (run row + job
state + retention).

Rules (protocol.md §10.3): at most MAX_CONCURRENT runs at once; a job never overlaps itself
(a slot that passes while it runs fires once when it finishes); startup catch-up runs each
missed job once, at most MAX_MISSED_IMMEDIATE right away (MISSED_STAGGER_MS apart) and the rest
deferred; consecutive errors back off (30 s, 60 s, 5 min, 15 min, 60 min). Manual `cron.run`
(force) does not move the natural next slot.

Time: wall clock ms comes from the injected `now`; `_trio_deadline` is the one place that turns
a wall-clock instant into a trio deadline.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from openclaw_gateway.server.cron import delivery as D
from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron.alerts import alert_if_due, run_record
from openclaw_gateway.server.cron.deliver import deliver_run
from openclaw_gateway.server.cron.job_env import job_base_environment
from openclaw_gateway.server.cron.pacing import NEEDS_PACING, paced_next_run_ms
from openclaw_gateway.server.cron.payloads import KILL_GRACE_S, Outcome
from openclaw_gateway.server.cron.payloads import execute as execute_payload
from openclaw_gateway.server.cron.schedule import next_run_after_run_ms
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store

MAX_CONCURRENT = 8
MAX_MISSED_IMMEDIATE = 5
MISSED_STAGGER_MS = 5_000
DEFERRED_AGENT_DELAY_MS = 120_000
MAX_SLEEP_MS = 60_000
BACKOFF_MS = (30_000, 60_000, 300_000, 900_000, 3_600_000)
RUNS_KEEP_PER_JOB = 2000
RUNS_MAX_AGE_MS = 7 * 24 * 3600 * 1000
INTERRUPTED = "interrupted: the gateway stopped during this run"
TRIGGER_ERROR = f"{J.TRIGGER_UNSUPPORTED}; remove trigger"

Executor = Callable[[GatewayState, dict[str, Any]], Awaitable[Outcome]]


def cron_event(state: GatewayState, payload: dict[str, Any]) -> None:
    state.broadcast("cron", payload)


def _waits_for_agent(job: dict[str, Any]) -> bool:
    kind = job["payload"].get("kind")
    return kind == "agentTurn" or (
        job.get("sessionTarget") == "main"
        and kind == "systemEvent"
        and job.get("wakeMode") == "now"
    )


class Scheduler:
    """Implements rpc.context.CronControl for the methods."""

    def __init__(
        self,
        state: GatewayState,
        store: Store,
        now: Callable[[], int],
        nursery: trio.Nursery,
        *,
        execute: Executor,
        skip_missed: bool = False,
    ) -> None:
        self.state = state
        self.store = store
        self.now = now
        self._nursery = nursery
        self._execute = execute
        self._skip_missed = skip_missed
        self._running: dict[str, str] = {}  # job id -> run id
        self._wake = trio.Event()
        self._limiter = trio.CapacityLimiter(MAX_CONCURRENT)
        self._manual_seq = 0
        self.max_seen_concurrency = 0

    # --- CronControl ---------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def is_running(self, job_id: str) -> bool:
        return job_id in self._running

    def running_count(self) -> int:
        return len(self._running)

    def next_wake_ms(self) -> int | None:
        slots = [
            st["nextRunAtMs"]
            for job, st in self.store.cron_jobs()
            if job.get("enabled") and isinstance(st.get("nextRunAtMs"), int)
        ]
        return min(slots) if slots else None

    def run_now(self, job_id: str, *, manual: bool) -> str:
        """Start a run of `job_id` now (the caller checked it exists and is not running).
        manual: a forced run that leaves the natural next slot alone."""
        found = self.store.cron_job(job_id)
        assert found is not None
        job, st = found
        now = self.now()
        self._manual_seq += 1
        run_id = f"manual:{job_id}:{now}:{self._manual_seq}"
        self._start(job, st, run_id=run_id, advance=not manual, now=now)
        return run_id

    # --- internals -----------------------------------------------------------------------------

    def _trio_deadline(self, wall_ms: int) -> float:
        """The one conversion from a wall-clock instant to a trio deadline."""
        return trio.current_time() + (wall_ms - self.now()) / 1000

    def recover(self) -> None:
        """Startup: record runs left `running` by a dead process, then plan the catch-up."""
        now = self.now()
        with self.store.transaction():
            for run_id, job_id, started, entry in self.store.cron_running():
                found = self.store.cron_job(job_id)
                delivery = D.interrupted(found[0] if found else {}, INTERRUPTED)
                entry = {
                    **entry,
                    "ts": now,
                    "action": "finished",
                    "status": "error",
                    "completionStatus": "unknown",
                    "error": INTERRUPTED,
                    "errorReason": "interrupted",
                    **delivery,
                }
                self.store.cron_finish_run(run_id, "interrupted", now, entry)
                if found is not None:
                    _, st = found
                    st.pop("runningAtMs", None)
                    st.update(lastRunAtMs=started, lastRunStatus="error", lastStatus="error")
                    st["lastError"] = INTERRUPTED
                    st.update({k: v for k, v in D.state_fields(delivery).items() if v is not None})
                    self.store.cron_put_state(job_id, st)
            missed = sorted(
                (
                    (job, st)
                    for job, st in self.store.cron_jobs()
                    if job.get("enabled")
                    and isinstance(st.get("nextRunAtMs"), int)
                    and st["nextRunAtMs"] <= now
                ),
                key=lambda pair: pair[1]["nextRunAtMs"],
            )
            eligible = 0
            for job, st in missed:
                recurring = job["schedule"].get("kind") in ("every", "cron")
                if self._skip_missed and recurring:
                    nxt = J.next_run(job, after_ms=now, host_tz=self.state.host_tz)
                    st["nextRunAtMs"] = nxt
                elif _waits_for_agent(job):
                    st["nextRunAtMs"] = now + DEFERRED_AGENT_DELAY_MS
                else:
                    # The first MAX_MISSED_IMMEDIATE right away (staggered); the rest deferred
                    # behind them, keeping the stagger.
                    st["nextRunAtMs"] = now + eligible * MISSED_STAGGER_MS
                    if eligible >= MAX_MISSED_IMMEDIATE:
                        st["nextRunAtMs"] += DEFERRED_AGENT_DELAY_MS
                    eligible += 1
                if st.get("nextRunAtMs") is None:
                    st.pop("nextRunAtMs", None)
                self.store.cron_put_state(job["id"], st)

    def _start(
        self, job: dict[str, Any], st: dict[str, Any], *, run_id: str, advance: bool, now: int
    ) -> None:
        job_id = job["id"]
        new_state = dict(st)
        new_state["runningAtMs"] = now
        if advance:
            nxt = J.next_run(job, after_ms=now, host_tz=self.state.host_tz)
            if nxt is None:
                new_state.pop("nextRunAtMs", None)
            else:
                new_state["nextRunAtMs"] = nxt
        entry = {"ts": now, "jobId": job_id, "action": "started", "runId": run_id, "runAtMs": now}
        entry["jobName"] = job.get("name")
        with self.store.transaction():
            self.store.cron_insert_run(run_id, job_id, now, entry)
            self.store.cron_put_state(job_id, new_state)
        self._running[job_id] = run_id
        self.max_seen_concurrency = max(self.max_seen_concurrency, len(self._running))
        cron_event(
            self.state, {"jobId": job_id, "action": "started", "runAtMs": now, "runId": run_id}
        )
        self._nursery.start_soon(self._run, job, run_id, now, advance)

    async def _run(self, job: dict[str, Any], run_id: str, started: int, advance: bool) -> None:
        job_id = job["id"]
        try:
            if job.get("trigger"):  # stored by an older build: never fire unconditionally
                outcome = Outcome("error", error=TRIGGER_ERROR)
            else:
                async with self._limiter:
                    outcome = await self._execute(self.state, job)
        except Exception as exc:  # a bug in a payload runner must not kill the scheduler
            outcome = Outcome("error", error=f"run failed: {type(exc).__name__}: {exc}")
        except BaseException:
            # Cancelled (shutdown), possibly grouped by the runner's nursery: the command was
            # stopped on the way out; record the run before leaving.
            outcome = Outcome("error", error=INTERRUPTED)
            try:
                delivery = D.interrupted(job, INTERRUPTED)
                self._finish(job, run_id, started, outcome, delivery, db_status="interrupted")
            finally:
                self._running.pop(job_id, None)
            raise
        try:
            outcome = self._checked_proposal(job, outcome, advance)
            record = run_record(job, run_id, started, outcome, self.now())
            delivery = await deliver_run(self.state, job, outcome, record)
            st = self._finish(job, run_id, started, outcome, delivery, db_status=outcome.status)
            if st is not None:
                await alert_if_due(self.state, self.store, job, st, outcome, self.now())
        finally:
            self._running.pop(job_id, None)
            self.wake()

    @staticmethod
    def _checked_proposal(job: dict[str, Any], outcome: Outcome, advance: bool) -> Outcome:
        """A next-check proposal counts only for a paced job's scheduled run (a forced run
        keeps the pending slot); one for a job without pacing fails the run (official)."""
        if outcome.next_check_ms is None or outcome.status != "ok":
            return attrs.evolve(outcome, next_check_ms=None)
        if "pacing" not in job:
            return attrs.evolve(outcome, status="error", error=NEEDS_PACING, next_check_ms=None)
        return outcome if advance else attrs.evolve(outcome, next_check_ms=None)

    def _finish(
        self,
        job: dict[str, Any],
        run_id: str,
        started: int,
        outcome: Outcome,
        delivery: dict[str, Any],
        *,
        db_status: str,
    ) -> dict[str, Any] | None:
        """Record the run; returns the job's new state (None: the job is gone)."""
        job_id = job["id"]
        now = self.now()
        duration = max(0, now - started)
        self.state.metrics.cron_run(db_status)
        st: dict[str, Any] | None = None
        entry: dict[str, Any] = {
            "ts": now,
            "jobId": job_id,
            "action": "finished",
            "status": outcome.status,
            "completionStatus": D.completion_status(job, outcome.status, delivery),
        }
        if db_status == "interrupted":
            entry["completionStatus"] = "unknown"
            entry["errorReason"] = "interrupted"
        if outcome.error is not None:
            entry["error"] = outcome.error
        if outcome.summary:
            entry["summary"] = outcome.summary
        entry.update(runId=run_id, runAtMs=started, durationMs=duration)
        entry.update(delivery)
        entry["jobName"] = job.get("name")
        entry.update(outcome.extra)
        removed = False
        with self.store.transaction():
            found = self.store.cron_job(job_id)
            if found is not None:
                current, st = found
                st.pop("runningAtMs", None)
                st.update(
                    lastRunAtMs=started,
                    lastRunStatus=outcome.status,
                    lastStatus=outcome.status,
                    lastDurationMs=duration,
                )
                for key, value in D.state_fields(delivery).items():
                    if value is None:
                        st.pop(key, None)
                    else:
                        st[key] = value
                if outcome.status == "error":
                    errors = int(st.get("consecutiveErrors", 0)) + 1
                    st["consecutiveErrors"] = errors
                    st["lastError"] = outcome.error
                    nxt = st.get("nextRunAtMs")
                    if isinstance(nxt, int) and db_status != "interrupted":
                        backoff = BACKOFF_MS[min(errors, len(BACKOFF_MS)) - 1]
                        st["nextRunAtMs"] = max(nxt, now + backoff)
                else:
                    st["consecutiveErrors"] = 0
                    st.pop("lastError", None)
                nxt = st.get("nextRunAtMs")
                paced = outcome.next_check_ms is not None and "pacing" in current
                if paced and current.get("enabled") and outcome.next_check_ms is not None:
                    # The proposal replaces the natural slot, clamped into the bounds.
                    st["nextRunAtMs"] = paced_next_run_ms(
                        now, outcome.next_check_ms, current["pacing"]
                    )
                elif isinstance(nxt, int) and current["schedule"].get("kind") == "cron":
                    # As the official applyJobResult: the next slot after the run *ended*, and
                    # never sooner than 2 s after it (a 6-field expression could re-fire).
                    after = next_run_after_run_ms(
                        current["schedule"],
                        job_id=job_id,
                        created_at_ms=int(current.get("createdAtMs", 0)),
                        ended_at_ms=now,
                        host_tz=self.state.host_tz,
                    )
                    if after is not None:
                        st["nextRunAtMs"] = max(nxt, after)
                if current["schedule"].get("kind") == "at" and db_status != "interrupted":
                    if outcome.status == "ok" and current.get("deleteAfterRun"):
                        self.store.cron_delete_job(job_id)
                        removed = True
                    else:
                        current = {**current, "enabled": False, "updatedAtMs": now}
                        st.pop("nextRunAtMs", None)
                        self.store.cron_put_job(current, st)
                if not removed:
                    self.store.cron_put_state(job_id, st)
                    if isinstance(st.get("nextRunAtMs"), int):
                        entry["nextRunAtMs"] = st["nextRunAtMs"]
            self.store.cron_finish_run(run_id, db_status, now, entry)
            self.store.cron_prune_runs(
                job_id, keep=RUNS_KEEP_PER_JOB, older_than_ms=now - RUNS_MAX_AGE_MS
            )
        event = {k: v for k, v in entry.items() if k not in ("ts", "jobName", "exitCode")}
        cron_event(self.state, event)
        if removed:
            cron_event(self.state, {"jobId": job_id, "action": "removed"})
        return None if removed else st

    def _tick(self) -> int | None:
        """Start what is due (capacity permitting); the next wall-clock instant to look again."""
        now = self.now()
        upcoming: list[int] = []
        for job, st in sorted(
            self.store.cron_jobs(), key=lambda pair: pair[1].get("nextRunAtMs") or 0
        ):
            slot = st.get("nextRunAtMs")
            if not job.get("enabled") or not isinstance(slot, int):
                continue
            if job["id"] in self._running:
                continue  # no overlap: it is looked at again when its run finishes
            if slot > now:
                upcoming.append(slot)
                continue
            if len(self._running) >= MAX_CONCURRENT:
                continue  # a finishing run wakes the loop
            self._start(job, st, run_id=f"cron:{job['id']}:{slot}:{now}", advance=True, now=now)
        return min(upcoming) if upcoming else None

    async def loop(self) -> None:
        while True:
            self._wake = trio.Event()
            nxt = self._tick()
            limit = self.now() + MAX_SLEEP_MS
            target = limit if nxt is None else min(nxt, limit)
            with trio.move_on_at(self._trio_deadline(target)):
                await self._wake.wait()


async def run_scheduler(
    state: GatewayState,
    book: Store,
    *,
    now: Callable[[], int],
    execute: Executor | None = None,
    skip_missed: bool = False,
    kill_grace: float = KILL_GRACE_S,
    gateway_secrets: tuple[str | None, ...] = (),
    task_status: trio.TaskStatus[Scheduler] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the scheduler until cancelled; `state.cron` points at it meanwhile. Cancelling it
    stops running commands (SIGTERM, SIGKILL after `kill_grace`) and records their runs.
    Command jobs get our environment without `gateway_secrets` (cron/job_env.py)."""
    base_env = job_base_environment(os.environ, gateway_secrets)

    async def default_execute(st: GatewayState, job: dict[str, Any]) -> Outcome:
        return await execute_payload(st, job, kill_grace=kill_grace, base_env=base_env)

    runner = execute if execute is not None else default_execute
    async with trio.open_nursery() as nursery:
        scheduler = Scheduler(state, book, now, nursery, execute=runner, skip_missed=skip_missed)
        scheduler.recover()
        state.cron = scheduler
        try:
            task_status.started(scheduler)
            await scheduler.loop()
        finally:
            state.cron = None
