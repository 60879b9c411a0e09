"""Cron `agentTurn` jobs run as an `agent.turn` invoke on an approved agent node (our
extension); with no agent node the run fails with a clear reason."""

from __future__ import annotations

import json

import trio

from openclaw_gateway.server.cron.payloads import NO_AGENT
from tests.devicekit import SigningDevice
from tests.helpers import RunningGateway
from tests.server.nodes.support import approve, node_client, operator_client

ADMIN = ["operator.admin"]
JOB = {
    "name": "daily summary",
    "schedule": {"kind": "every", "everyMs": 3_600_000},
    "payload": {"kind": "agentTurn", "message": "summarise the day"},
    "delivery": {"mode": "none"},
}


async def _finished(op: object) -> dict[str, object]:
    while True:
        ev = await op.next_event("cron")  # type: ignore[attr-defined]
        if ev["payload"]["action"] == "finished":
            return dict(ev["payload"])


async def test_agent_turn_is_delivered_to_the_agent_node(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"agent-node")
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            node_client(gateway.port, dev, ["agent.turn"]) as node,
        ):
            requested = await op.next_event("node.pair.requested")
            approved = await op.call(
                "node.pair.approve", {"requestId": requested["payload"]["requestId"]}
            )
            assert approved["ok"], approved
            job = (await op.call("cron.add", JOB))["payload"]
            assert (await op.call("cron.run", {"id": job["id"]}))["ok"]

            ev = await node.next_event("node.invoke.request")
            req = ev["payload"]
            assert req["command"] == "agent.turn"
            params = json.loads(req["paramsJSON"])
            assert params["message"] == "summarise the day"
            assert params["jobId"] == job["id"]
            answer = {"text": "A quiet day."}
            res = await node.call(
                "node.invoke.result",
                {"id": req["id"], "nodeId": dev.id, "ok": True, "payloadJSON": json.dumps(answer)},
            )
            assert res["ok"], res

            finished = await _finished(op)
            assert finished["status"] == "ok"
            assert finished["summary"] == "A quiet day."
            runs = (await op.call("cron.runs", {"id": job["id"]}))["payload"]
            assert runs["entries"][0]["status"] == "ok"
            assert runs["entries"][0]["summary"] == "A quiet day."


async def test_agent_turn_without_an_agent_node_fails_clearly(gateway: RunningGateway) -> None:
    with trio.fail_after(15):
        async with operator_client(gateway.port, ADMIN) as op:
            job = (await op.call("cron.add", JOB))["payload"]
            assert (await op.call("cron.run", {"id": job["id"]}))["ok"]
            finished = await _finished(op)
            assert finished["status"] == "error"
            assert finished["error"] == NO_AGENT


async def test_a_paced_agent_turn_proposes_its_next_check(gateway: RunningGateway) -> None:
    """Issue 13: `pacing` is real. The node gets the bounds with the turn and may answer a
    `nextCheck`; a forced run keeps the pending slot (the scheduled-run case, where the
    proposal moves the slot, is tests/server/cron/test_pacing.py)."""
    dev = SigningDevice(b"agent-node-paced")
    paced = {**JOB, "pacing": {"min": "10m", "max": "2h"}}
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            node_client(gateway.port, dev, ["agent.turn"]) as node,
        ):
            await approve(op, dev.id)
            job = (await op.call("cron.add", paced))["payload"]
            assert job["pacing"] == {"min": "10m", "max": "2h"}
            assert (await op.call("cron.run", {"id": job["id"], "mode": "force"}))["ok"]
            ev = await node.next_event("node.invoke.request")
            params = json.loads(ev["payload"]["paramsJSON"])
            assert params["pacing"] == {"min": "10m", "max": "2h"}
            answer = {"text": "checked", "nextCheck": "1m"}
            await node.call(
                "node.invoke.result",
                {
                    "id": ev["payload"]["id"],
                    "nodeId": dev.id,
                    "ok": True,
                    "payloadJSON": json.dumps(answer),
                },
            )
            finished = await _finished(op)
            assert finished["status"] == "ok"
            # A forced run is out-of-band: the pending natural slot is kept.
            got = (await op.call("cron.get", {"id": job["id"]}))["payload"]
            assert got["nextRunAtMs"] == job["nextRunAtMs"]


async def test_a_bad_next_check_fails_the_run(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"agent-node-bad")
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            node_client(gateway.port, dev, ["agent.turn"]) as node,
        ):
            await approve(op, dev.id)
            job = (await op.call("cron.add", {**JOB, "pacing": {"min": "1m"}}))["payload"]
            assert (await op.call("cron.run", {"id": job["id"]}))["ok"]
            ev = await node.next_event("node.invoke.request")
            await node.call(
                "node.invoke.result",
                {
                    "id": ev["payload"]["id"],
                    "nodeId": dev.id,
                    "ok": True,
                    "payloadJSON": json.dumps({"text": "x", "nextCheck": "soon"}),
                },
            )
            finished = await _finished(op)
            assert finished["status"] == "error"
            assert finished["error"] == "agent nextCheck must be a duration such as 30m"
