"""Bridge -> agent -> bridge over real sockets with real SDK nodes: direct and group messages
in their own sessions, bindings to a second agent, two bridges for two channels, a reply
queued while its bridge is offline and delivered after a gateway restart, channels.status."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from openclaw_gateway.client.agent import Turn
from tests.helpers import RunningGateway, start_gateway
from tests.server.channels.support import Inbox, bridge
from tests.server.mainsession.test_wake_and_heartbeat import freeze
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent

ADMIN = ["operator.admin"]
BOUND = 20
AGENTS = {"list": [{"id": "main", "default": True}, {"id": "ops"}]}


class Echo:
    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.release: trio.Event | None = None

    async def __call__(self, turn: Turn) -> str:
        self.turns.append(turn)
        if self.release is not None:
            await self.release.wait()
        return f"{turn.agent_id} heard: {turn.message}"


_started: list[RunningGateway] = []


@pytest.fixture(autouse=True)
def _close_logs() -> Iterator[None]:
    yield
    while _started:
        _started.pop().settings.logger.close()


async def _gateway(nursery: trio.Nursery, tmp_path: Path, **config: Any) -> RunningGateway:
    raw = {"agents": AGENTS, **config}
    gw = await start_gateway(nursery, tmp_path, agents_config=AGENTS, raw_config=raw)
    _started.append(gw)
    return gw


async def test_direct_and_group_messages_get_their_own_sessions_and_replies(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    gw = await _gateway(nursery, tmp_path, session={"dmScope": "per-channel-peer"})
    echo, inbox = Echo(), Inbox()
    with trio.fail_after(BOUND):
        async with (
            operator_client(gw.port, ADMIN) as op,
            approved_agent(gw.url, op, tmp_path / "agent", echo),
            bridge(gw.url, tmp_path / "bridge", ("chat",), inbox, op) as b,
        ):
            await op.call("sessions.subscribe", {})
            direct = await b.message("chat", "Alice", "hi", message_id="m1")
            assert direct["sessionKey"] == "agent:main:chat:direct:alice"
            got = await inbox.next()
            assert (got.channel, got.to, got.peer_kind, got.reply_to) == (
                "chat",
                "Alice",
                "direct",
                "m1",
            )
            assert got.text == "main heard: hi"
            group = await b.message(
                "chat", "Room-7", "hello all", peer_kind="group", sender="bob", thread_id="t1"
            )
            assert group["sessionKey"] == "agent:main:chat:group:room-7"
            got = await inbox.next()
            assert (got.to, got.peer_kind, got.thread_id) == ("Room-7", "group", "t1")
            assert got.text == "main heard: bob: hello all"
            # Operators saw the channel conversation live.
            changed = await op.next_event("sessions.changed")
            assert changed["payload"]["sessionKey"].startswith("agent:main:chat:")
            final = None
            while final is None:
                ev = await op.next_event("chat")
                if ev["payload"]["state"] == "final":
                    final = ev["payload"]
            assert final["sessionKey"] == "agent:main:chat:direct:alice"
            history = (
                await op.call("chat.history", {"sessionKey": "agent:main:chat:group:room-7"})
            )["payload"]["messages"]
            assert [m["role"] for m in history] == ["user", "assistant"]
            listing = (await op.call("sessions.list", {}))["payload"]["sessions"]
            rows = {r["key"]: r for r in listing}
            assert rows["agent:main:chat:group:room-7"]["lastChannel"] == "chat"
            assert rows["agent:main:chat:group:room-7"]["kind"] == "group"


async def test_bindings_route_to_another_agent_and_two_bridges_serve_two_channels(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    bindings = [
        {"agentId": "ops", "match": {"channel": "pager"}},
        {"agentId": "ops", "match": {"channel": "chat", "peer": {"kind": "direct", "id": "boss"}}},
    ]
    gw = await _gateway(nursery, tmp_path, bindings=bindings)
    echo, chat_inbox, pager_inbox = Echo(), Inbox(), Inbox()
    with trio.fail_after(BOUND):
        async with (
            operator_client(gw.port, ADMIN) as op,
            approved_agent(gw.url, op, tmp_path / "agent", echo),
            bridge(gw.url, tmp_path / "b1", ("chat",), chat_inbox, op) as chat,
            bridge(gw.url, tmp_path / "b2", ("pager",), pager_inbox, op) as pager,
        ):
            a = await chat.message("chat", "carol", "one")
            b = await chat.message("chat", "boss", "two")
            c = await pager.message("pager", "oncall", "three")
            assert a["sessionKey"] == "agent:main:main"  # dmScope main (the default)
            assert b["sessionKey"] == "agent:ops:main"
            assert c["sessionKey"] == "agent:ops:main"
            chat_got = {(await chat_inbox.next()).text for _ in range(2)}
            assert chat_got == {"main heard: one", "ops heard: two"}
            assert (await pager_inbox.next()).text == "ops heard: three"
            assert pager_inbox.sent[0].to == "oncall"
            status = (await op.call("channels.status", {}))["payload"]
            assert status["channelOrder"] == ["chat", "pager"]
            chat_acct = status["channelAccounts"]["chat"][0]
            assert chat_acct["accountId"] == "default"
            assert chat_acct["connected"] is True and chat_acct["name"] == "chat-bridge"
            assert isinstance(chat_acct["lastInboundAt"], int)
            assert isinstance(chat_acct["lastOutboundAt"], int)
            one = await op.call("channels.status", {"channel": "pager"})
            assert list(one["payload"]["channels"]) == ["pager"]
            bad = await op.call("channels.status", {"channel": "nope"})
            assert bad["error"]["message"] == "unknown channel: nope"


async def test_reply_for_an_offline_bridge_waits_and_survives_a_restart(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    echo, inbox = Echo(), Inbox()
    echo.release = trio.Event()
    with trio.fail_after(BOUND):
        async with trio.open_nursery() as first:
            gw = await _gateway(first, tmp_path)
            async with (
                operator_client(gw.port, ADMIN) as op,
                approved_agent(gw.url, op, tmp_path / "agent", echo),
            ):
                async with bridge(gw.url, tmp_path / "bridge", ("chat",), inbox, op) as b:
                    await b.message("chat", "dave", "are you there?")
                # The bridge is gone; now the agent answers.
                echo.release.set()
                while True:
                    ev = await op.next_event("chat")
                    if ev["payload"]["state"] == "final":
                        break
                await op.call("health")
            db = sqlite3.connect(tmp_path / "state" / "state" / "gateway.sqlite")
            try:
                rows = db.execute("SELECT status FROM deliveries").fetchall()
            finally:
                db.close()
            assert rows == [("pending",)]
            gw.shutdown.set()
        assert inbox.sent == []
        gw2 = await _gateway(nursery, tmp_path)
        async with bridge(gw2.url, tmp_path / "bridge", ("chat",), inbox):
            got = await inbox.next()
    assert (got.to, got.text) == ("dave", "main heard: are you there?")


async def test_a_failing_bridge_is_retried_with_backoff(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """A send that raises is retried (BACKOFF_MS) until it succeeds; the failure is visible in
    channels.status meanwhile and cleared after."""
    gw = await _gateway(nursery, tmp_path)
    echo = Echo()
    attempts: list[str] = []

    class Flaky(Inbox):
        def __call__(self, msg: Any) -> None:
            attempts.append(msg.text)
            if len(attempts) < 3:
                raise RuntimeError("chat service down")
            super().__call__(msg)

    inbox = Flaky()
    async with (
        operator_client(gw.port, ADMIN) as op,
        approved_agent(gw.url, op, tmp_path / "agent", echo),
        bridge(gw.url, tmp_path / "bridge", ("chat",), inbox, op) as b,
    ):
        await b.message("chat", "erin", "ping", timeout=3600)  # virtual time: see heartbeats
        with trio.fail_after(60):
            got = await inbox.next()
        assert got.text == "main heard: ping"
        assert len(attempts) == 3
        # The bridge's result and this operator's call race on two sockets: ask until the
        # success is recorded (bounded). A fresh reader: `op` read nothing during the
        # virtual minute, and the gateway may have dropped it as a slow consumer.
        async with operator_client(gw.port, ADMIN) as reader:
            for _ in range(100):
                found = await reader.call("channels.status", {})
                account = found["payload"]["channelAccounts"]
                if "lastOutboundAt" in account["chat"][0]:
                    break
                await trio.sleep(0.05)
            freeze(autojump_clock)
        assert "lastError" not in account["chat"][0]
