"""An authenticated client looping on a method its role may not call (security.md item 20):
disconnected after 10 in a row, and its rejections are sampled in the log, not all written."""

from __future__ import annotations

import trio

from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import (
    NODE_CONNECT,
    StartGateway,
    read_until_closed,
    ws_connected,
)

TIMEOUT = 10


async def test_role_flood_is_closed_and_its_log_is_sampled(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, **NODE_CONNECT) as node:
            for _ in range(10):
                reply = await node.call("status")
                assert reply["error"]["message"] == "unauthorized role: node"
            await node.send({"type": "req", "id": "last", "method": "status", "params": {}})
            closed = await read_until_closed(node)
    assert (closed.code, closed.reason) == (1008, "repeated unauthorized calls")
    assert [f["id"] for f in closed.frames] == ["last"]  # answered, then closed
    assert gw.settings.log_file is not None
    logged = gw.stdout.getvalue() + gw.stderr.getvalue()
    file_log = gw.settings.log_file.read_text(encoding="utf-8")
    # Eleven refusals: the first and the closing one are logged.
    assert logged.count("unauthorized role: node") == 2, logged
    assert sum("unauthorized role: node" in line for line in file_log.splitlines()) == 2
