"""Cron delivery: truthful status fields, webhook POSTs of the finished-run record to a real
local HTTP server (delivered; a refusing server's error; retries; a forbidden URL never
contacted; the bearer token), and failure alerts after N consecutive errors with a cooldown.
Announce through real bridges: tests/server/cron/test_announce_live.py."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron.deliver import CHANNELS_UNAVAILABLE
from openclaw_gateway.server.cron.payloads import Outcome
from openclaw_gateway.server.cron.scheduler import run_scheduler
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store
from tests.server.cron.http_sink import http_sink
from tests.server.cron.support import wall

HOUR = 3_600_000


async def _run_once(
    env: tuple[GatewayState, Store], raw: dict[str, Any], outcome: Outcome, runs: int = 1
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Store the job, run it `runs` times (manually); the newest run entry and the state."""
    state, store = env
    now = wall()
    job = J.normalize_create(
        {"name": "d", "schedule": {"kind": "every", "everyMs": HOUR}, **raw},
        job_id="id-d",
        now_ms=now,
        host_tz="UTC",
    )
    with store.transaction():
        store.cron_put_job(job, J.initial_state(job, now, "UTC"))

    async def execute(st: GatewayState, j: dict[str, Any]) -> Outcome:
        return outcome

    async with trio.open_nursery() as nursery:
        sched = await nursery.start(
            lambda task_status: run_scheduler(
                state, store, now=wall, execute=execute, task_status=task_status
            )
        )
        for _ in range(runs):
            sched.run_now("id-d", manual=True)
            await trio.sleep(30)  # virtual: past the webhook retries
        nursery.cancel_scope.cancel()
    status, entry = store.cron_runs("id-d")[0]
    found = store.cron_job("id-d")
    assert found is not None
    return status, entry, found[1]


COMMAND = {"kind": "command", "argv": ["true"]}


async def test_default_announce_delivery_is_not_delivered_with_the_reason(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    _, entry, st = await _run_once(env, {"payload": COMMAND}, Outcome("ok", summary="hi"))
    assert entry["deliveryStatus"] == "not-delivered"
    assert entry["delivered"] is False
    assert entry["deliveryError"] == CHANNELS_UNAVAILABLE
    assert entry["delivery"] == {
        "intended": {"channel": "last", "source": "explicit"},
        "resolved": {
            "channel": "last",
            "source": "explicit",
            "ok": False,
            "error": CHANNELS_UNAVAILABLE,
        },
        "delivered": False,
    }
    assert entry["status"] == "ok"
    assert entry["completionStatus"] == "failed"  # delivery was required and did not happen
    assert st["lastDeliveryStatus"] == "not-delivered"
    assert st["lastDelivered"] is False
    assert st["lastDeliveryError"] == CHANNELS_UNAVAILABLE
    assert st["lastRunStatus"] == "ok"


WEBHOOK_POLICY = {"cron": {"webhookSsrfPolicy": {"allowedHostnames": ["127.0.0.1"]}}}


async def test_webhook_posts_the_finished_run_record(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, _ = env
    state.raw_config = {"cron": {**WEBHOOK_POLICY["cron"], "webhookToken": "hook-secret-1"}}
    async with http_sink(200) as sink:
        raw = {"payload": COMMAND, "delivery": {"mode": "webhook", "to": sink.url}}
        _, entry, st = await _run_once(env, raw, Outcome("ok", summary="all good"))
    assert entry["deliveryStatus"] == "delivered"
    assert entry["delivered"] is True
    assert entry["completionStatus"] == "succeeded"
    assert st["lastDeliveryStatus"] == "delivered"
    [request] = sink.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["authorization"] == "Bearer hook-secret-1"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert (body["jobId"], body["action"], body["status"], body["summary"]) == (
        "id-d",
        "finished",
        "ok",
        "all good",
    )
    assert body["runId"] == entry["runId"]


async def test_a_refusing_webhook_records_the_error_and_a_failed_run_is_still_posted(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, _ = env
    state.raw_config = WEBHOOK_POLICY
    async with http_sink(403) as sink:
        raw = {"payload": COMMAND, "delivery": {"mode": "webhook", "to": sink.url}}
        _, entry, st = await _run_once(env, raw, Outcome("error", error="boom", summary=None))
    assert len(sink.requests) == 1  # a 4xx is final: no retry
    assert sink.requests[0].body["error"] == "boom"
    assert entry["deliveryStatus"] == "not-delivered"
    assert entry["deliveryError"] == "cron webhook answered HTTP 403: refused"
    assert entry["completionStatus"] == "failed"
    assert st["lastDeliveryError"] == "cron webhook answered HTTP 403: refused"


async def test_webhook_retries_server_errors(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, _ = env
    state.raw_config = WEBHOOK_POLICY
    async with http_sink(503, 500, 204) as sink:
        raw = {"payload": COMMAND, "delivery": {"mode": "webhook", "to": sink.url}}
        _, entry, _ = await _run_once(env, raw, Outcome("ok", summary="x"))
    assert len(sink.requests) == 3
    assert entry["deliveryStatus"] == "delivered"


async def test_a_webhook_to_a_forbidden_host_is_never_contacted(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    async with http_sink(200) as sink:  # no webhookSsrfPolicy: loopback is refused
        raw = {"payload": COMMAND, "delivery": {"mode": "webhook", "to": sink.url}}
        _, entry, _ = await _run_once(env, raw, Outcome("ok", summary="x"))
    assert sink.requests == []
    assert entry["deliveryError"] == (
        "cron webhook to a private or loopback host is refused: 127.0.0.1"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.test/x", r"requires an http\(s\) URL"),
        ("https://user:pw@example.test/x", "must not embed credentials"),
    ],
)
def test_webhook_urls_are_checked_when_saved(url: str, why: str) -> None:
    spec = {
        "name": "w",
        "schedule": {"kind": "every", "everyMs": HOUR},
        "payload": COMMAND,
        "delivery": {"mode": "webhook", "to": url},
    }
    with pytest.raises(J.JobError, match=why):
        J.normalize_create(spec, job_id="w", now_ms=0, host_tz="UTC")


async def test_failure_alert_after_n_consecutive_errors_with_cooldown(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, _ = env
    state.raw_config = WEBHOOK_POLICY
    async with http_sink(200) as sink:
        raw = {
            "payload": COMMAND,
            "delivery": {"mode": "none"},
            "failureAlert": {"after": 3, "cooldownMs": HOUR, "mode": "webhook", "to": sink.url},
        }
        _, entry, st = await _run_once(env, raw, Outcome("error", error="disk full"), runs=5)
    alerts = [r.body for r in sink.requests]
    assert entry["status"] == "error"
    assert len(alerts) == 1  # the 3rd error alerts; the 4th and 5th fall in the cooldown
    assert alerts[0]["action"] == "failureAlert"
    assert alerts[0]["consecutiveErrors"] == 3
    assert alerts[0]["text"] == 'Cron job "d" failed 3 times in a row: disk full'
    assert st["lastFailureAlertStatus"] == "sent"
    assert isinstance(st["lastFailureAlertAtMs"], int)


async def test_best_effort_and_empty_output(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    raw = {"payload": COMMAND, "delivery": {"mode": "announce", "bestEffort": True}}
    _, entry, _ = await _run_once(env, raw, Outcome("ok", summary="hi"))
    assert entry["deliveryStatus"] == "not-delivered"
    assert entry["completionStatus"] == "succeeded"


async def test_an_empty_successful_run_is_a_suppressed_delivery(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    _, entry, st = await _run_once(env, {"payload": COMMAND}, Outcome("ok", summary=None))
    assert entry["deliveryStatus"] == "not-delivered"
    assert entry["deliverySuppressionReason"] == "empty"
    assert "deliveryError" not in entry
    assert entry["completionStatus"] == "succeeded"
    assert st["deliverySuppressionReason"] == "empty"
    assert "lastDeliveryError" not in st


async def test_only_a_job_that_asked_for_nothing_is_not_requested(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    raw = {"payload": COMMAND, "delivery": {"mode": "none"}}
    _, entry, st = await _run_once(env, raw, Outcome("ok", summary="hi"))
    assert entry["deliveryStatus"] == "not-requested"
    assert "delivered" not in entry and "deliveryError" not in entry
    assert entry["completionStatus"] == "succeeded"
    assert st["lastDeliveryStatus"] == "not-requested"
    assert "lastDelivered" not in st
