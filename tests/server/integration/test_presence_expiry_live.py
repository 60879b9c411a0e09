"""Presence expiry over real sockets: an expired row is announced once, by the ticker, even
when a read dropped it first (issue 13)."""

from __future__ import annotations

from typing import Any

import trio

from openclaw_gateway.state.presence import PRESENCE_TTL_MS
from tests.server.integration.support import ADMIN_SCOPES, StartGateway, ws_connected

TICK_MS = 1_000
WALL_START_S = 1_800_000_000.0


async def test_expired_row_is_broadcast_once_after_a_read_dropped_it(
    nursery: trio.Nursery, start: StartGateway, autojump_clock: trio.testing.MockClock
) -> None:
    skew = [0.0]  # seconds added to the gateway's wall clock

    def wall() -> float:
        return WALL_START_S + trio.current_time() + skew[0]

    gw = await start(clock=wall, tick_interval_ms=TICK_MS)
    with trio.fail_after(60):
        async with (
            ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as admin,
            ws_connected(nursery, gw.port) as reader,
        ):
            res = await admin.call("system-event", {"text": "temporary row", "host": "ghost"})
            assert res["ok"], res
            added = await reader.next_event("presence")
            assert "ghost" in hosts(added)
            skew[0] += (PRESENCE_TTL_MS + 1) / 1000
            # A read sees the row gone: it was dropped by the read itself.
            listed = await reader.call("system-presence")
            assert "ghost" not in [row.get("host") for row in listed["payload"]]
            expired = await reader.next_event("presence")
            assert "ghost" not in hosts(expired)
            assert expired["stateVersion"]["presence"] > added["stateVersion"]["presence"], (
                "the expiry is a change: stateVersion.presence moves"
            )
            # Once: several ticks later no other presence frame came.
            await trio.sleep(5 * TICK_MS / 1000)
            await reader.call("health")
            assert [e for e in reader.events if e.get("event") == "presence"] == []


def hosts(event: dict[str, Any]) -> list[Any]:
    return [row.get("host") for row in event["payload"]["presence"]]
