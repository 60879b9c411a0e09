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
