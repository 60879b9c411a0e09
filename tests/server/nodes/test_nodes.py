"""node.*: capability pairing, invoke round trips and their failure shapes (protocol.md §6.8),
over real 127.0.0.1 sockets with a hand-driven node."""

from __future__ import annotations

import json
from typing import Any

import trio

from tests.devicekit import SigningDevice
from tests.helpers import RunningGateway
from tests.server.integration.support import read_until_closed
from tests.server.nodes.support import (
    answer_invoke,
    approve,
    node_client,
    node_params,
    operator_client,
)

ADMIN = ["operator.admin"]


async def test_pairing_flow_makes_declared_commands_effective(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"pair-flow")
    async with (
        operator_client(gateway.port, ADMIN) as op,
        node_client(gateway.port, dev, ["echo", "system.notify"]) as node,
    ):
        requested = await op.next_event("node.pair.requested")
        req = requested["payload"]
        assert req["nodeId"] == dev.id
        assert req["commands"] == ["echo", "system.notify"]
        assert req["caps"] == ["system"]
        listed = (await op.call("node.list"))["payload"]["nodes"]
        assert [n["nodeId"] for n in listed] == [dev.id]
        before = listed[0]
        assert before["connected"] is True and before["paired"] is True
        assert before["commands"] == [] and before["caps"] == []
        assert before["approvalState"] == "pending-approval"
        assert before["pendingRequestId"] == req["requestId"]
        pending = (await op.call("node.pair.list"))["payload"]["pending"]
        assert [p["requestId"] for p in pending] == [req["requestId"]]

        res = await op.call("node.pair.approve", {"requestId": req["requestId"]})
        assert res["ok"], res
        assert res["payload"]["node"]["commands"] == ["echo", "system.notify"]
        resolved = await node.next_event("node.pair.resolved")
        assert "seq" not in resolved
        assert resolved["payload"]["decision"] == "approved"
        broadcast = await op.next_event("node.pair.resolved")
        assert broadcast["payload"]["requestId"] == req["requestId"]

        desc = (await op.call("node.describe", {"nodeId": dev.id}))["payload"]
        assert desc["commands"] == ["echo", "system.notify"]
        assert desc["approvalState"] == "approved"
        assert "pendingRequestId" not in desc
        assert (await op.call("node.pair.list"))["payload"]["pending"] == []
        again = await op.call("node.pair.approve", {"requestId": req["requestId"]})
        assert again["error"]["message"] == "unknown requestId"


async def test_invoke_round_trip_exact_request_shape(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"round-trip")
    async with (
        operator_client(gateway.port, ADMIN) as op,
        node_client(gateway.port, dev, ["echo"]) as node,
    ):
        await approve(op, dev.id)
        got: dict[str, Any] = {}

        async def node_side() -> None:
            got.update(await answer_invoke(node, {"pong": True}))

        async with trio.open_nursery() as n:
            n.start_soon(node_side)
            res = await op.call(
                "node.invoke",
                {
                    "nodeId": dev.id,
                    "command": "echo",
                    "params": {"title": "hi"},
                    "idempotencyKey": "k1",
                    "timeoutMs": 5000,
                },
            )
        assert res["ok"], res
        assert res["payload"] == {
            "ok": True,
            "nodeId": dev.id,
            "command": "echo",
            "payload": {"pong": True},
            "payloadJSON": json.dumps({"pong": True}),
        }
        assert "seq" not in got
        payload = got["payload"]
        assert set(payload) == {
            "id",
            "nodeId",
            "command",
            "paramsJSON",
            "timeoutMs",
            "idempotencyKey",
        }
        assert payload["nodeId"] == dev.id and payload["command"] == "echo"
        assert json.loads(payload["paramsJSON"]) == {"title": "hi"}
        assert payload["timeoutMs"] == 5000 and payload["idempotencyKey"] == "k1"

        # A plain `payload` (no payloadJSON) and no params: paramsJSON null, default timeout.
        async def node_side2() -> None:
            ev = await node.next_event("node.invoke.request")
            got.update(ev)
            p = ev["payload"]
            await node.call(
                "node.invoke.result",
                {"id": p["id"], "nodeId": dev.id, "ok": True, "payload": [1, 2]},
            )

        async with trio.open_nursery() as n:
            n.start_soon(node_side2)
            res = await op.call(
                "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": "k2"}
            )
        assert res["payload"]["payload"] == [1, 2]
        assert res["payload"]["payloadJSON"] is None
        assert got["payload"]["paramsJSON"] is None
        assert got["payload"]["timeoutMs"] == 30000


async def test_node_error_is_reported_with_code(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"node-error")
    async with (
        operator_client(gateway.port, ADMIN) as op,
        node_client(gateway.port, dev, ["echo"]) as node,
    ):
        await approve(op, dev.id)

        async def node_side() -> None:
            ev = await node.next_event("node.invoke.request")
            await node.call(
                "node.invoke.result",
                {
                    "id": ev["payload"]["id"],
                    "nodeId": dev.id,
                    "ok": False,
                    "error": {"code": "BOOM", "message": "it broke"},
                },
            )

        async with trio.open_nursery() as n:
            n.start_soon(node_side)
            res = await op.call(
                "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": "e"}
            )
        err = res["error"]
        assert err["code"] == "UNAVAILABLE"
        assert err["message"] == "BOOM: it broke"
        assert err["details"] == {
            "nodeError": {"code": "BOOM", "message": "it broke"},
            "nodeCommandDispatched": True,
        }


async def test_timeout_and_late_result_is_ignored(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"timeout")
    async with (
        operator_client(gateway.port, ADMIN) as op,
        node_client(gateway.port, dev, ["echo"]) as node,
    ):
        await approve(op, dev.id)
        with trio.fail_after(5):
            res = await op.call(
                "node.invoke",
                {"nodeId": dev.id, "command": "echo", "idempotencyKey": "t", "timeoutMs": 200},
            )
        err = res["error"]
        assert err["code"] == "UNAVAILABLE"
        assert err["message"] == "TIMEOUT: node invoke timed out"
        assert err["details"]["nodeError"]["code"] == "TIMEOUT"
        ev = await node.next_event("node.invoke.request")
        late = await node.call(
            "node.invoke.result", {"id": ev["payload"]["id"], "nodeId": dev.id, "ok": True}
        )
        assert late["payload"] == {"ok": True, "ignored": True}
        unknown = await node.call(
            "node.invoke.result", {"id": "nope", "nodeId": dev.id, "ok": True}
        )
        assert unknown["payload"] == {"ok": True, "ignored": True}
        mismatch = await node.call(
            "node.invoke.result", {"id": "nope", "nodeId": "someone-else", "ok": True}
        )
        assert mismatch["error"]["message"] == "nodeId mismatch"
        progress = await node.call(
            "node.invoke.progress",
            {"invokeId": "nope", "nodeId": dev.id, "seq": 0, "chunk": "x"},
        )
        assert progress["payload"] == {"ok": True, "ignored": True}
        # 16384 characters is the schema's limit; the official also caps the UTF-8 bytes.
        wide = await node.call(
            "node.invoke.progress",
            {"invokeId": "nope", "nodeId": dev.id, "seq": 1, "chunk": "é" * 8193},
        )
        assert wide["error"]["message"] == "progress chunk too large"


async def test_node_disconnect_fails_pending_invoke_at_once(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"disconnect")
    async with operator_client(gateway.port, ADMIN) as op:
        async with node_client(gateway.port, dev, ["echo"]) as node:
            await approve(op, dev.id)
            result: dict[str, Any] = {}

            async def operator_side() -> None:
                result.update(
                    await op.call(
                        "node.invoke",
                        {"nodeId": dev.id, "command": "echo", "idempotencyKey": "d"},
                    )
                )

            with trio.fail_after(5):  # far below the 30 s default timeout
                async with trio.open_nursery() as n:
                    n.start_soon(operator_side)
                    await node.next_event("node.invoke.request")
                    await node.ws.aclose()
        err = result["error"]
        assert err["code"] == "UNAVAILABLE"
        assert err["details"]["nodeError"]["code"] == "NOT_CONNECTED"
        offline = await op.call(
            "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": "d2"}
        )
        assert offline["error"] == {
            "code": "UNAVAILABLE",
            "message": "node not connected",
            "details": {
                "code": "NOT_CONNECTED",
                "nodeError": {"code": "NOT_CONNECTED", "message": "node not connected"},
                "nodeCommandDispatched": False,
            },
        }
        listed = (await op.call("node.list"))["payload"]["nodes"]
        assert listed[0]["connected"] is False and listed[0]["paired"] is True
        assert listed[0]["commands"] == ["echo"]


async def test_idempotent_retry_returns_the_first_result(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"idempotent")
    async with (
        operator_client(gateway.port, ADMIN) as op,
        node_client(gateway.port, dev, ["echo"]) as node,
    ):
        await approve(op, dev.id)
        call = {"nodeId": dev.id, "command": "echo", "idempotencyKey": "same"}
        async with trio.open_nursery() as n:
            n.start_soon(answer_invoke, node, {"n": 1})
            first = await op.call("node.invoke", call)
        second = await op.call("node.invoke", {**call, "params": {"other": True}})
        assert first["payload"] == second["payload"]
        assert first["payload"]["payload"] == {"n": 1}
        # The node saw one request only.
        assert not [e for e in node.events if e.get("event") == "node.invoke.request"]
        with trio.move_on_after(0.2):
            await node.next_event("node.invoke.request")
            raise AssertionError("the retry was dispatched again")


async def test_unapproved_and_undeclared_commands_are_refused(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"unapproved")
    async with (
        operator_client(gateway.port, ADMIN) as op,
        node_client(gateway.port, dev, ["echo"]) as node,
    ):
        await op.next_event("node.pair.requested")
        res = await op.call(
            "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": "u1"}
        )
        err = res["error"]
        assert err["code"] == "INVALID_REQUEST"
        assert err["details"] == {"reason": "node did not declare commands", "command": "echo"}
        assert "pending approval" in err["message"]
        pending = (await op.call("node.pair.list"))["payload"]["pending"]
        await op.call("node.pair.approve", {"requestId": pending[0]["requestId"]})
        res = await op.call(
            "node.invoke", {"nodeId": dev.id, "command": "rm.rf", "idempotencyKey": "u2"}
        )
        assert res["error"]["details"] == {
            "reason": "command not declared by node",
            "command": "rm.rf",
        }
        assert res["error"]["message"] == (
            'node command not allowed: the node (platform: linux) does not support "rm.rf"'
        )
        assert not [e for e in node.events if e.get("event") == "node.invoke.request"]
        # A refusal is not remembered under its idempotency key: once approved, it runs.
        async with trio.open_nursery() as n:
            n.start_soon(answer_invoke, node, {"later": True})
            res = await op.call(
                "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": "u1"}
            )
        assert res["payload"]["payload"] == {"later": True}


async def test_reconnect_with_more_commands_asks_again(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"reconnect")
    async with operator_client(gateway.port, ADMIN) as op:
        async with node_client(gateway.port, dev, ["echo"]):
            await approve(op, dev.id)
        async with node_client(gateway.port, dev, ["echo"]):
            desc = (await op.call("node.describe", {"nodeId": dev.id}))["payload"]
            assert desc["approvalState"] == "approved" and desc["commands"] == ["echo"]
        async with node_client(gateway.port, dev, ["echo", "camera.snap"]):
            ev = await op.next_event("node.pair.requested")
            assert ev["payload"]["commands"] == ["echo", "camera.snap"]
            assert ev["payload"]["isRepair"] is True
            desc = (await op.call("node.describe", {"nodeId": dev.id}))["payload"]
            assert desc["approvalState"] == "pending-reapproval"
            assert desc["commands"] == ["echo"]
            rej = await op.call("node.pair.reject", {"requestId": ev["payload"]["requestId"]})
            assert rej["payload"] == {"requestId": ev["payload"]["requestId"], "nodeId": dev.id}
            resolved = await op.next_event("node.pair.resolved")
            assert resolved["payload"]["decision"] == "rejected"
            desc = (await op.call("node.describe", {"nodeId": dev.id}))["payload"]
            assert desc["approvalState"] == "approved" and desc["commands"] == ["echo"]


async def test_rename_remove_and_unknown_node(
    gateway: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"rename")
    async with operator_client(gateway.port, ADMIN) as op:
        unknown = await op.call("node.describe", {"nodeId": "nope"})
        assert unknown["error"] == {"code": "INVALID_REQUEST", "message": "unknown nodeId"}
        async with node_client(gateway.port, dev, ["echo"], nursery) as node:
            await approve(op, dev.id)
            res = await op.call("node.rename", {"nodeId": dev.id, "displayName": " Lab box "})
            assert res["payload"] == {"nodeId": dev.id, "displayName": "Lab box"}
            desc = (await op.call("node.describe", {"nodeId": dev.id}))["payload"]
            assert desc["displayName"] == "Lab box"
            removed = await op.call("node.pair.remove", {"nodeId": dev.id})
            assert removed["payload"] == {"nodeId": dev.id}
            ev = await op.next_event("node.pair.resolved")
            assert ev["payload"]["decision"] == "removed"
            with trio.fail_after(5):
                closed = await read_until_closed(node)
            assert (closed.code, closed.reason) == (
                4001,
                "client invalidated: device-pair-removed",
            )
        again = await op.call("node.pair.remove", {"nodeId": dev.id})
        assert again["error"]["message"] == "unknown nodeId"


async def test_presence_lists_the_node(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"presence")
    async with operator_client(gateway.port, ADMIN) as op, node_client(gateway.port, dev, ["echo"]):
        entries = (await op.call("system-presence"))["payload"]
        mine = [e for e in entries if e.get("deviceId") == dev.id]
        assert mine and mine[0]["roles"] == ["node"] and mine[0]["mode"] == "node"
        assert mine[0]["instanceId"] == dev.id


async def test_node_event_reply_shape(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"node-event")
    async with node_client(gateway.port, dev, ["echo"]) as node:
        res = await node.call("node.event", {"event": "node.presence.alive", "payload": {}})
        assert res["payload"] == {"ok": True, "event": "node.presence.alive", "handled": True}


async def test_params_are_checked(gateway: RunningGateway) -> None:
    async with operator_client(gateway.port, ADMIN) as op:
        res = await op.call("node.invoke", {"nodeId": "x", "command": "echo"})
        assert res["error"]["code"] == "INVALID_REQUEST"
        assert "idempotencyKey" in res["error"]["message"]
        res = await op.call(
            "node.invoke",
            {"nodeId": "x", "command": "echo", "idempotencyKey": "k", "timeoutMs": -1},
        )
        assert res["error"]["code"] == "INVALID_REQUEST"


def test_node_params_helper_is_role_node() -> None:
    params = node_params(SigningDevice(b"x"), ["echo"])
    assert params["role"] == "node" and params["client"]["mode"] == "node"
