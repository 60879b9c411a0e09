"""System events, wake and heartbeats with a real SDK agent node (and a bridge for the
heartbeat's delivery): a system event with wake "now" runs a main-session turn that sees the
text; the heartbeat cadence runs under the autojump clock; an acknowledgment is not
delivered, an alert is, to the last channel route; set-heartbeats stops the cadence."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from openclaw_gateway.client.agent import Turn
from openclaw_gateway.server.mainsession.heartbeat_rules import DEFAULT_PROMPT, classify_reply
from tests.helpers import RunningGateway, start_gateway
from tests.server.channels.support import Inbox, bridge
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent

ADMIN = ["operator.admin"]
_started: list[RunningGateway] = []


@pytest.fixture(autouse=True)
def _close_logs() -> Iterator[None]:
    yield
    while _started:
        _started.pop().settings.logger.close()


async def _gateway(nursery: trio.Nursery, tmp_path: Path, **config: Any) -> RunningGateway:
    gw = await start_gateway(
        nursery, tmp_path, raw_config=config, agents_config=config.get("agents")
    )
    _started.append(gw)
    return gw


def freeze(clock: trio.testing.MockClock) -> None:
    """Stop virtual time before the clients close: a jump while a close handshake waits
    would fire the server's keepalive ping into a closing socket (trio-websocket then fails
    to send the pong)."""
    clock.autojump_threshold = math.inf


class Scripted:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.turns: list[Turn] = []
        self.seen = trio.Event()

    async def __call__(self, turn: Turn) -> str:
        self.turns.append(turn)
        self.seen.set()
        return self.answers.pop(0) if self.answers else "NO_REPLY"


def test_reply_rules() -> None:
    assert classify_reply("  ") == ("ok-empty", "")
    assert classify_reply("NO_REPLY") == ("ok-token", "")
    assert classify_reply("HEARTBEAT_OK all quiet") == ("ok-token", "")
    assert classify_reply("all quiet HEARTBEAT_OK") == ("ok-token", "")
    long = "x" * 301
    assert classify_reply(f"HEARTBEAT_OK {long}") == ("sent", f"HEARTBEAT_OK {long}")
    assert classify_reply("a HEARTBEAT_OK b") == ("sent", "a HEARTBEAT_OK b")


async def test_system_event_with_wake_now_runs_a_turn_that_sees_it(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    gw = await _gateway(nursery, tmp_path, agents={"defaults": {"heartbeat": {"every": "0m"}}})
    agent = Scripted("noted")
    with trio.fail_after(20):
        async with (
            operator_client(gw.port, ADMIN) as op,
            approved_agent(gw.url, op, tmp_path / "agent", agent),
        ):
            res = await op.call("system-event", {"text": "deploy finished", "wake": True})
            assert res["ok"], res
            beat = await op.next_event("heartbeat")
            history = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
            status = (await op.call("status"))["payload"]
            last = (await op.call("last-heartbeat"))["payload"]
    turn = agent.turns[0]
    assert turn.session_key == "agent:main:main"
    lines = turn.message.split("\n")
    assert lines[0].startswith("System: [") and lines[0].endswith("] deploy finished")
    assert lines[-1] == DEFAULT_PROMPT
    first = history["messages"][0]
    assert (first["role"], first["content"][0]["text"]) == ("system", "deploy finished")
    assert [m["role"] for m in history["messages"]] == ["system", "user", "assistant"]
    # "noted" is an alert, but there is no route to deliver it to (no owner, no channel yet).
    assert beat["payload"]["status"] == "skipped"
    assert beat["payload"]["reason"] == "no-route"
    assert beat["payload"]["preview"] == "noted"
    assert last == beat["payload"]
    assert status["queuedSystemEvents"] == []  # the woken turn consumed it


async def test_wake_next_heartbeat_waits_for_the_beat(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    gw = await _gateway(nursery, tmp_path, agents={"defaults": {"heartbeat": {"every": "10m"}}})
    agent = Scripted("HEARTBEAT_OK")
    async with (
        operator_client(gw.port, ADMIN) as op,
        approved_agent(gw.url, op, tmp_path / "agent", agent),
    ):
        start = trio.current_time()
        res = await op.call("wake", {"mode": "next-heartbeat", "text": "cache warmed"})
        assert res["payload"] == {"ok": True}
        with trio.fail_after(700):
            beat = await op.next_event("heartbeat")
        assert trio.current_time() - start >= 590
        assert "cache warmed" in agent.turns[0].message
        assert beat["payload"]["status"] == "ok-token"
        freeze(autojump_clock)


async def test_heartbeat_cadence_delivers_alerts_to_the_last_route_only(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = {"agents": {"defaults": {"heartbeat": {"every": "5m", "target": "last"}}}}
    gw = await _gateway(nursery, tmp_path, **config)
    agent = Scripted("hello back", "HEARTBEAT_OK", "Disk almost full on /var")
    inbox = Inbox()
    async with operator_client(gw.port, ADMIN) as op:
        async with (
            approved_agent(gw.url, op, tmp_path / "agent", agent),
            bridge(gw.url, tmp_path / "bridge", ("chat",), inbox, op) as b,
        ):
            # The main session's route (dmScope main).
            await b.message("chat", "ops-lead", "hi")
            assert (await inbox.next()).text == "hello back"
            with trio.fail_after(400):
                first = await op.next_event("heartbeat")
            assert first["payload"]["status"] == "ok-token"
            with trio.fail_after(400):
                second = await op.next_event("heartbeat")
                got = await inbox.next()
            assert second["payload"]["status"] == "sent"
            assert second["payload"]["channel"] == "last"
            assert (got.channel, got.to, got.text) == (
                "chat",
                "ops-lead",
                "Disk almost full on /var",
            )
            assert [t.message for t in agent.turns[1:]] == [DEFAULT_PROMPT, DEFAULT_PROMPT]
            assert len(inbox.sent) == 2  # the acknowledgment was not delivered
            off = await op.call("set-heartbeats", {"enabled": False})
            assert off["payload"] == {"ok": True, "enabled": False}
            freeze(autojump_clock)
        autojump_clock.autojump_threshold = 0
        health = (await op.call("health", {"probe": True}))["payload"]
        assert health["heartbeatSeconds"] == 0
        late: list[Any] = []
        with trio.move_on_after(400):  # more than one period: no beat (not even a skipped one)
            late.append(await op.next_event("heartbeat"))
        assert late == []
        freeze(autojump_clock)


async def test_a_wake_without_an_agent_node_is_skipped_and_the_event_waits(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    gw = await _gateway(nursery, tmp_path)
    with trio.fail_after(20):
        async with operator_client(gw.port, ADMIN) as op:
            res = await op.call("wake", {"mode": "now", "text": "anyone there?"})
            assert res["payload"] == {"ok": True}
            beat = (await op.next_event("heartbeat"))["payload"]
            status = (await op.call("status"))["payload"]
    assert (beat["status"], beat["reason"]) == ("skipped", "agent-unavailable")
    assert beat["message"].startswith('no agent node is connected for agent "main"')
    assert status["queuedSystemEvents"] == ["anyone there?"]
