"""Broadcast events over real sockets: per-socket seq, presence gating, ticks, shutdown
(protocol.md §7, §8; cli.md §10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import HandshakeError

from openclaw_gateway.host.lock import StateLock
from tests.helpers import RunningGateway, start_gateway
from tests.server.integration.support import (
    ADMIN_SCOPES,
    MAC_APP_CONNECT,
    NODE_CONNECT,
    StartGateway,
    read_until_closed,
    ws_client,
    ws_connected,
)

BOUND = 5


def _rows(event: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [
        row
        for row in event["payload"]["presence"]
        if all(row.get(k) == v for k, v in match.items())
    ]


# -- seq ------------------------------------------------------------------------------------


async def test_seq_is_per_socket_and_starts_at_1(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as a:
            await a.call("health", {"probe": True})
            await a.call("system-event", {"text": "one", "host": "h1"})
            async with ws_connected(nursery, gateway.port) as b:
                await a.call("health", {"probe": True})
                await a.call("system-event", {"text": "two", "host": "h2"})
                seen_a = [await a.next_event() for _ in range(4)]
                seen_b = [await b.next_event() for _ in range(2)]
    assert [(e["event"], e["seq"]) for e in seen_a] == [
        ("health", 1),
        ("presence", 2),
        ("health", 3),
        ("presence", 4),
    ]
    # b joined later: its own numbering starts at 1.
    assert [(e["event"], e["seq"]) for e in seen_b] == [("health", 1), ("presence", 2)]
    # stateVersion rides on presence and health only, and never goes backwards.
    versions = [e["stateVersion"] for e in seen_a]
    assert [v["health"] for v in versions] == sorted(v["health"] for v in versions)
    assert [v["presence"] for v in versions] == sorted(v["presence"] for v in versions)
    assert versions[2]["health"] == versions[0]["health"] + 1
    assert versions[3]["presence"] == versions[1]["presence"] + 1


# -- presence -------------------------------------------------------------------------------


async def test_presence_on_connect_and_disconnect_of_a_tracked_client(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gateway.port) as reader,
            ws_connected(nursery, gateway.port, scopes=[]) as blind,
            ws_connected(nursery, gateway.port, **NODE_CONNECT) as node,
        ):
            # The node itself is tracked: the reader saw its row first.
            node_event = await reader.next_event("presence")
            assert reader.hello is not None
            start_version = reader.hello["snapshot"]["stateVersion"]["presence"]
            async with ws_connected(nursery, gateway.port, **MAC_APP_CONNECT) as mac:
                assert mac.hello is not None
                mac_hello = mac.hello
                joined = await reader.next_event("presence")
            left = await reader.next_event("presence")
            # Neither the scopeless operator nor the node got any presence frame: the next
            # thing each sees is a health broadcast numbered 1.
            await blind.call("health", {"probe": True})
            first_blind = await blind.next_event()
            first_node = await node.next_event()
    assert _rows(node_event, clientId="node-host", mode="node", reason="connect")
    [node_row] = _rows(node_event, clientId="node-host")
    assert node_row["instanceId"] == NODE_CONNECT["device"]["id"]
    assert node_row["deviceId"] == NODE_CONNECT["device"]["id"]
    assert node_row["roles"] == ["node"]

    assert node_event["seq"] == 1
    assert node_event["stateVersion"]["presence"] == start_version + 1
    assert joined["seq"] == 2
    assert joined["stateVersion"]["presence"] == start_version + 2
    [row] = _rows(joined, clientId="openclaw-macos")
    assert row["reason"] == "connect"
    assert row["mode"] == "ui"
    assert row["host"] == "Test Mac"
    assert row["platform"] == "macos"
    assert row["roles"] == ["operator"]
    assert row["text"] == "Node: Test Mac · mode ui"
    assert "ip" not in row  # a local client has no ip in its row
    assert isinstance(row["ts"], int)
    assert _rows(joined, reason="self")

    assert left["seq"] == 3
    assert left["stateVersion"]["presence"] > joined["stateVersion"]["presence"]
    [gone] = _rows(left, clientId="openclaw-macos")
    assert gone["reason"] == "disconnect"

    # A device-less app with a shared token keeps no scopes, so it sees no presence itself.
    assert mac_hello["auth"]["scopes"] == []
    assert mac_hello["snapshot"]["presence"] == []

    assert (first_blind["event"], first_blind["seq"]) == ("health", 1)
    assert (first_node["event"], first_node["seq"]) == ("health", 1)


@pytest.mark.parametrize(
    "client",
    [
        {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"},
        {"id": "gateway-client", "version": "t", "platform": "linux", "mode": "backend"},
        {"id": "openclaw-probe", "version": "t", "platform": "linux", "mode": "probe"},
    ],
    ids=["cli", "backend", "probe"],
)
async def test_ephemeral_clients_create_no_presence(
    nursery: trio.Nursery, gateway: RunningGateway, client: dict[str, Any]
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as reader:
            async with ws_connected(nursery, gateway.port, client=client):
                pass
            await reader.call("health", {"probe": True})
            first = await reader.next_event()
            rows = (await reader.call("system-presence"))["payload"]
    assert (first["event"], first["seq"]) == ("health", 1)
    assert [r for r in rows if r.get("clientId") == client["id"]] == []


async def test_system_event_presence_goes_out_before_its_answer_and_a_bad_key_changes_nothing(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin:
            bad = await admin.call(
                "system-event",
                {"text": "nope", "instanceId": "i-bad", "sessionKey": "agent:nobody:main"},
            )
            good = await admin.call("system-event", {"text": "deployed", "instanceId": "i-ok"})
            rows = (await admin.call("system-presence"))["payload"]
    assert not bad["ok"] and bad["error"]["code"] == "INVALID_REQUEST", bad
    assert good["ok"], good
    # The presence broadcast of the good event was already queued when its answer came.
    assert [e["event"] for e in admin.events] == ["presence"]
    assert _rows(admin.events[0], instanceId="i-ok")
    assert [r for r in rows if r.get("instanceId") == "i-bad"] == []


# -- tick -----------------------------------------------------------------------------------


async def test_tick_events(nursery: trio.Nursery, start: StartGateway) -> None:
    gw = await start(tick_interval_ms=200)
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gw.port) as reader,
            ws_connected(nursery, gw.port, scopes=[]) as blind,
            ws_connected(nursery, gw.port, **NODE_CONNECT) as node,
        ):
            assert reader.hello is not None
            assert reader.hello["policy"]["tickIntervalMs"] == 200
            first = await reader.next_event("tick")
            t0 = trio.current_time()
            second = await reader.next_event("tick")
            gap = trio.current_time() - t0
            blind_tick = await blind.next_event("tick")
            node_tick = await node.next_event("tick")
    for tick in (first, second, blind_tick, node_tick):
        assert set(tick) == {"type", "event", "payload", "seq"}
        assert set(tick["payload"]) == {"ts"}
        assert isinstance(tick["payload"]["ts"], int)
    assert second["seq"] > first["seq"]
    assert second["payload"]["ts"] > first["payload"]["ts"]
    assert 0.05 < gap < 2.0


# -- shutdown -------------------------------------------------------------------------------


async def test_shutdown_event_then_close_1012(nursery: trio.Nursery, tmp_path: Path) -> None:
    results: dict[str, Any] = {}

    async def watch(
        name: str,
        port: int,
        overrides: dict[str, Any],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with ws_connected(nursery, port, **overrides) as client:
            task_status.started()
            results[name] = await read_until_closed(client)

    with trio.fail_after(BOUND + 5):
        async with trio.open_nursery() as gateway_nursery:
            gw = await start_gateway(gateway_nursery, tmp_path)
            async with trio.open_nursery() as clients:
                await clients.start(watch, "reader", gw.port, {})
                await clients.start(watch, "admin", gw.port, {"scopes": ADMIN_SCOPES})
                await clients.start(watch, "blind", gw.port, {"scopes": []})
                await clients.start(watch, "node", gw.port, NODE_CONNECT)
                gw.shutdown.set()
        # Leaving gateway_nursery means run_gateway returned: the task tree wound down.
    gw.settings.logger.close()

    for name in ("reader", "admin", "blind", "node"):
        closed = results[name]
        assert (closed.code, closed.reason) == (1012, "service restart"), name
        events = [f for f in closed.frames if f.get("type") == "event"]
        assert events, name
        last = events[-1]
        assert last["event"] == "shutdown", name
        assert last["payload"] == {"reason": "gateway stopping"}
        assert isinstance(last["seq"], int)
        assert "stateVersion" not in last
        assert closed.frames[-1] is last

    # The listener is gone, the state lock is free again, and the log says so.
    with pytest.raises((OSError, HandshakeError)):
        async with ws_client(nursery, gw.port):
            pass
    lock = StateLock(gw.settings.state_dir)
    lock.acquire(port=gw.port, config_path=gw.settings.config_path)
    lock.release()
    assert "shutdown" in gw.stdout.getvalue()
    assert gw.settings.log_file is not None
    log_lines = [json.loads(x) for x in gw.settings.log_file.read_text().splitlines()]
    assert any(r["message"] == "completed cleanly" for r in log_lines)


async def test_shutdown_closes_a_socket_still_in_handshake(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """A socket that never sent `connect` is closed 1012 at once when shutdown starts.

    (It gets no `shutdown` event: it is not a subscriber yet.)
    """
    with trio.fail_after(BOUND + 5):
        async with trio.open_nursery() as gateway_nursery:
            gw = await start_gateway(gateway_nursery, tmp_path, drain_timeout=5.0)
            async with ws_client(nursery, gw.port) as idle:
                await idle.read_challenge()
                t0 = trio.current_time()
                gw.shutdown.set()
                closed = await read_until_closed(idle)
                client_waited = trio.current_time() - t0
        total = trio.current_time() - t0
    gw.settings.logger.close()
    assert closed.frames == []
    assert (closed.code, closed.reason) == (1012, "service restart")
    # Well before the 5 s drain deadline: nothing waits for a socket that cannot drain.
    assert client_waited < 1.0
    assert total < 2.0
