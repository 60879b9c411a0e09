"""chat.history over real sockets: the full answer's deltaCursor, then deltas after it, and
the resets the official answers (another session, a reset transcript, a garbled cursor,
more than the delta bounds)."""

from __future__ import annotations

import base64
import json

import pytest
import trio

from openclaw_gateway.server.runs import history_cursor as C
from tests.helpers import RawClient, RunningGateway
from tests.server.nodes.support import operator_client

ADMIN = ["operator.admin"]


async def inject(op: RawClient, key: str, text: str) -> None:
    assert (await op.call("chat.inject", {"sessionKey": key, "message": text}))["ok"]


def texts(messages: list[dict[str, object]]) -> list[object]:
    return [m["content"][0]["text"] for m in messages]  # type: ignore[index]


async def test_cursor_pages_only_newer_messages(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with operator_client(gateway.port, ADMIN) as op:
            await op.call("sessions.patch", {"key": "work", "label": "w"})
            await op.call("sessions.patch", {"key": "other", "label": "o"})
            for text in ("one", "two"):
                await inject(op, "work", text)
            full = (await op.call("chat.history", {"sessionKey": "work"}))["payload"]
            assert texts(full["messages"]) == ["one", "two"]
            cursor = full["deltaCursor"]
            decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            assert decoded == {
                "agentId": "main",
                "generation": "1",
                "lastSeq": 2,
                "sessionId": full["sessionId"],
                "version": 1,
            }

            empty = await op.call("chat.history", {"sessionKey": "work", "cursor": cursor})
            assert empty["payload"]["kind"] == "delta"
            assert empty["payload"]["messages"] == []
            assert empty["payload"]["deltaCursor"] == cursor
            assert empty["payload"]["sessionInfo"]["key"] == "agent:main:work"

            await inject(op, "work", "three")
            delta = await op.call("chat.history", {"sessionKey": "work", "cursor": cursor})
            assert texts(delta["payload"]["messages"]) == ["three"]
            assert delta["payload"]["messages"][0]["__openclaw"]["seq"] == 3
            nxt = delta["payload"]["deltaCursor"]
            assert nxt != cursor
            again = await op.call("chat.history", {"sessionKey": "work", "cursor": nxt})
            assert again["payload"]["messages"] == []

            reset = {"kind": "reset"}
            for key, bad in (("other", cursor), ("work", "garbage!"), ("work", "")):
                res = await op.call("chat.history", {"sessionKey": key, "cursor": bad})
                assert res["payload"] == reset, (key, bad)
            ahead = C.encode(C.Cursor("main", full["sessionId"], 99))
            res = await op.call("chat.history", {"sessionKey": "work", "cursor": ahead})
            assert res["payload"] == reset
            both = await op.call("chat.history", {"sessionKey": "work", "cursor": nxt, "offset": 1})
            assert both["error"]["message"] == "cursor cannot be used with offset or messageId"

            await op.call("sessions.reset", {"key": "work"})
            res = await op.call("chat.history", {"sessionKey": "work", "cursor": nxt})
            assert res["payload"] == reset  # a reset transcript has a new sessionId


async def test_cursor_too_far_behind_resets(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "DELTA_MAX_MESSAGES", 3)
    with trio.fail_after(10):
        async with operator_client(gateway.port, ADMIN) as op:
            await op.call("sessions.patch", {"key": "work", "label": "w"})
            cursor = (await op.call("chat.history", {"sessionKey": "work"}))["payload"][
                "deltaCursor"
            ]
            for i in range(3):
                await inject(op, "work", f"m{i}")
            res = await op.call("chat.history", {"sessionKey": "work", "cursor": cursor})
            assert texts(res["payload"]["messages"]) == ["m0", "m1", "m2"]
            await inject(op, "work", "m3")
            res = await op.call("chat.history", {"sessionKey": "work", "cursor": cursor})
            assert res["payload"] == {"kind": "reset"}
            latest = (await op.call("chat.history", {"sessionKey": "work"}))["payload"]
            await inject(op, "work", "x" * 2000)
            params = {"sessionKey": "work", "cursor": latest["deltaCursor"]}
            fits = await op.call("chat.history", params)
            assert texts(fits["payload"]["messages"]) == ["x" * 2000]
            small = await op.call("chat.history", {**params, "maxBytes": 1024})
            assert small["payload"] == {"kind": "reset"}


async def test_chat_startup_by_key_and_by_short_id(gateway: RunningGateway) -> None:
    """The Control UI's chat.startup: chat.history for a key, or a URL short id resolved."""
    with trio.fail_after(10):
        async with operator_client(gateway.port, ADMIN) as op:
            key = "dashboard:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
            await op.call("sessions.patch", {"key": key, "label": "d"})
            await inject(op, key, "hello")
            by_key = (await op.call("chat.startup", {"sessionKey": key, "limit": 80}))["payload"]
            assert texts(by_key["messages"]) == ["hello"]
            assert by_key["sessionKey"] == f"agent:main:{key}"
            found = await op.call("chat.startup", {"shortId": "0f1e2d3c", "agentId": "main"})
            assert found["payload"]["resolution"]["ok"] is True
            assert found["payload"]["resolution"]["key"] == f"agent:main:{key}"
            assert texts(found["payload"]["messages"]) == ["hello"]
            missing = await op.call("chat.startup", {"shortId": "deadbeefdead", "agentId": "main"})
            assert missing["payload"] == {"resolution": {"ok": False}}
            bad = await op.call("chat.startup", {"agentId": "main"})
            assert bad["ok"] is False and bad["error"]["code"] == "INVALID_REQUEST"
