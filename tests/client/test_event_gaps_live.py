"""A consumer too slow for its event queue loses events, and the next delivered one says so
(issue 13 §5): against a real in-process gateway, over a real socket. The queues are shrunk so
a few broadcasts overflow them; `system-event` makes the gateway broadcast `presence` once per
call, each with the next `seq`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from openclaw_gateway.client import GatewayClient, open_session, reconnecting, session
from openclaw_gateway.client.session import ClientIdentity, Event, connect_params
from tests.helpers import TOKEN, RunningGateway

SMALL_QUEUE = 3
BROADCASTS = 20


@pytest.fixture(autouse=True)
def _small_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "EVENT_QUEUE", SMALL_QUEUE)
    monkeypatch.setattr(reconnecting, "EVENT_QUEUE", SMALL_QUEUE)


Call = Callable[..., Awaitable[Any]]


async def _broadcast(call: Call, text: str) -> None:
    await call("system-event", {"text": text, "instanceId": "gap-test"})


async def _overflow_then_one_more(
    call: Call, events: trio.MemoryReceiveChannel[Event]
) -> list[Event]:
    """Overflow the queues without reading, read what was kept, then one more broadcast."""
    for n in range(BROADCASTS):
        await _broadcast(call, f"unread {n}")
    await call("health")  # every broadcast before it has been read off the socket
    got = []
    with trio.move_on_after(0.5):  # what the queues kept (the pump may still hand some over)
        while len(got) < 2 * SMALL_QUEUE + 1:
            got.append(await events.receive())
    await _broadcast(call, "final")
    while "final" not in json.dumps(got[-1].payload):
        got.append(await events.receive())
    return got


def assert_every_loss_is_reported(events: list[Event]) -> None:
    seqs = [e.seq for e in events]
    assert None not in seqs
    assert len(seqs) < BROADCASTS, "the small queues overflowed"
    gaps = []
    for previous, event in itertools.pairwise(events):
        assert previous.seq is not None and event.seq is not None
        if event.seq == previous.seq + 1:
            assert event.gap is None
        else:
            assert event.gap == (previous.seq + 1, event.seq)
            gaps.append(event.gap)
    assert gaps, "a dropped event must show as a gap on the next delivered one"


async def test_the_client_reports_what_its_consumer_lost(gateway: RunningGateway) -> None:
    with trio.fail_after(15):
        async with GatewayClient(gateway.url, token=TOKEN) as client:
            events = await _overflow_then_one_more(client.call, client.events())
    assert_every_loss_is_reported(events)


async def test_the_session_reports_what_its_consumer_lost(
    gateway: RunningGateway, nursery: trio.Nursery
) -> None:
    params = connect_params(
        ClientIdentity(), role="operator", scopes=("operator.admin",), token=TOKEN, password=None
    )
    with trio.fail_after(15):
        live = await open_session(nursery, gateway.url, params)
        try:
            events = await _overflow_then_one_more(live.call, live.received)
        finally:
            await live.aclose()
    assert_every_loss_is_reported(events)
