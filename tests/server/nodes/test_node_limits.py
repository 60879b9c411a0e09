"""node.event relays and node.invoke under abuse (issue 13): channel relays need an approved
node, are capped in size and rate-limited per node; invoke idempotency is per caller and
command; timeoutMs is bounded."""

from __future__ import annotations

import json
from typing import Any

import trio

from openclaw_gateway.security.node_rules import (
    MAX_INVOKE_TIMEOUT_MS,
    MAX_NODE_EVENT_BYTES,
    NODE_EVENT_LIMIT,
)
from tests.devicekit import SigningDevice
from tests.helpers import RawClient, RunningGateway
from tests.server.nodes.support import answer_invoke, approve, node_client, operator_client

ADMIN = ["operator.admin"]
WRITE = ["operator.write"]
READ = ["operator.read"]


def _relayed(client: RawClient) -> list[dict[str, Any]]:
    return [e for e in client.events if e.get("event") == "node.event"]


async def test_an_unapproved_node_cannot_relay_channel_events(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"unapproved-bridge")
    with trio.fail_after(10):
        async with (
            operator_client(gateway.port, READ) as reader,
            node_client(gateway.port, dev, ["channel.send"]) as node,
        ):
            res = await node.call(
                "node.event", {"event": "channel.message", "payload": {"text": "spoof"}}
            )
            assert res["ok"] is False
            assert res["error"]["code"] == "FORBIDDEN"
            assert res["error"]["details"] == {"code": "NODE_NOT_APPROVED", "nodeId": dev.id}
            await reader.call("health")  # anything relayed would have arrived by now
            assert _relayed(reader) == []


async def test_oversized_and_flooding_relays_are_refused(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"flooding-bridge")
    with trio.fail_after(20):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, READ) as reader,
            node_client(gateway.port, dev, ["channel.send"]) as node,
        ):
            await approve(op, dev.id)
            big = {"text": "x" * MAX_NODE_EVENT_BYTES}
            res = await node.call("node.event", {"event": "channel.message", "payload": big})
            assert res["error"]["code"] == "INVALID_REQUEST"
            assert res["error"]["message"].startswith("node event payload too large")
            res = await node.call(
                "node.event",
                {"event": "channel.message", "payloadJSON": json.dumps(big)},
            )
            assert res["error"]["code"] == "INVALID_REQUEST"
            for i in range(NODE_EVENT_LIMIT):
                ok = await node.call("node.event", {"event": "channel.typing", "payload": {"n": i}})
                assert ok["payload"]["handled"] is True, ok
            limited = await node.call(
                "node.event", {"event": "channel.typing", "payload": {"n": "over"}}
            )
            assert limited["error"]["code"] == "UNAVAILABLE"
            assert limited["error"]["retryable"] is True
            assert limited["error"]["retryAfterMs"] > 0
            await reader.call("health")
            relayed = _relayed(reader)
            assert [e["payload"]["payload"]["n"] for e in relayed] == list(range(NODE_EVENT_LIMIT))


async def test_another_caller_or_command_never_gets_a_cached_result(
    gateway: RunningGateway,
) -> None:
    dev = SigningDevice(b"idem-per-caller")
    with trio.fail_after(20):
        async with (
            operator_client(gateway.port, ADMIN) as admin,
            operator_client(gateway.port, WRITE) as writer,
            node_client(gateway.port, dev, ["fs.listDir", "system.which", "echo"]) as node,
        ):
            await approve(admin, dev.id)
            key = "shared-key"
            async with trio.open_nursery() as n:
                n.start_soon(answer_invoke, node, {"files": ["secret.txt"]})
                first = await admin.call(
                    "node.invoke",
                    {"nodeId": dev.id, "command": "fs.listDir", "idempotencyKey": key},
                )
            assert first["payload"]["payload"] == {"files": ["secret.txt"]}
            # Another caller, another command, the same key: dispatched on its own.
            async with trio.open_nursery() as n:
                n.start_soon(answer_invoke, node, {"path": "/usr/bin/ls"})
                other = await writer.call(
                    "node.invoke",
                    {"nodeId": dev.id, "command": "system.which", "idempotencyKey": key},
                )
            assert other["payload"]["payload"] == {"path": "/usr/bin/ls"}
            # The same caller, another command, the same key: dispatched too.
            async with trio.open_nursery() as n:
                n.start_soon(answer_invoke, node, {"echo": 1})
                echo = await admin.call(
                    "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": key}
                )
            assert echo["payload"]["payload"] == {"echo": 1}
            # The same caller, command and key: the first result, no new dispatch.
            again = await admin.call(
                "node.invoke", {"nodeId": dev.id, "command": "fs.listDir", "idempotencyKey": key}
            )
            assert again["payload"] == first["payload"]
            with trio.move_on_after(0.2):
                await node.next_event("node.invoke.request")
                raise AssertionError("the retry was dispatched again")


async def test_timeout_ms_is_bounded(gateway: RunningGateway) -> None:
    dev = SigningDevice(b"bounded-timeout")
    with trio.fail_after(20):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            node_client(gateway.port, dev, ["echo"]) as node,
        ):
            await approve(op, dev.id)
            for i, asked in enumerate((10**12, 0)):
                async with trio.open_nursery() as n:
                    n.start_soon(
                        op.call,
                        "node.invoke",
                        {
                            "nodeId": dev.id,
                            "command": "echo",
                            "idempotencyKey": f"t{i}",
                            "timeoutMs": asked,
                        },
                    )
                    request = await answer_invoke(node, {"ok": True})
                assert request["payload"]["timeoutMs"] == MAX_INVOKE_TIMEOUT_MS
