"""Conversations over real sockets with a real SDK agent node: streaming to two operators,
history in context, queueing, abort, a node lost mid-run, idempotent retries, `agent`."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.client.agent import Turn
from openclaw_gateway.state.sessions import SessionBook
from tests.helpers import RunningGateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent, chat_until_terminal, send_params

ADMIN = ["operator.admin"]
RW = ["operator.read", "operator.write"]


class Script:
    """The agent's behaviour: streams the words of its answer; `hang` stops after one chunk."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.started = trio.Event()
        self.release = trio.Event()

    async def __call__(self, turn: Turn) -> AsyncIterator[str]:
        self.turns.append(turn)
        if turn.message.startswith("hang"):
            yield "partial "
            self.started.set()
            await trio.sleep_forever()
        if turn.message.startswith("wait"):
            self.started.set()
            await self.release.wait()
        for word in f"you said: {turn.message}".split(" "):
            yield word + " "


async def test_streamed_reply_reaches_two_operators_and_history_is_sent(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    script = Script()
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, RW) as other,
            approved_agent(gateway.url, op, tmp_path / "agent", script),
        ):
            ack = await other.call("chat.send", send_params("hello there", "run-1"))
            assert ack["payload"] == {"runId": "run-1", "status": "started"}
            for client in (op, other):
                events = await chat_until_terminal(client, "run-1")
                assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
                deltas = [e for e in events if e["state"] == "delta"]
                # "you " at once, the words streamed within the next 75 ms held and sent
                # together (paced as the official); each deltaText is what was added.
                assert 1 <= len(deltas) <= 4 and deltas[0]["deltaText"] == "you "
                assert "".join(d["deltaText"] for d in deltas) == "you said: hello there "
                assert not any(d.get("replace") for d in deltas)
                assert deltas[-1]["message"]["content"][0]["text"] == "you said: hello there "
                final = events[-1]
                assert final["state"] == "final"
                assert final["sessionKey"] == "agent:main:main"
                assert final["message"]["content"] == [
                    {"type": "text", "text": "you said: hello there "}
                ]
            lifecycle = [await op.next_event("agent") for _ in range(len(deltas) + 2)]
            streams = [
                (e["payload"]["stream"], e["payload"]["data"].get("phase")) for e in lifecycle
            ]
            assert streams[0] == ("lifecycle", "start") and streams[-1] == ("lifecycle", "end")
            assistant = [e["payload"]["data"] for e in lifecycle[1:-1]]
            assert "".join(a["delta"] for a in assistant) == "you said: hello there "
            assert assistant[-1]["text"] == "you said: hello there "
            assert script.turns[0].history == []
            assert script.turns[0].session_key == "agent:main:main"

            assert (await other.call("chat.send", send_params("again", "run-2")))["ok"]
            await chat_until_terminal(other, "run-2")
            history = script.turns[1].history
            assert [(h["role"], h["text"]) for h in history] == [
                ("user", "hello there"),
                ("assistant", "you said: hello there "),
            ]
            got = (await other.call("chat.history", {"sessionKey": "main"}))["payload"]
            texts = [(m["role"], m["content"][0]["text"]) for m in got["messages"]]
            assert texts == [
                ("user", "hello there"),
                ("assistant", "you said: hello there "),
                ("user", "again"),
                ("assistant", "you said: again "),
            ]
            assert got["sessionInfo"]["key"] == "agent:main:main"
            status = (await op.call("status"))["payload"]
            assert status["sessions"]["count"] == 1


async def test_sends_queue_and_retries_are_idempotent(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    script = Script()
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", script),
        ):
            assert (await op.call("chat.send", send_params("wait one", "q-1")))["ok"]
            await script.started.wait()
            second = await op.call("chat.send", send_params("two", "q-2"))
            assert second["payload"]["status"] == "started"
            again = await op.call("chat.send", send_params("wait one", "q-1"))
            assert again["payload"] == {"runId": "q-1", "status": "in_flight"}
            assert len(script.turns) == 1  # the second waits for the first
            script.release.set()
            finals = []
            while len(finals) < 2:
                ev = (await op.next_event("chat"))["payload"]
                if ev["state"] == "final":
                    finals.append(ev["runId"])
            assert finals == ["q-1", "q-2"]
            done = await op.call("chat.send", send_params("wait one", "q-1"))
            assert done["payload"] == {"runId": "q-1", "status": "ok"}
            assert [t.message for t in script.turns] == ["wait one", "two"]
            waited = (await op.call("agent.wait", {"runId": "q-2", "timeoutMs": 1000}))["payload"]
            assert waited["status"] == "ok" and waited["endedAt"] >= waited["startedAt"]


async def test_abort_cancels_the_turn_and_keeps_the_partial_text(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    script = Script()
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", script),
        ):
            assert (await op.call("chat.send", send_params("hang on", "ab-1")))["ok"]
            await script.started.wait()
            delta = (await op.next_event("chat"))["payload"]
            assert delta["deltaText"] == "partial "
            res = await op.call("chat.abort", {"sessionKey": "main"})
            assert res["payload"] == {"ok": True, "aborted": True, "runIds": ["ab-1"]}
            events = await chat_until_terminal(op, "ab-1")
            assert events[-1]["state"] == "aborted"
            assert events[-1]["message"]["content"][0]["text"] == "partial "
            with trio.fail_after(5):
                await script.turns[0].aborted.wait()  # the node was told (node.invoke.cancel)
            got = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
            last = got["messages"][-1]
            assert (last["role"], last["partial"], last["stopReason"]) == (
                "assistant",
                True,
                "aborted",
            )
            nothing = await op.call("chat.abort", {"sessionKey": "main"})
            assert nothing["payload"] == {"ok": True, "aborted": False, "runIds": []}


async def test_node_lost_mid_run_ends_the_run_in_error(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    script = Script()
    with trio.fail_after(15):
        async with operator_client(gateway.port, ADMIN) as op:
            async with approved_agent(gateway.url, op, tmp_path / "agent", script):
                assert (await op.call("chat.send", send_params("hang", "lost-1")))["ok"]
                await script.started.wait()
                await op.next_event("chat")  # the first delta arrived; now the node goes away
            events = await chat_until_terminal(op, "lost-1")
            assert events[-1]["state"] == "error"
            assert events[-1]["errorMessage"] == "the agent node disconnected during the run"
            assert events[-1]["message"]["content"][0]["text"] == "partial "
            again = await op.call("chat.send", send_params("hi", "lost-2"))
            assert again["error"]["code"] == "UNAVAILABLE"
            assert 'no agent node is connected for agent "main"' in again["error"]["message"]
            retry = await op.call("chat.send", send_params("hang", "lost-1"))
            assert retry["payload"] == {"runId": "lost-1", "status": "error"}


async def test_agent_method_answers_accepted_then_final(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    script = Script()
    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", script),
        ):
            params: dict[str, Any] = {
                "message": "status?",
                "agentId": "main",
                "idempotencyKey": "ag-1",
                "deliver": False,
            }
            await op.send({"type": "req", "id": "a1", "method": "agent", "params": params})
            frames = []
            while len(frames) < 2:
                got = await op.recv()
                if got.get("type") == "res" and got["id"] == "a1":
                    frames.append(got["payload"])
            assert frames[0]["status"] == "accepted"
            assert frames[0]["sessionKey"] == "agent:main:main"
            assert frames[1]["status"] == "ok"
            assert frames[1]["result"]["payloads"] == [{"text": "you said: status? "}]
            listed = (await op.call("agents.list"))["payload"]
            # No model in config; the connected agent node (no `model:*` cap) serves it.
            served = [{"id": "main", "model": {"primary": "agent-node"}}]
            assert listed["defaultId"] == "main" and listed["agents"] == served
            ident = (await op.call("agent.identity.get", {}))["payload"]
            assert ident == {"agentId": "main", "name": "test-agent", "nameSource": "agent"}


async def test_bad_input_changes_nothing(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with operator_client(gateway.port, ADMIN) as op:
            nul = await op.call("chat.send", send_params("a\x00b", "bad-1"))
            assert nul["error"]["message"] == "message must not contain null bytes"
            other = await op.call("chat.send", send_params("x", "bad-2", "agent:nobody:main"))
            assert other["error"]["message"] == 'unknown agent id "nobody"'
            extra = await op.call("chat.send", {**send_params("x", "bad-3"), "bogus": 1})
            assert extra["error"]["code"] == "INVALID_REQUEST"
            listed = (await op.call("sessions.list", {}))["payload"]
            assert listed["sessions"] == [] and listed["count"] == 0


async def test_a_message_the_database_refuses_is_not_acknowledged_nor_kept(
    gateway: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run journal's commit fails (disk error): chat.send answers UNAVAILABLE, the turn
    that had started meanwhile ends in error and stores nothing, and the same
    idempotencyKey can be sent again once the database works."""
    script = Script()

    def refuse(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with trio.fail_after(15):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", script),
        ):
            with monkeypatch.context() as patched:
                patched.setattr(SessionBook, "begin_run", refuse)
                res = await op.call("chat.send", send_params("lost", "db-1"))
            assert res["error"]["code"] == "UNAVAILABLE", res
            assert res["error"]["message"] == "could not store the message: disk I/O error"
            assert res["error"]["retryable"] is True
            events = await chat_until_terminal(op, "db-1")
            assert events[-1]["state"] == "error"
            history = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
            assert history["messages"] == []
            again = await op.call("chat.send", send_params("kept", "db-1"))
            assert again["payload"] == {"runId": "db-1", "status": "started"}
            final = (await chat_until_terminal(op, "db-1"))[-1]
            assert final["state"] == "final"
            history = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
            assert [m["content"][0]["text"] for m in history["messages"]] == [
                "kept",
                "you said: kept ",
            ]
