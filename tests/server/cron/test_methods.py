"""cron.* over a real 127.0.0.1 socket: shapes, errors, scopes, upsert, revisions, paging."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tests.helpers import RunningGateway, connected

ADMIN = ["operator.admin"]
READ = ["operator.read"]


def every(ms: int = 60_000) -> dict[str, Any]:
    return {"kind": "every", "everyMs": ms}


def sys_job(name: str = "t1", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "schedule": every(),
        "payload": {"kind": "systemEvent", "text": text},
    } | extra


async def add(client: Any, params: dict[str, Any]) -> dict[str, Any]:
    res = await client.call("cron.add", params)
    assert res["ok"], res
    payload: dict[str, Any] = res["payload"]
    return payload


async def test_status_and_empty_list(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=READ) as c:
            res = await c.call("cron.status")
            assert res["ok"], res
            st = res["payload"]
            assert st["enabled"] is True
            assert st["storage"] == "sqlite"
            assert st["jobs"] == 0
            assert st["nextWakeAtMs"] is None
            assert st["storePath"] == st["sqlitePath"]
            assert st["sqlitePath"].endswith("gateway.sqlite")
            res = await c.call("cron.list")
            assert res["payload"] | {"snapshotRevision": None, "deliveryPreviews": None} == {
                "jobs": [],
                "snapshotRevision": None,
                "total": 0,
                "offset": 0,
                "limit": 50,
                "hasMore": False,
                "nextOffset": None,
                "deliveryPreviews": None,
            }
            bad = await c.call("cron.status", {"x": 1})
            assert bad["error"]["message"] == (
                "invalid cron.status params: at root: unexpected property 'x'"
            )


async def test_add_get_shape_and_event(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            connected(gateway.port, scopes=ADMIN) as c,
            connected(gateway.port, scopes=READ) as watcher,
        ):
            job = await add(c, sys_job())
            assert job["name"] == "t1"
            assert job["enabled"] is True
            assert job["wakeMode"] == "now"
            assert job["sessionTarget"] == "main"
            assert job["schedule"] == {
                "kind": "every",
                "everyMs": 60000,
                "anchorMs": job["createdAtMs"],
            }
            assert job["createdAtMs"] == job["updatedAtMs"]
            assert job["state"] == {"nextRunAtMs": job["createdAtMs"] + 60000}
            assert job["nextRunAtMs"] == job["createdAtMs"] + 60000
            assert job["configRevision"].startswith("sha256:")
            assert "=" not in job["configRevision"]
            assert job["deliveryPreview"]["label"]
            assert "delivery" not in job

            ev = await watcher.next_event("cron")
            assert ev["payload"]["action"] == "added"
            assert ev["payload"]["jobId"] == job["id"]
            assert ev["payload"]["job"]["id"] == job["id"]

            got = await c.call("cron.get", {"jobId": job["id"]})
            assert got["ok"], got
            expected = {k: v for k, v in job.items() if k != "deliveryPreview"}
            assert got["payload"] == expected

            miss = await c.call("cron.get", {"id": "nope"})
            assert miss["error"]["code"] == "INVALID_REQUEST"
            assert miss["error"]["message"].startswith(
                "cron job not found: nope. List automations and retry with a current job id."
            )
            assert miss["error"]["details"] == {"code": "CRON_JOB_NOT_FOUND", "jobId": "nope"}


async def test_create_defaults_and_validation(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            cmd = await add(
                c,
                {"schedule": every(), "payload": {"kind": "command", "argv": ["echo", "hi"]}},
            )
            assert cmd["name"] == "echo hi"
            assert cmd["sessionTarget"] == "isolated"
            assert cmd["delivery"] == {"mode": "announce"}
            agent = await add(
                c, {"schedule": every(), "payload": {"kind": "agentTurn", "message": "m"}}
            )
            assert agent["sessionTarget"] == "isolated"  # current without a session key
            disabled = await add(c, sys_job(enabled="false"))
            assert disabled["enabled"] is False
            assert "nextRunAtMs" not in disabled

            cases = [
                (
                    {"schedule": every()},
                    "invalid cron.add params: must have required property 'payload'",
                ),
                (
                    sys_job(declarationKey="  "),
                    "invalid cron.add params: declarationKey must not be blank",
                ),
                (sys_job(enabled="maybe"), "invalid cron.add params: enabled must be a boolean"),
                (sys_job(bogus=1), "invalid cron.add params: at root: unexpected property 'bogus'"),
                (
                    {"schedule": every(), "payload": {"kind": "command", "argv": []}},
                    "invalid cron.add params: payload.argv must be a non-empty array of strings",
                ),
                (
                    sys_job(sessionTarget="isolated"),
                    'invalid cron.add params: isolated/current/session cron jobs require payload.kind="agentTurn"',
                ),
            ]
            for params, message in cases:
                res = await c.call("cron.add", params)
                assert not res["ok"], params
                assert res["error"]["code"] == "INVALID_REQUEST"
                assert res["error"]["message"] == message


async def test_write_methods_need_admin(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=["operator.read", "operator.write"]) as c:
            for method, params in (
                ("cron.add", sys_job()),
                ("cron.update", {"id": "x", "patch": {}}),
                ("cron.remove", {"id": "x"}),
                ("cron.run", {"id": "x"}),
            ):
                res = await c.call(method, params)
                assert res["error"]["code"] == "FORBIDDEN", method
                assert res["error"]["details"]["missingScope"] == "operator.admin"
            for method in ("cron.status", "cron.list", "cron.runs"):
                assert (await c.call(method))["ok"], method


async def test_declaration_key_upsert(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            first = await add(c, sys_job(declarationKey="daily"))
            assert first["created"] is True
            assert "updated" not in first
            job_id = first["job"]["id"]
            same = await add(c, sys_job(declarationKey="daily"))
            assert same["created"] is False
            assert same["updated"] is False
            assert same["job"]["id"] == job_id
            assert same["job"]["configRevision"] == first["job"]["configRevision"]
            changed = await add(c, sys_job(declarationKey="daily", text="bye"))
            assert changed == changed | {"created": False, "updated": True}
            assert changed["job"]["id"] == job_id
            assert changed["job"]["payload"]["text"] == "bye"
            listed = await c.call("cron.list", {"includeDisabled": True})
            assert listed["payload"]["total"] == 1


async def test_update_patch_and_revision_conflict(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            job = await add(c, sys_job())
            rev = job["configRevision"]
            res = await c.call(
                "cron.update",
                {
                    "id": job["id"],
                    "patch": {"payload": {"text": "new"}},
                    "expectedConfigRevision": rev,
                },
            )
            assert res["ok"], res
            updated = res["payload"]
            assert updated["payload"] == {"kind": "systemEvent", "text": "new"}
            assert updated["configRevision"] != rev
            assert updated["createdAtMs"] == job["createdAtMs"]

            stale = await c.call(
                "cron.update",
                {"jobId": job["id"], "patch": {"name": "x"}, "expectedConfigRevision": rev},
            )
            assert stale["error"]["code"] == "INVALID_REQUEST"
            assert stale["error"]["message"].startswith("cron job definition no longer matches")
            assert stale["error"]["details"] == {
                "code": "CRON_JOB_CHANGED",
                "expectedConfigRevision": rev,
                "actualConfigRevision": updated["configRevision"],
            }

            off = await c.call("cron.update", {"id": job["id"], "patch": {"enabled": False}})
            assert off["payload"]["enabled"] is False
            assert "nextRunAtMs" not in off["payload"]
            # A disabled job is hidden from the default list.
            assert (await c.call("cron.list"))["payload"]["total"] == 0
            assert (await c.call("cron.list", {"enabled": "disabled"}))["payload"]["total"] == 1

            missing = await c.call("cron.update", {"id": "gone", "patch": {}})
            assert missing["error"]["details"] == {"code": "CRON_JOB_NOT_FOUND", "jobId": "gone"}
            bad = await c.call("cron.update", {"id": job["id"], "patch": {"wakeMode": "later"}})
            assert bad["error"]["message"].startswith("invalid cron.update params: wakeMode")


async def test_remove(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            job = await add(c, sys_job())
            res = await c.call("cron.remove", {"id": job["id"]})
            assert res["payload"] == {"ok": True, "removed": True}
            again = await c.call("cron.remove", {"id": job["id"]})
            assert again["error"]["code"] == "INVALID_REQUEST"
            assert again["error"]["message"] == (
                f"Automation not found: {job['id']}. List automations and retry with a current "
                "job id. For cross-session management, use a fresh authenticated configured "
                "channel owner or Control UI administrator turn or the Automations page."
            )
            assert again["error"]["details"] == {"code": "CRON_JOB_NOT_FOUND", "jobId": job["id"]}
            empty = await c.call("cron.remove", {})
            assert empty["error"]["message"].startswith("invalid cron.remove params: ")


async def test_list_filters_sorting_paging(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with connected(gateway.port, scopes=ADMIN) as c:
            ids = []
            for i, ms in enumerate((300_000, 60_000, 180_000, 120_000, 240_000)):
                job = await add(
                    c,
                    {
                        "name": f"job-{'edcba'[i]}",
                        "schedule": every(ms),
                        "payload": {"kind": "systemEvent", "text": f"t{i}"},
                    },
                )
                ids.append(job["id"])
            res = (await c.call("cron.list"))["payload"]
            assert res["total"] == 5
            assert res["limit"] == 5
            assert [j["schedule"]["everyMs"] for j in res["jobs"]] == [
                60_000,
                120_000,
                180_000,
                240_000,
                300_000,
            ]
            assert all(j["effectiveAgentId"] == "main" for j in res["jobs"])
            assert set(res["deliveryPreviews"]) == {j["id"] for j in res["jobs"]}

            page1 = (await c.call("cron.list", {"limit": 2, "sortBy": "name"}))["payload"]
            assert [j["name"] for j in page1["jobs"]] == ["job-a", "job-b"]
            assert page1 | {"jobs": None, "snapshotRevision": None, "deliveryPreviews": None} == {
                "jobs": None,
                "snapshotRevision": None,
                "deliveryPreviews": None,
                "total": 5,
                "offset": 0,
                "limit": 2,
                "hasMore": True,
                "nextOffset": 2,
            }
            last = (
                await c.call(
                    "cron.list", {"limit": 2, "offset": 4, "sortBy": "name", "sortDir": "desc"}
                )
            )["payload"]
            assert [j["name"] for j in last["jobs"]] == ["job-a"]
            assert last["hasMore"] is False
            assert last["nextOffset"] is None
            q = (await c.call("cron.list", {"query": "JOB-C"}))["payload"]
            assert [j["name"] for j in q["jobs"]] == ["job-c"]
            compact = (await c.call("cron.list", {"compact": True}))["payload"]
            assert "deliveryPreviews" not in compact
            bad = await c.call("cron.list", {"limit": 0})
            assert bad["error"]["message"] == "invalid cron.list params: at /limit: must be >= 1"


async def test_run_and_runs(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            connected(gateway.port, scopes=ADMIN) as c,
            connected(gateway.port, scopes=READ) as watcher,
        ):
            job = await add(c, sys_job(text="ping"))
            await watcher.next_event("cron")  # added
            res = await c.call("cron.run", {"id": job["id"]})
            assert res["ok"], res
            run = res["payload"]
            assert run["ok"] is True
            assert run["enqueued"] is True
            assert run["runId"].startswith(f"manual:{job['id']}:")
            assert isinstance(run["processInstanceId"], str)
            started = await watcher.next_event("cron")
            assert started["payload"]["action"] == "started"
            finished = await watcher.next_event("cron")
            assert finished["payload"]["action"] == "finished"
            assert finished["payload"]["status"] == "ok"
            assert finished["payload"]["runId"] == run["runId"]

            status = (await c.call("status"))["payload"]
            assert "ping" in status["queuedSystemEvents"]

            runs = (await c.call("cron.runs", {"id": job["id"]}))["payload"]
            assert runs["total"] == 1
            entry = runs["entries"][0]
            assert entry["jobId"] == job["id"]
            assert entry["action"] == "finished"
            assert entry["status"] == "ok"
            assert entry["completionStatus"] == "succeeded"
            assert entry["runId"] == run["runId"]
            assert entry["jobName"] == "t1"
            assert entry["deliveryStatus"] == "not-requested"
            assert isinstance(entry["durationMs"], int)
            # A forced run leaves the natural next slot alone.
            got = (await c.call("cron.get", {"id": job["id"]}))["payload"]
            assert got["nextRunAtMs"] == job["nextRunAtMs"]
            assert got["lastRunStatus"] == "ok"

            due = (await c.call("cron.run", {"id": job["id"], "mode": "due"}))["payload"]
            assert due == {
                "ok": True,
                "ran": False,
                "reason": "not-due",
                "processInstanceId": run["processInstanceId"],
            }
            await c.call("cron.update", {"id": job["id"], "patch": {"enabled": False}})
            off = (await c.call("cron.run", {"id": job["id"], "mode": "if-enabled"}))["payload"]
            assert off["reason"] == "disabled"

            everything = (await c.call("cron.runs", {"scope": "all", "statuses": ["ok"]}))[
                "payload"
            ]
            assert everything["total"] == 1
            none = (await c.call("cron.runs", {"scope": "all", "status": "error"}))["payload"]
            assert none == {
                "entries": [],
                "total": 0,
                "offset": 0,
                "limit": 50,
                "hasMore": False,
                "nextOffset": None,
            }
            unknown = await c.call("cron.runs", {"id": "nope"})
            assert unknown["error"]["details"]["code"] == "CRON_JOB_NOT_FOUND"
            missing = await c.call("cron.run", {"id": "nope"})
            assert missing["error"]["details"] == {"code": "CRON_JOB_NOT_FOUND", "jobId": "nope"}


async def test_agent_turn_run_is_a_clear_error(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            connected(gateway.port, scopes=ADMIN) as c,
            connected(gateway.port, scopes=READ) as watcher,
        ):
            job = await add(
                c, {"schedule": every(), "payload": {"kind": "agentTurn", "message": "hi"}}
            )
            await c.call("cron.run", {"id": job["id"]})
            while True:
                ev = await watcher.next_event("cron")
                if ev["payload"]["action"] == "finished":
                    break
            assert ev["payload"]["status"] == "error"
            assert "agent node" in ev["payload"]["error"]
            got = (await c.call("cron.get", {"id": job["id"]}))["payload"]
            assert got["lastRunStatus"] == "error"
            assert got["state"]["consecutiveErrors"] == 1


async def test_cron_disabled_by_settings(nursery: trio.Nursery, tmp_path: Any) -> None:
    from tests.helpers import start_gateway

    gw = await start_gateway(nursery, tmp_path, cron_enabled=False)
    try:
        with trio.fail_after(10):
            async with connected(gw.port, scopes=ADMIN) as c:
                assert (await c.call("cron.status"))["payload"]["enabled"] is False
                job = await add(c, sys_job())
                res = (await c.call("cron.run", {"id": job["id"]}))["payload"]
                assert res["ran"] is False
                assert res["reason"] == "stopped"
    finally:
        gw.settings.logger.close()


async def test_skip_cron_env(
    nursery: trio.Nursery, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import start_gateway

    monkeypatch.setenv("OPENCLAW_SKIP_CRON", "1")
    gw = await start_gateway(nursery, tmp_path)
    try:
        with trio.fail_after(10):
            async with connected(gw.port, scopes=READ) as c:
                assert (await c.call("cron.status"))["payload"]["enabled"] is False
    finally:
        gw.settings.logger.close()
