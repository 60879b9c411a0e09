"""Valid JSON, invalid Unicode, over real sockets (issue 13): one frame holding an escaped
lone surrogate must not poison what later clients receive."""

from __future__ import annotations

import trio

from tests.helpers import RunningGateway
from tests.server.integration.support import ADMIN_SCOPES, ws_connected

BOUND = 10


async def test_a_stored_lone_surrogate_does_not_break_later_handshakes(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as writer:
            # Raw text: the escape goes on the wire exactly as a JavaScript client sends it.
            await writer.send(
                '{"type":"req","id":"s1","method":"system-event",'
                '"params":{"text":"poison \\udcff here","host":"h\\ud800"}}'
            )
            res = await writer.recv()
            while res.get("type") != "res":
                res = await writer.recv()
            assert res["ok"] is True, res
        # Every later reader gets the presence snapshot holding that row.
        for _ in range(3):
            async with ws_connected(nursery, gateway.port) as reader:
                assert reader.hello is not None
                rows = reader.hello["snapshot"]["presence"]
                texts = [r.get("text") for r in rows]
                assert "poison \ufffd here" in texts
                assert "h\ufffd" in [r.get("host") for r in rows]
                listed = await reader.call("system-presence")
                assert listed["ok"] is True


async def test_a_lone_surrogate_in_a_property_name_is_quoted_safely(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            await client.send(
                '{"type":"req","id":"k1","method":"cron.status","params":{"\\udcff":1}}'
            )
            res = await client.recv()
            while res.get("type") != "res":
                res = await client.recv()
            assert res["error"]["message"] == (
                "invalid cron.status params: at root: unexpected property '\ufffd'"
            )
            # The socket (and the log sinks that saw the error) still work.
            assert (await client.call("health"))["ok"] is True


async def test_a_lone_surrogate_inside_a_nodes_payload_json_is_replaced_too(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    """payloadJSON is JSON inside a string: decoded later, by the same rule."""
    from tests.devicekit import SigningDevice
    from tests.server.nodes.support import approve, node_client, operator_client

    dev = SigningDevice(b"surrogate-node")
    with trio.fail_after(BOUND):
        async with (
            operator_client(gateway.port, ADMIN_SCOPES) as op,
            node_client(gateway.port, dev, ["echo"]) as node,
        ):
            await approve(op, dev.id)
            async with trio.open_nursery() as n:

                async def answer() -> None:
                    ev = await node.next_event("node.invoke.request")
                    res = await node.call(
                        "node.invoke.result",
                        {
                            "id": ev["payload"]["id"],
                            "nodeId": dev.id,
                            "ok": True,
                            "payloadJSON": '{"text":"bad \\udcff end"}',
                        },
                    )
                    assert res["ok"], res

                n.start_soon(answer)
                res = await op.call(
                    "node.invoke", {"nodeId": dev.id, "command": "echo", "idempotencyKey": "s"}
                )
            assert res["ok"], res
            assert res["payload"]["payload"] == {"text": "bad \ufffd end"}
            relay = await node.call(
                "node.event",
                {"event": "channel.typing", "payloadJSON": '{"text":"\\ud800"}'},
            )
            assert relay["ok"], relay
            ev = await op.next_event("node.event")
            assert ev["payload"]["payload"] == {"text": "\ufffd"}
            assert (await op.call("health"))["ok"] is True
