"""Cron `announce` through a real bridge: the run's output reaches the channel and the run
records `delivered`; with the bridge offline it records `unknown` and the queue sends it when
the bridge connects; cron.list shows the delivery preview."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import RunningGateway, start_gateway
from tests.server.channels.support import Inbox, bridge
from tests.server.nodes.support import operator_client

ADMIN = ["operator.admin"]
_started: list[RunningGateway] = []


@pytest.fixture(autouse=True)
def _close_logs() -> Iterator[None]:
    yield
    while _started:
        _started.pop().settings.logger.close()


async def _finished(op: Any, job_id: str) -> dict[str, Any]:
    while True:
        ev = await op.next_event("cron")
        if ev["payload"]["jobId"] == job_id and ev["payload"]["action"] == "finished":
            return dict(ev["payload"])


def _job(to: str) -> dict[str, Any]:
    return {
        "name": "report",
        "schedule": {"kind": "every", "everyMs": 3_600_000},
        "payload": {"kind": "command", "argv": ["echo", "nightly report ready"]},
        "delivery": {"mode": "announce", "channel": "chat", "to": to},
    }


async def test_announce_reaches_the_bridge_or_waits_for_it(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    gw = await start_gateway(nursery, tmp_path)
    _started.append(gw)
    inbox = Inbox()
    with trio.fail_after(30):
        async with operator_client(gw.port, ADMIN) as op:
            async with bridge(gw.url, tmp_path / "bridge", ("chat",), inbox, op):
                job = (await op.call("cron.add", _job("alice")))["payload"]
                assert job["deliveryPreview"] == {
                    "label": "Announce",
                    "detail": "announce via chat to alice",
                }
                await op.call("cron.run", {"id": job["id"]})
                done = await _finished(op, job["id"])
                got = await inbox.next()
            assert (got.channel, got.to, got.text) == ("chat", "alice", "nightly report ready\n")
            assert done["deliveryStatus"] == "delivered"
            assert done["delivered"] is True
            listing = (await op.call("cron.list", {}))["payload"]
            preview = listing["deliveryPreviews"][job["id"]]
            assert preview["detail"] == "announce via chat to alice"
            assert listing["jobs"][0]["state"]["lastDeliveryStatus"] == "delivered"
            # The bridge is gone: the next run's announcement waits in the queue.
            job2 = (await op.call("cron.add", _job("bob")))["payload"]
            await op.call("cron.run", {"id": job2["id"]})
            done2 = await _finished(op, job2["id"])
            assert done2["deliveryStatus"] == "unknown"
            assert done2["deliveryError"].startswith("queued for chat")
            async with bridge(gw.url, tmp_path / "bridge", ("chat",), inbox):
                late = await inbox.next()
    assert (late.to, late.text) == ("bob", "nightly report ready\n")
