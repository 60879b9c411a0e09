"""Who may call each node.* method (method-scopes.tsv; node.invoke is dynamic; approving a
declared surface needs operator.pairing plus operator.write, or operator.admin for exec-class
commands)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.devicekit import SigningDevice
from tests.helpers import RunningGateway
from tests.server.nodes.support import node_client, operator_client

OPERATOR_METHODS = {
    "node.pair.list": ("operator.pairing", {}),
    "node.pair.approve": ("operator.pairing", {"requestId": "r"}),
    "node.pair.reject": ("operator.pairing", {"requestId": "r"}),
    "node.pair.remove": ("operator.pairing", {"nodeId": "n"}),
    "node.rename": ("operator.pairing", {"nodeId": "n", "displayName": "x"}),
    "node.list": ("operator.read", {}),
    "node.describe": ("operator.read", {"nodeId": "n"}),
    "node.invoke": ("operator.write", {"nodeId": "n", "command": "c", "idempotencyKey": "k"}),
}
NODE_METHODS = {
    "node.invoke.result": {"id": "i", "nodeId": "n", "ok": True},
    "node.invoke.progress": {"invokeId": "i", "nodeId": "n", "seq": 0, "chunk": ""},
    "node.event": {"event": "node.presence.alive"},
}


def _missing(res: dict[str, Any], scope: str) -> None:
    assert res["ok"] is False
    assert res["error"]["message"] == f"missing scope: {scope}", res
    assert res["error"]["details"]["missingScope"] == scope


@pytest.mark.parametrize("method", sorted(OPERATOR_METHODS))
async def test_operator_methods_need_their_scope(gateway: RunningGateway, method: str) -> None:
    scope, params = OPERATOR_METHODS[method]
    other = "operator.read" if scope != "operator.read" else "operator.pairing"
    async with operator_client(gateway.port, [other]) as op:
        _missing(await op.call(method, params), scope)
    async with operator_client(gateway.port, [scope]) as op:
        res = await op.call(method, params)
        assert res["ok"] or "missing scope" not in res["error"]["message"], res


@pytest.mark.parametrize("method", sorted(NODE_METHODS))
async def test_node_methods_need_role_node(gateway: RunningGateway, method: str) -> None:
    async with operator_client(gateway.port, ["operator.admin"]) as op:
        res = await op.call(method, NODE_METHODS[method])
        assert res["error"] == {"code": "INVALID_REQUEST", "message": "unauthorized role: operator"}


async def test_nodes_may_not_call_operator_node_methods(gateway: RunningGateway) -> None:
    async with node_client(gateway.port, SigningDevice(b"node-role"), ["echo"]) as node:
        res = await node.call("node.list")
        assert res["error"]["message"] == "unauthorized role: node"


async def test_admin_only_invoke_commands_need_admin(gateway: RunningGateway) -> None:
    async with operator_client(gateway.port, ["operator.write"]) as op:
        for command in ("fs.listDir", "browser.proxy"):
            res = await op.call(
                "node.invoke", {"nodeId": "n", "command": command, "idempotencyKey": "k"}
            )
            _missing(res, "operator.admin")


async def _requested(gateway: RunningGateway, dev: SigningDevice, commands: list[str]) -> str:
    async with (
        operator_client(gateway.port, ["operator.admin"]) as admin,
        node_client(gateway.port, dev, commands),
    ):
        ev = await admin.next_event("node.pair.requested")
    return str(ev["payload"]["requestId"])


async def test_approving_ordinary_commands_needs_write(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"approve-write")
    request_id = await _requested(gateway, dev, ["echo"])
    async with operator_client(gateway.port, ["operator.pairing"]) as op:
        res = await op.call("node.pair.approve", {"requestId": request_id})
        _missing(res, "operator.write")
        assert res["error"]["details"]["requiredScopes"] == ["operator.pairing", "operator.write"]
    async with operator_client(gateway.port, ["operator.pairing", "operator.write"]) as op:
        res = await op.call("node.pair.approve", {"requestId": request_id})
        assert res["ok"], res


async def test_approving_exec_class_commands_needs_admin(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"approve-admin")
    request_id = await _requested(gateway, dev, ["echo", "system.which"])
    async with operator_client(gateway.port, ["operator.pairing", "operator.write"]) as op:
        res = await op.call("node.pair.approve", {"requestId": request_id})
        _missing(res, "operator.admin")
        assert res["error"]["details"]["requiredScopes"] == ["operator.pairing", "operator.admin"]
    async with operator_client(gateway.port, ["operator.pairing", "operator.admin"]) as op:
        res = await op.call("node.pair.approve", {"requestId": request_id})
        assert res["ok"], res


async def test_pairing_events_reach_only_pairing_operators(gateway: RunningGateway) -> None:
    async with (
        operator_client(gateway.port, ["operator.read", "operator.write"]) as reader,
        operator_client(gateway.port, ["operator.pairing"]) as pairer,
    ):
        async with node_client(gateway.port, SigningDevice(b"events"), ["echo"]):
            ev = await pairer.next_event("node.pair.requested")
            assert "seq" in ev
        await reader.call("node.list")  # a round trip: anything broadcast has arrived
        assert not [e for e in reader.events if str(e.get("event")).startswith("node.pair")]


async def test_pending_request_id_is_shown_to_pairing_operators_only(
    gateway: RunningGateway,
) -> None:
    dev = SigningDevice(b"pending-id")
    async with (
        operator_client(gateway.port, ["operator.pairing", "operator.read"]) as pairer,
        operator_client(gateway.port, ["operator.read"]) as reader,
        node_client(gateway.port, dev, ["echo"]),
    ):
        await pairer.next_event("node.pair.requested")
        seen = (await pairer.call("node.list"))["payload"]["nodes"]
        assert seen[0]["pendingRequestId"]
        listed = (await reader.call("node.list"))["payload"]["nodes"]
        assert listed[0]["approvalState"] == "pending-approval"
        assert "pendingRequestId" not in listed[0]
