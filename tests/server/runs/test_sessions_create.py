"""sessions.create over real sockets (the official TUI's `/new`): a fresh entry, adoption of an
existing key, the main session reset in place, a first turn answered by a real SDK agent node,
and refusals that change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import trio

from openclaw_gateway.client.agent import Turn
from tests.helpers import RunningGateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent, chat_until_terminal

ADMIN = ["operator.admin"]
RW = ["operator.read", "operator.write"]


async def test_a_new_key_becomes_a_session_and_is_announced(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with operator_client(gateway.port, RW) as op:
            await op.call("sessions.subscribe", {})
            res = await op.call(
                "sessions.create",
                {"key": "tui-1", "agentId": "main", "label": "scratch", "thinkingLevel": "Low"},
            )
            assert res["ok"], res
            body = res["payload"]
            assert body["key"] == "agent:main:tui-1"
            assert body["runStarted"] is False
            assert body["entry"]["label"] == "scratch"
            assert body["entry"]["thinkingLevel"] == "low"
            assert set(body["resolved"]) == {"modelProvider", "model"}
            changed = await op.next_event("sessions.changed")
            assert changed["payload"]["sessionKey"] == "agent:main:tui-1"
            assert changed["payload"]["reason"] == "create"
            listed = await op.call("sessions.list", {})
            assert "agent:main:tui-1" in [s["key"] for s in listed["payload"]["sessions"]]

            again = await op.call("sessions.create", {"key": "tui-1", "label": "other"})
            assert again["payload"]["sessionId"] == body["sessionId"]  # adopted, not restamped
            assert again["payload"]["entry"]["label"] == "scratch"

            generated = await op.call("sessions.create", {})
            assert generated["payload"]["key"].startswith("agent:main:dashboard:")


async def test_the_main_session_is_reset_in_place(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with operator_client(gateway.port, ADMIN) as op:
            await op.call("sessions.patch", {"key": "main", "label": "home"})
            injected = await op.call("chat.inject", {"sessionKey": "main", "message": "old"})
            assert injected["ok"], injected
            before = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
            res = (await op.call("sessions.create", {"key": "main"}))["payload"]
            assert res["key"] == "agent:main:main"
            assert res["sessionId"] != before["sessionId"]
            after = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
            assert after["messages"] == []
            assert res["entry"]["label"] == "home"  # reset in place keeps the settings


async def test_a_first_message_runs_a_turn_on_the_agent_node(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    async def echo(turn: Turn) -> AsyncIterator[str]:
        yield f"echo {turn.message}"

    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", echo),
        ):
            res = await op.call(
                "sessions.create", {"key": "fresh", "message": "hi", "idempotencyKey": "r-1"}
            )
            body = res["payload"]
            assert body["runStarted"] is True
            assert body["runId"] == "r-1"
            assert body["status"] == "started"
            events = await chat_until_terminal(op, "r-1")
            assert events[-1]["state"] == "final"
            assert events[-1]["sessionKey"] == "agent:main:fresh"


async def test_without_an_agent_node_the_entry_is_created_and_the_run_error_reported(
    gateway: RunningGateway,
) -> None:
    with trio.fail_after(10):
        async with operator_client(gateway.port, RW) as op:
            res = (await op.call("sessions.create", {"key": "lonely", "message": "hi"}))["payload"]
            assert res["key"] == "agent:main:lonely"
            if res["runStarted"]:
                events = await chat_until_terminal(op, res["runId"])
                assert events[-1]["state"] == "error"
            else:
                assert res["runError"]["message"]


async def test_unsupported_and_bad_fields_are_refused_and_change_nothing(
    gateway: RunningGateway,
) -> None:
    with trio.fail_after(10):
        async with operator_client(gateway.port, RW) as op:
            for params, needle in (
                ({"key": "w", "worktree": True}, "worktree not supported"),
                ({"key": "w", "attachments": []}, "attachments not supported"),
                ({"key": "w", "thinkingLevel": "loud"}, 'invalid thinkingLevel "loud"'),
                ({"key": "w", "succeedsParent": True}, "requires parentSessionKey"),
                ({"key": "w", "parentSessionKey": "nope"}, "parent session not found"),
                ({"key": "w", "bogus": 1}, "invalid sessions.create params"),
            ):
                res = await op.call("sessions.create", params)
                assert res["error"]["code"] == "INVALID_REQUEST", params
                assert needle in res["error"]["message"], res
            listed = await op.call("sessions.list", {})
            assert "agent:main:w" not in [s["key"] for s in listed["payload"]["sessions"]]
