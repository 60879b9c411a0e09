"""sessions.* over real sockets: subscriptions and their events, patch, reset, delete,
inject; scope gating of the conversation events."""

from __future__ import annotations

import trio

from tests.helpers import RunningGateway, raw_client
from tests.server.nodes.support import operator_client

ADMIN = ["operator.admin"]


async def test_subscriptions_patch_reset_delete(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, ["operator.read"]) as reader,
        ):
            sub = await reader.call("sessions.subscribe", {})
            assert sub["payload"] == {"subscribed": True}
            msub = await reader.call("sessions.messages.subscribe", {"key": "work"})
            assert msub["payload"] == {"subscribed": True, "key": "agent:main:work"}

            patched = await op.call("sessions.patch", {"key": "work", "label": "Work"})
            assert patched["payload"]["entry"]["label"] == "Work"
            changed = (await reader.next_event("sessions.changed"))["payload"]
            assert (changed["sessionKey"], changed["reason"]) == ("agent:main:work", "patch")

            bad = await op.call("sessions.patch", {"key": "work", "thinkingLevel": "loud"})
            assert bad["error"]["code"] == "INVALID_REQUEST"
            denied = await reader.call("sessions.patch", {"key": "work", "label": "x"})
            assert denied["error"]["details"]["missingScope"] == "operator.write"

            injected = await op.call("chat.inject", {"sessionKey": "work", "message": "note"})
            assert injected["ok"], injected
            message = (await reader.next_event("session.message"))["payload"]
            assert message["message"]["content"][0]["text"] == "note"
            assert message["messageSeq"] == 1
            chat = (await reader.next_event("chat"))["payload"]
            assert chat["state"] == "final" and chat["runId"].startswith("inject-")

            listed = await reader.call(
                "sessions.list", {"includeLastMessage": True, "includeDerivedTitles": True}
            )
            (row,) = listed["payload"]["sessions"]
            assert (row["key"], row["label"], row["lastMessagePreview"]) == (
                "agent:main:work",
                "Work",
                "note",
            )
            old_id = row["sessionId"]
            reset = await op.call("sessions.reset", {"key": "work", "reason": "new"})
            assert reset["payload"]["entry"]["sessionId"] != old_id
            history = (await op.call("chat.history", {"sessionKey": "work"}))["payload"]
            assert history["messages"] == []
            main = await op.call("sessions.delete", {"key": "main"})
            assert main["error"]["message"] == "Cannot delete the main session (agent:main:main)."
            gone = await op.call("sessions.delete", {"key": "work"})
            assert gone["payload"] == {"ok": True, "key": "agent:main:work", "deleted": True}
            assert (await reader.call("sessions.list", {}))["payload"]["sessions"] == []
            out = await reader.call("sessions.messages.unsubscribe", {"key": "work"})
            assert out["payload"] == {"subscribed": False, "key": "agent:main:work"}


async def test_conversation_events_need_operator_read(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, ["operator.pairing"]) as pairing_only,
        ):
            denied = await pairing_only.call("sessions.subscribe", {})
            assert denied["error"]["details"]["missingScope"] == "operator.read"
            await op.call("sessions.patch", {"key": "k", "label": "L"})
            assert (await op.call("chat.inject", {"sessionKey": "k", "message": "m"}))["ok"]
            await op.next_event("chat")
            # The pairing-only socket got neither `chat` nor anything else meanwhile.
            ping = await pairing_only.call("health")
            assert ping["ok"]
            assert [e["event"] for e in pairing_only.events if e["event"] != "tick"] == []


async def test_session_scoped_events_cap_limits_chat_to_subscribed_sessions(
    gateway: RunningGateway,
) -> None:
    """Official server-broadcast.ts: a client with the `session-scoped-events` cap gets
    `chat`/`agent` only for sessions it subscribed to; other readers get every session's."""
    with trio.fail_after(10):
        async with (
            operator_client(gateway.port, ADMIN) as op,
            operator_client(gateway.port, ["operator.read"]) as plain,
            raw_client(gateway.port) as scoped,
        ):
            hello = await scoped.connect(scopes=["operator.read"], caps=["session-scoped-events"])
            assert hello["ok"], hello
            for key in ("a", "b"):
                await op.call("sessions.patch", {"key": key, "label": key})
            sub = await scoped.call("sessions.messages.subscribe", {"key": "A"})
            assert sub["payload"]["key"] == "agent:main:a"
            for key in ("b", "a", "b"):
                assert (await op.call("chat.inject", {"sessionKey": key, "message": key}))["ok"]
            plain_keys = [(await plain.next_event("chat"))["payload"]["sessionKey"] for _ in "bab"]
            assert plain_keys == ["agent:main:b", "agent:main:a", "agent:main:b"]
            got = await scoped.next_event("chat")
            assert got["payload"]["sessionKey"] == "agent:main:a"
            await scoped.call("sessions.messages.unsubscribe", {"key": "a"})
            assert (await op.call("chat.inject", {"sessionKey": "a", "message": "late"}))["ok"]
            await plain.next_event("chat")
            assert (await scoped.call("health"))["ok"]
            assert [e for e in scoped.events if e["event"] == "chat"] == []
