"""Every registered method, and the dispatcher's post-handshake rules, over real sockets
(protocol.md §1.6, §5, §6.1–6.6, §6.9, §6.10)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import trio

from tests.helpers import TOKEN, RunningGateway
from tests.server.integration.support import (
    ADMIN_SCOPES,
    NODE_CONNECT,
    read_until_closed,
    ws_connected,
)

BOUND = 5

PROBE_CLIENT = {"id": "openclaw-probe", "version": "t", "platform": "linux", "mode": "probe"}


def missing_scope(scope: str) -> dict[str, Any]:
    return {
        "code": "FORBIDDEN",
        "message": f"missing scope: {scope}",
        "details": {"code": "MISSING_SCOPE", "missingScope": scope, "requiredScopes": [scope]},
    }


def invalid(message: str) -> dict[str, Any]:
    return {"code": "INVALID_REQUEST", "message": message}


def ok_payload(res: dict[str, Any]) -> Any:
    assert res["type"] == "res"
    assert res["ok"] is True, res
    return res["payload"]


# -- health ---------------------------------------------------------------------------------


async def test_health_without_params_key(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            res = await client.call("health", omit_params=True)
    payload = ok_payload(res)
    assert payload["ok"] is True
    assert isinstance(payload["ts"], int)
    assert isinstance(payload["durationMs"], int)
    assert payload["modelRuntime"] == {"degraded": False, "pendingAgents": []}
    assert isinstance(payload["eventLoop"]["degraded"], bool)
    for key in ("plugins", "channels", "channelOrder", "agents", "sessions"):
        assert key in payload


async def test_health_probe_refreshes_and_broadcasts(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gateway.port) as client,
            ws_connected(nursery, gateway.port, scopes=[]) as bystander,
        ):
            assert client.hello is not None
            before = client.hello["snapshot"]["stateVersion"]
            res = await client.call("health", {"probe": True})
            payload = ok_payload(res)
            event = await client.next_event("health")
            seen_by_bystander = await bystander.next_event("health")

            # Without probe the fresh cache is served: same snapshot, no new broadcast.
            cached = ok_payload(await client.call("health"))
            await client.call("last-heartbeat")
    assert event["stateVersion"]["health"] == before["health"] + 1
    assert event["stateVersion"]["presence"] == before["presence"]
    assert event["payload"]["ts"] == payload["ts"]
    assert event["payload"]["ok"] is True
    assert "modelRuntime" not in event["payload"]
    # `health` needs no scope: a socket with none gets it too.
    assert seen_by_bystander["payload"] == event["payload"]
    assert cached["ts"] == payload["ts"]
    assert [e for e in client.events if e.get("event") == "health"] == []


async def test_health_works_for_a_scopeless_client(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=[]) as client:
            res = await client.call("health")
    assert ok_payload(res)["ok"] is True


# -- status ---------------------------------------------------------------------------------


async def test_status(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gateway.port) as reader,
            ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin,
        ):
            plain = ok_payload(await reader.call("status", omit_params=True))
            full = ok_payload(await admin.call("status", {"includeChannelSummary": False}))
    assert plain["runtimeVersion"] == gateway.settings.version
    assert plain["queuedSystemEvents"] == []
    assert plain["pid"] == os.getpid()
    assert plain["tasks"]["total"] == 0
    assert set(plain["tasks"]["byStatus"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "timed_out",
        "cancelled",
        "lost",
    }
    assert plain["sessions"]["count"] == 0
    assert isinstance(plain["eventLoop"], dict)
    assert "configPath" not in plain
    assert "stateDir" not in plain
    assert full["configPath"] == str(gateway.settings.config_path)
    assert full["stateDir"] == str(gateway.settings.state_dir)


# -- system-presence ------------------------------------------------------------------------


async def test_system_presence_has_the_self_row_first(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            rows = ok_payload(await client.call("system-presence", omit_params=True))
    assert isinstance(rows, list)
    me = rows[0]
    assert me["mode"] == "gateway"
    assert me["reason"] == "self"
    assert me["version"] == gateway.settings.version
    for key in ("host", "ip", "platform", "deviceFamily", "instanceId"):
        assert isinstance(me[key], str)
        assert me[key]
    assert me["text"] == (
        f"Gateway: {me['host']} ({me['ip']}) · app {me['version']} · mode gateway · reason self"
    )
    assert isinstance(me["ts"], int)
    # Sorted newest first.
    assert [r["ts"] for r in rows] == sorted((r["ts"] for r in rows), reverse=True)


# -- system-event ---------------------------------------------------------------------------


async def test_system_event_updates_presence_and_queue(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    params = {
        "text": "deploy finished",
        "host": "build-box",
        "instanceId": "Inst-1",
        "mode": "backend",
        "reason": "periodic",
        "tags": ["ci"],
    }
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin,
            ws_connected(nursery, gateway.port) as reader,
            ws_connected(nursery, gateway.port, scopes=[]) as blind,
        ):
            assert admin.hello is not None
            before = admin.hello["snapshot"]["stateVersion"]["presence"]
            res = await admin.call("system-event", params)
            event = await admin.next_event("presence")
            reader_event = await reader.next_event("presence")
            rows = ok_payload(await reader.call("system-presence"))
            status = ok_payload(await reader.call("status"))
            # The presence broadcast never reached the scopeless socket; its next event is a
            # health broadcast numbered 1.
            await blind.call("health", {"probe": True})
            first_blind = await blind.next_event()
    assert ok_payload(res) == {"ok": True}
    assert event["stateVersion"]["presence"] > before
    row = next(r for r in event["payload"]["presence"] if r.get("instanceId") == "Inst-1")
    assert row["text"] == "deploy finished"
    assert row["host"] == "build-box"
    assert row["mode"] == "backend"
    assert row["tags"] == ["ci"]
    assert isinstance(row["ts"], int)
    assert reader_event["payload"] == event["payload"]
    assert reader_event["stateVersion"] == event["stateVersion"]
    assert any(r.get("instanceId") == "Inst-1" for r in rows)
    assert rows[0]["reason"] == "self"
    assert status["queuedSystemEvents"] == ["deploy finished"]
    assert first_blind["event"] == "health"
    assert first_blind["seq"] == 1


async def test_system_event_node_line_is_parsed_not_queued(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    text = "Node: lab-mac (10.1.2.3) · app 2.0.1 · last input 7s ago · mode ui · reason launch"
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin:
            ok_payload(await admin.call("system-event", {"text": text}))
            rows = ok_payload(await admin.call("system-presence"))
            status = ok_payload(await admin.call("status"))
    row = next(r for r in rows if r.get("text") == text)
    assert row["host"] == "lab-mac"
    assert row["ip"] == "10.1.2.3"
    assert row["version"] == "2.0.1"
    assert row["lastInputSeconds"] == 7
    assert row["mode"] == "ui"
    assert row["reason"] == "launch"
    assert status["queuedSystemEvents"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "invalid system-event params: must have required property 'text'"),
        ({"text": 5}, "invalid system-event params: at /text: must be string"),
        (
            {"text": "x", "bogus": 1},
            "invalid system-event params: at root: unexpected property 'bogus'",
        ),
        ({"text": "   "}, "text required"),
    ],
    ids=["missing-text", "text-type", "extra-key", "blank"],
)
async def test_system_event_bad_params(
    nursery: trio.Nursery, gateway: RunningGateway, params: dict[str, Any], message: str
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin:
            res = await admin.call("system-event", params)
            status = ok_payload(await admin.call("status"))
    assert res["ok"] is False
    assert res["error"] == invalid(message)
    # Bad input changes nothing.
    assert status["queuedSystemEvents"] == []
    assert [e for e in admin.events if e.get("event") == "presence"] == []


async def test_system_event_needs_admin(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=["operator.write"]) as client:
            res = await client.call("system-event", {"text": "hi"})
    assert res["error"] == missing_scope("operator.admin")


# -- heartbeats -----------------------------------------------------------------------------


async def test_last_heartbeat_is_null(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            res = await client.call("last-heartbeat")
    assert res["ok"] is True
    assert "payload" in res
    assert res["payload"] is None


async def test_set_heartbeats_off_is_the_truth(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin:
            res = await admin.call("set-heartbeats", {"enabled": False})
    assert ok_payload(res) == {"ok": True, "enabled": False}


async def test_set_heartbeats_on_is_acknowledged(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    """The cadence runs (server/mainsession); nothing has beaten yet, so last-heartbeat is
    still null (the heartbeat tests drive real beats under the autojump clock)."""
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin:
            res = await admin.call("set-heartbeats", {"enabled": True})
            again = await admin.call("last-heartbeat")
    assert ok_payload(res) == {"ok": True, "enabled": True}
    assert ok_payload(again) is None


@pytest.mark.parametrize(
    "params", [{"enabled": "yes"}, {"enabled": 1}, {}, None], ids=["str", "int", "empty", "absent"]
)
async def test_set_heartbeats_bad_params(
    nursery: trio.Nursery, gateway: RunningGateway, params: dict[str, Any] | None
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin:
            res = await admin.call("set-heartbeats", params, omit_params=params is None)
    assert res["ok"] is False
    assert res["error"] == invalid("invalid set-heartbeats params: enabled (boolean) required")


async def test_set_heartbeats_needs_admin(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            res = await client.call("set-heartbeats", {"enabled": True})
    assert res["error"] == missing_scope("operator.admin")


# -- wake -----------------------------------------------------------------------------------


async def test_wake(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=["operator.write"]) as writer:
            now = await writer.call("wake", {"mode": "now", "text": "wake up"})
            later = await writer.call("wake", {"mode": "next-heartbeat", "text": "later"})
            blank = await writer.call("wake", {"mode": "now", "text": "   "})
            session = await writer.call(
                "wake", {"mode": "now", "text": "x", "sessionKey": "agent:main:main"}
            )
            # The params object is open: unknown keys are accepted.
            extra = await writer.call("wake", {"mode": "now", "text": "more", "extra": 1})
            status = ok_payload(await writer.call("status"))
    assert ok_payload(now) == {"ok": True}
    assert ok_payload(later) == {"ok": True}
    assert ok_payload(blank) == {"ok": False}
    assert ok_payload(session) == {"ok": True}
    assert ok_payload(extra) == {"ok": True}
    # No agent node serves the main session: the wakes find nobody, the events keep waiting.
    assert status["queuedSystemEvents"] == ["wake up", "later", "x", "more"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"text": "x"}, "invalid wake params: must have required property 'mode'"),
        ({"mode": "now"}, "invalid wake params: must have required property 'text'"),
        (
            {"mode": "soon", "text": "x"},
            "invalid wake params: at /mode: must be equal to one of the allowed values",
        ),
    ],
    ids=["no-mode", "no-text", "bad-mode"],
)
async def test_wake_bad_params(
    nursery: trio.Nursery, gateway: RunningGateway, params: dict[str, Any], message: str
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=["operator.write"]) as writer:
            res = await writer.call("wake", params)
    assert res["error"] == invalid(message)


async def test_wake_needs_write(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as reader:
            res = await reader.call("wake", {"mode": "now", "text": "x"})
    assert res["error"] == missing_scope("operator.write")


# -- logs.tail ------------------------------------------------------------------------------


async def test_logs_tail_reads_the_log_file_with_a_cursor(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    log_file = gateway.settings.log_file
    assert log_file is not None
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            first = ok_payload(await client.call("logs.tail", omit_params=True))
            # A failed call is logged (warn): this line must show up after the cursor. The
            # method name carries the gateway token, which the log must mask.
            denied = await client.call(f"nosuch.{TOKEN}")
            after = ok_payload(await client.call("logs.tail", {"cursor": first["cursor"]}))
            one = ok_payload(await client.call("logs.tail", {"limit": 1}))
            past_end = ok_payload(await client.call("logs.tail", {"cursor": 10**9}))
            everything = ok_payload(await client.call("logs.tail", {"cursor": 0}))
    assert first["file"] == str(log_file)
    assert first["cursor"] == first["size"]
    assert first["size"] <= log_file.stat().st_size
    records = [json.loads(line) for line in first["lines"]]
    assert any(r["message"] == "ready" for r in records)
    assert all("_meta" in r and "time" in r for r in records)

    assert denied["error"] == missing_scope("operator.admin")
    new = [json.loads(line)["message"] for line in after["lines"]]
    assert new, after
    assert not any(m == "ready" for m in new)
    assert any("errorCode=FORBIDDEN" in m and "nosuch." in m for m in new)
    assert after["cursor"] > first["cursor"]

    assert len(one["lines"]) == 1
    assert one["truncated"] is True
    assert past_end["reset"] is True

    text = "\n".join(everything["lines"])
    assert TOKEN not in text
    assert TOKEN not in log_file.read_text()
    assert "nosuch.***" in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "invalid logs.tail params: at /limit: must be >= 1"),
        ({"cursor": -1}, "invalid logs.tail params: at /cursor: must be >= 0"),
        ({"follow": True}, "invalid logs.tail params: at root: unexpected property 'follow'"),
    ],
    ids=["limit", "cursor", "extra"],
)
async def test_logs_tail_bad_params(
    nursery: trio.Nursery, gateway: RunningGateway, params: dict[str, Any], message: str
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            res = await client.call("logs.tail", params)
    assert res["error"] == invalid(message)


# -- config.get -----------------------------------------------------------------------------


async def test_config_get_redacts_secrets(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    secret = "cfg-secret-0123456789"
    path = gateway.settings.config_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"gateway": {"mode": "local", "auth": {"mode": "token", "token": secret}}}),
        encoding="utf-8",
    )
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            res = await client.call("config.get")
            bad = await client.call("config.get", {"x": 1})
    snap = ok_payload(res)
    assert snap["path"] == str(path)
    assert snap["exists"] is True
    assert snap["valid"] is True, snap["issues"]
    assert snap["issues"] == []
    assert snap["config"]["gateway"]["mode"] == "local"
    assert snap["config"]["gateway"]["auth"] == {
        "mode": "token",
        "token": "__OPENCLAW_REDACTED__",
    }
    assert isinstance(snap["hash"], str)
    assert secret not in json.dumps(res)
    assert bad["error"] == invalid("invalid config.get params: at root: unexpected property 'x'")


async def test_config_get_without_a_file(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            snap = ok_payload(await client.call("config.get", omit_params=True))
    assert snap["path"] == str(gateway.settings.config_path)
    assert snap["exists"] is False
    assert snap["config"] == {}


# -- authorization ---------------------------------------------------------------------------


async def test_probe_client_has_no_scopes_but_health_works(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(
            nursery, gateway.port, client=PROBE_CLIENT, scopes=["operator.read"]
        ) as probe:
            assert probe.hello is not None
            granted = probe.hello["auth"]["scopes"]
            status = await probe.call("status", omit_params=True)
            presence = await probe.call("system-presence", omit_params=True)
            health = await probe.call("health", omit_params=True)
    assert granted == []
    assert status == {
        "type": "res",
        "id": status["id"],
        "ok": False,
        "error": missing_scope("operator.read"),
    }
    assert presence["error"] == missing_scope("operator.read")
    assert ok_payload(health)["ok"] is True


@pytest.mark.parametrize(
    ("method", "scope"),
    [
        ("status", "operator.read"),
        ("system-presence", "operator.read"),
        ("last-heartbeat", "operator.read"),
        ("logs.tail", "operator.read"),
        ("config.get", "operator.read"),
        ("wake", "operator.write"),
        ("system-event", "operator.admin"),
        ("set-heartbeats", "operator.admin"),
    ],
)
async def test_every_method_checks_its_scope(
    nursery: trio.Nursery, gateway: RunningGateway, method: str, scope: str
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=[]) as client:
            res = await client.call(method)
    assert res["error"] == missing_scope(scope)


async def test_write_implies_read(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=["operator.write"]) as client:
            res = await client.call("status")
    assert res["ok"] is True


async def test_unknown_method(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gateway.port) as reader,
            ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as admin,
        ):
            as_reader = await reader.call("nosuch.method")
            as_admin = await admin.call("nosuch.method")
            again_reader = await reader.call("connect", {})
            again_admin = await admin.call("connect", {})
    assert as_reader["error"] == missing_scope("operator.admin")
    assert as_admin["error"] == invalid("unknown method: nosuch.method")
    assert again_reader["error"] == missing_scope("operator.admin")
    assert again_admin["error"] == invalid("connect is only valid as the first request")


async def test_invalid_frames_after_auth_get_a_response(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            await client.send({"type": "req", "id": "abc", "method": "health", "extra": 1})
            extra = await client.recv()
            await client.send({"type": "req", "id": "", "method": "health"})
            empty_id = await client.recv()
            await client.send([1, 2])
            not_object = await client.recv()
            still = await client.call("health")
    assert extra == {
        "type": "res",
        "id": "abc",
        "ok": False,
        "error": invalid("invalid request frame: at root: unexpected property 'extra'"),
    }
    assert empty_id == {
        "type": "res",
        "id": "",
        "ok": False,
        "error": invalid("invalid request frame: at /id: must not have fewer than 1 characters"),
    }
    assert not_object["id"] == "invalid"
    assert not_object["error"]["code"] == "INVALID_REQUEST"
    assert not_object["error"]["message"].startswith("invalid request frame: ")
    assert still["ok"] is True


async def test_non_json_after_auth_is_ignored(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            await client.send("{not json")
            await client.ws.send_message(b"\xff\xfe binary garbage")
            res = await client.call("status")
    assert res["ok"] is True
    # Nothing answered the garbage: the only frame that arrived is the status response.
    assert client.events == []


async def test_binary_frames_are_treated_as_text(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    frame = {"type": "req", "id": "bin-1", "method": "health", "params": {}}
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            await client.ws.send_message(json.dumps(frame).encode())
            res = await client.recv()
    assert res["id"] == "bin-1"
    assert res["ok"] is True


async def test_node_role_cannot_call_operator_methods(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, **NODE_CONNECT) as node:
            status = await node.call("status")
            health = await node.call("health")
    assert status["error"] == invalid("unauthorized role: node")
    assert ok_payload(health)["ok"] is True


async def test_an_allowed_call_resets_the_unauthorized_streak(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, **NODE_CONNECT) as node:
            for _ in range(10):
                assert (await node.call("status"))["ok"] is False
            assert (await node.call("health"))["ok"] is True
            for _ in range(10):
                assert (await node.call("status"))["ok"] is False
            # Twenty refusals in all, but never more than ten in a row: still open.
            assert (await node.call("health"))["ok"] is True


async def test_repeated_unauthorized_role_calls_close_1008(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, **NODE_CONNECT) as node:
            for _ in range(10):
                assert (await node.call("status"))["ok"] is False
            await node.send({"type": "req", "id": "last", "method": "status", "params": {}})
            closed = await read_until_closed(node)
    assert (closed.code, closed.reason) == (1008, "repeated unauthorized calls")


async def test_concurrent_sockets_get_their_own_responses(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    results: dict[int, dict[str, Any]] = {}

    async def one(i: int) -> None:
        async with ws_connected(nursery, gateway.port) as client:
            results[i] = await client.call("status")

    with trio.fail_after(BOUND):
        async with trio.open_nursery() as inner:
            for i in range(8):
                inner.start_soon(one, i)
    assert sorted(results) == list(range(8))
    assert all(r["ok"] for r in results.values())
