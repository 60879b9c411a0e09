"""A closed connection is freed by reference counting, not left to the garbage collector
(issue 17): at 1000 sockets a full collection walks ~95 000 objects, so a connection whose
objects form a cycle (the subscriber's hooks bound to its socket object, an exception kept on
the socket and raised with its traceback) costs collector work and memory until a pass comes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import trio

from openclaw_gateway.client import GatewayClient
from openclaw_gateway.server.dispatch import _Socket
from openclaw_gateway.server.hub import Subscriber
from openclaw_gateway.server.wssocket import ServerWebSocket
from tests.helpers import TOKEN, RunningGateway

BOUND = 10
SERVER_TYPES = (ServerWebSocket, _Socket, Subscriber)


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """Every cycle the collector finds while the test runs, kept in gc.garbage to look at."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()


async def test_closed_connections_leave_no_cycles(
    gateway: RunningGateway, saved_garbage: list[object]
) -> None:
    with trio.fail_after(BOUND):
        for _ in range(5):
            async with GatewayClient(gateway.url, token=TOKEN) as client:
                await client.call("health")
        # The server side of each socket ends a moment after the client's close.
        while live_server_sockets(saved_garbage):  # noqa: ASYNC110 - no event says "freed"
            await trio.sleep(0.01)
    left = [type(o).__name__ for o in saved_garbage if isinstance(o, SERVER_TYPES)]
    assert left == []


def live_server_sockets(garbage: list[object]) -> int:
    """Server sockets still alive, not counting the cycles a collection just found."""
    gc.collect()
    found = {id(o) for o in garbage}
    return sum(1 for o in gc.get_objects() if isinstance(o, ServerWebSocket) and id(o) not in found)
