"""Fan-out over real sockets (issue 17): one broadcast path writes each event inline to every
listener, so every reader that keeps up gets every event exactly once, in `seq` order, while a
reader that stops reading misses `dropIfSlow` events with their `seq` consumed: the gap shows.
"""

from __future__ import annotations

import contextlib
import itertools

import trio

from tests.helpers import RawClient
from tests.security.test_limits_sockets import (
    MIB,
    _fill_presence,
    _stop_growing_receive_buffer,
)
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import ADMIN_SCOPES, StartGateway, ws_connected

TIMEOUT = 30
LISTENERS = 6
EVENTS = 40
ROW = 256 * 1024  # every presence broadcast carries the row: ~256 KiB per event


async def _collect(client: RawClient, last_text_size: int, into: list[int]) -> None:
    """Read presence seqs until the small closing event (its row text is short) arrives."""
    while True:
        frame = await client.recv()
        if frame.get("event") != "presence":
            continue
        into.append(frame["seq"])
        rows = frame["payload"]["presence"]
        if any(len(r.get("text") or "") == last_text_size for r in rows if r.get("deviceId")):
            return


async def test_every_listener_gets_every_event_once_in_order_and_a_slow_one_sees_a_gap(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(max_buffered_bytes=MIB)
    with trio.fail_after(TIMEOUT):
        async with (
            ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as slow,
            ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as driver,
        ):
            _stop_growing_receive_buffer(slow)
            seqs: list[list[int]] = []
            async with contextlib.AsyncExitStack() as stack:
                fast = [
                    await stack.enter_async_context(ws_connected(nursery, gw.port))
                    for _ in range(LISTENERS)
                ]
                async with trio.open_nursery() as readers:
                    for client in fast:
                        seqs.append([])
                        readers.start_soon(_collect, client, 16, seqs[-1])
                    for _ in range(EVENTS):
                        await _fill_presence(driver, ROW)
                    await _fill_presence(driver, 16)  # the end marker
            slow_seqs: list[int] = []
            await _collect(slow, 16, slow_seqs)
            assert (await slow.call("health"))["ok"]  # dropped events were not fatal
    for got in seqs:
        # Once each, in order, none missing between the first and the last.
        assert got == list(range(got[0], got[0] + len(got))), got
        assert len(got) >= EVENTS + 1
    assert slow_seqs == sorted(set(slow_seqs))
    assert len(slow_seqs) < EVENTS + 1, "nothing was dropped: no back-pressure happened"
    assert any(b - a > 1 for a, b in itertools.pairwise(slow_seqs))  # the gap is visible
