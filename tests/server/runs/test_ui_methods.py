"""What operator UIs call at start-up and for a session target, over real sockets:
sessions.resolve (key, sessionId, label, short id, reference, allowMissing), commands.list,
plugin.approval.list, question.list/get; sessions.resolve stays out of hello-ok."""

from __future__ import annotations

from typing import Any

import trio

from tests.helpers import RawClient, RunningGateway
from tests.server.nodes.support import operator_client

ADMIN = ["operator.admin"]
UUID_A = "0123abcd-0000-4000-8000-00000000000a"
UUID_B = "0123abcd-0000-4000-8000-00000000000b"


async def resolve(client: RawClient, **params: Any) -> dict[str, Any]:
    return await client.call("sessions.resolve", params)


async def test_sessions_resolve(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, ["operator.read"]) as reader,
        ):
            assert "sessions.resolve" not in (op.hello or {})["features"]["methods"]
            work = await op.call("sessions.patch", {"key": "Work", "label": "Work things"})
            sid = work["payload"]["entry"]["sessionId"]
            await op.call("sessions.patch", {"key": f"tui-{UUID_A}", "label": "Alpha plan"})
            await op.call("sessions.patch", {"key": f"tui-{UUID_B}", "label": "Beta plan"})

            ok = {"ok": True, "key": "agent:main:work", "agentId": "main"}
            assert (await resolve(reader, key="work"))["payload"] == ok
            assert (await resolve(reader, key="agent:main:WORK"))["payload"] == ok
            assert (await resolve(reader, sessionId=sid))["payload"] == ok
            assert (await resolve(reader, label="Work things"))["payload"] == ok

            alpha = {"ok": True, "key": f"agent:main:tui-{UUID_A}", "agentId": "main"}
            short = (await resolve(reader, shortId="0123ABCD0000"))["payload"]
            assert short["ok"] is False
            assert sorted(short["candidates"], key=lambda c: str(c["key"])) == [
                {"key": f"agent:main:tui-{UUID_A}", "agentId": "main", "displayName": "Alpha plan"},
                {"key": f"agent:main:tui-{UUID_B}", "agentId": "main", "displayName": "Beta plan"},
            ]
            narrowed = await resolve(reader, shortId="0123abcd", slugHint="alpha-plan")
            assert narrowed["payload"] == {**alpha, "displayName": "Alpha plan"}
            ref = await resolve(reader, reference={"key": "gone", "slug": "alpha-plan"})
            assert ref["payload"] == {**alpha, "displayName": "Alpha plan"}
            exact = await resolve(reader, reference={"key": "work"})
            assert exact["payload"] == {**ok, "displayName": "Work things"}

            missing = await resolve(reader, key="nope")
            assert missing["error"]["message"] == "No session found: nope"
            assert (await resolve(reader, key="nope", allowMissing=True))["payload"] == {
                "ok": False
            }
            spawned = await resolve(reader, key="work", spawnedBy="agent:main:main")
            assert spawned["error"]["message"] == "No session found: work"
            for params, message in (
                ({}, "Either key, sessionId, label, shortId, or reference is required"),
                (
                    {"key": "a", "label": "b"},
                    "Provide either key, sessionId, label, shortId, or reference (not multiple)",
                ),
                ({"slugHint": "x", "key": "a"}, "slugHint requires shortId"),
                ({"shortId": "xyz"}, "shortId must be 8-32 hexadecimal characters"),
                ({"key": "agent:main"}, 'malformed session key "agent:main"'),
                (
                    {"key": "a", "bogus": 1},
                    "invalid sessions.resolve params: at root: unexpected property 'bogus'",
                ),
            ):
                err = (await resolve(reader, **params))["error"]
                assert (err["code"], err["message"]) == ("INVALID_REQUEST", message), params
            dup = await op.call("sessions.patch", {"key": "other", "label": "Work things"})
            assert dup["ok"]
            twice = await resolve(reader, label="Work things")
            assert twice["error"]["message"].startswith("Multiple sessions found with label")


async def test_startup_lists_of_operator_uis(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, ["operator.read"]) as reader,
        ):
            listed = await reader.call(
                "commands.list", {"agentId": "main", "scope": "text", "includeArgs": False}
            )
            assert listed["payload"] == {"commands": []}
            unknown = await reader.call("commands.list", {"agentId": "ghost"})
            assert unknown["error"]["message"] == 'unknown agent id "ghost"'
            no_session = await reader.call("commands.list", {"sessionKey": "nope"})
            assert no_session["error"]["message"] == "Session not found."
            bad = await reader.call("commands.list", {"scope": "all"})
            assert bad["error"]["code"] == "INVALID_REQUEST"

            assert (await op.call("plugin.approval.list", {}))["payload"] == []
            assert (await op.call("question.list", {}))["payload"] == {"questions": []}
            gone = (await op.call("question.get", {"id": "q1"}))["error"]
            assert gone["message"] == "question 'q1' was not found"
            assert gone["details"] == {"reason": "QUESTION_NOT_FOUND"}
            denied = await reader.call("question.list", {})
            assert denied["error"]["details"]["missingScope"] == "operator.questions"
            denied = await reader.call("plugin.approval.list", {})
            assert denied["error"]["details"]["missingScope"] == "operator.approvals"
