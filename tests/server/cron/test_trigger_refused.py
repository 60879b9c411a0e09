"""Cron `trigger` (condition scripts) needs a script runtime this gateway does not have, so it
is refused at cron.add/cron.update with INVALID_REQUEST naming the field (issue 13), and a job
stored with one by an older build never runs its payload unconditionally."""

from __future__ import annotations

from typing import Any

import trio

from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.state.store import Store
from tests.helpers import RunningGateway, connected

ADMIN = ["operator.admin"]
REFUSED = (
    "trigger: cron condition triggers are not supported by this gateway "
    "(it has no script runtime); remove trigger"
)


def job(**extra: Any) -> dict[str, Any]:
    return {
        "name": "watch",
        "schedule": {"kind": "every", "everyMs": 60_000},
        "payload": {"kind": "systemEvent", "text": "fired"},
        **extra,
    }


async def test_trigger_is_refused_and_nothing_is_stored(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            res = await c.call("cron.add", job(trigger={"script": "json({fire:true})"}))
            assert res["ok"] is False
            assert res["error"] == {
                "code": "INVALID_REQUEST",
                "message": f"invalid cron.add params: {REFUSED}",
            }
            assert (await c.call("cron.list"))["payload"]["total"] == 0
            added = (await c.call("cron.add", job()))["payload"]
            res = await c.call(
                "cron.update", {"id": added["id"], "patch": {"trigger": {"script": "x"}}}
            )
            assert res["error"] == {
                "code": "INVALID_REQUEST",
                "message": f"invalid cron.update params: {REFUSED}",
            }
            res = await c.call("cron.update", {"id": added["id"], "patch": {"trigger": None}})
            assert res["ok"] is True and "trigger" not in res["payload"]
            status = (await c.call("cron.status"))["payload"]
            assert status["triggersEnabled"] is False
            assert status["enabled"] is True


async def test_a_stored_trigger_job_fails_instead_of_firing(gateway: RunningGateway) -> None:
    raw = J.normalize_create(job(), job_id="legacy", now_ms=0, host_tz="UTC")
    legacy = {**raw, "trigger": {"script": "json({fire:false})"}}
    store = Store.open(gateway.settings.state_dir)  # a second connection, as an old build
    try:
        with store.transaction():
            store.cron_put_job(legacy, {})
    finally:
        store.close()
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            assert (await c.call("cron.run", {"id": "legacy"}))["ok"]
            while True:
                event = await c.next_event("cron")
                if event["payload"]["action"] == "finished":
                    break
            assert event["payload"]["status"] == "error"
            assert event["payload"]["error"] == REFUSED.removeprefix("trigger: ")
            status = (await c.call("status"))["payload"]
            assert "fired" not in status["queuedSystemEvents"]
