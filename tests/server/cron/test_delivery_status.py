"""Truthful delivery status (issue 13): a job that asks for delivery never records
`not-requested`; with no channels and no webhook sender here it records what the official
gateway records when delivery cannot happen."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron.delivery import ANNOUNCE_UNAVAILABLE, WEBHOOK_UNAVAILABLE
from openclaw_gateway.server.cron.payloads import Outcome
from openclaw_gateway.server.cron.scheduler import run_scheduler
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store
from tests.server.cron.support import wall

HOUR = 3_600_000


async def _run_once(
    env: tuple[GatewayState, Store], raw: dict[str, Any], outcome: Outcome
) -> tuple[str, dict[str, Any], dict[str, Any]]:
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
        sched.run_now("id-d", manual=True)
        await trio.sleep(1)
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
    assert entry["deliveryError"] == ANNOUNCE_UNAVAILABLE
    assert entry["delivery"] == {
        "intended": {"channel": "last", "source": "explicit"},
        "resolved": {
            "channel": "last",
            "source": "explicit",
            "ok": False,
            "error": ANNOUNCE_UNAVAILABLE,
        },
        "delivered": False,
    }
    assert entry["status"] == "ok"
    assert entry["completionStatus"] == "failed"  # delivery was required and did not happen
    assert st["lastDeliveryStatus"] == "not-delivered"
    assert st["lastDelivered"] is False
    assert st["lastDeliveryError"] == ANNOUNCE_UNAVAILABLE
    assert st["lastRunStatus"] == "ok"


async def test_webhook_delivery_is_not_delivered_even_for_a_failed_run(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    raw = {"payload": COMMAND, "delivery": {"mode": "webhook", "to": "https://example.test/h"}}
    _, entry, st = await _run_once(env, raw, Outcome("error", error="boom", summary="out"))
    assert entry["deliveryStatus"] == "not-delivered"
    assert entry["deliveryError"] == WEBHOOK_UNAVAILABLE
    assert entry["delivery"]["intended"] == {"to": "https://example.test/h", "source": "explicit"}
    assert entry["completionStatus"] == "failed"
    assert st["lastDeliveryError"] == WEBHOOK_UNAVAILABLE


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
