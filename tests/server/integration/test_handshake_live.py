"""The connect handshake over a real loopback socket (protocol.md §1.4, §1.5, §2).

Each test drives the in-process gateway with a hand-written client and checks the frames and
the close code/reason the official gateway is documented to produce.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed

from openclaw_gateway.server.rpc import methods
from tests.helpers import TOKEN, RunningGateway, connect_params
from tests.server.integration.support import (
    ADMIN_SCOPES,
    NODE_CONNECT,
    OFFICIAL_EVENTS,
    Closed,
    StartGateway,
    read_until_closed,
    ws_client,
    ws_connected,
)

BOUND = 5  # seconds: ceiling for every live exchange below


def _req(method: str, params: Any = None, rid: str = "1:abc") -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "req", "id": rid, "method": method}
    if params is not None:
        frame["params"] = params
    return frame


async def _first_frame_then_close(nursery: trio.Nursery, port: int, first: Any) -> Closed:
    """Read the challenge, send `first` as the first client frame, collect until closed."""
    async with ws_client(nursery, port) as client:
        await client.read_challenge()
        await client.send(first)
        return await read_until_closed(client)


# -- challenge ------------------------------------------------------------------------------


async def test_challenge_is_the_first_frame(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gateway.port) as a, ws_client(nursery, gateway.port) as b:
            before = int(time.time() * 1000)
            first_a = await a.recv()
            first_b = await b.recv()
            after = int(time.time() * 1000)
    assert first_a["type"] == "event"
    assert first_a["event"] == "connect.challenge"
    assert "seq" not in first_a
    assert "stateVersion" not in first_a
    payload = first_a["payload"]
    assert str(uuid.UUID(payload["nonce"])) == payload["nonce"]
    assert isinstance(payload["ts"], int)
    assert not isinstance(payload["ts"], bool)
    assert before - 5000 <= payload["ts"] <= after + 5000
    # A fresh nonce per socket.
    assert first_b["payload"]["nonce"] != payload["nonce"]


# -- hello-ok -------------------------------------------------------------------------------


async def test_hello_ok_shape_for_a_reader(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            hello = client.hello
    assert hello is not None
    assert hello["type"] == "hello-ok"
    assert hello["protocol"] == 4
    server = hello["server"]
    assert server["version"] == gateway.settings.version
    assert isinstance(server["connId"], str)
    assert server["connId"]

    features = hello["features"]
    registered = methods.load().names()
    assert features["methods"] == registered
    assert len(set(features["methods"])) == len(features["methods"])
    assert set(features["methods"]) >= {
        "health",
        "status",
        "system-presence",
        "system-event",
        "last-heartbeat",
        "set-heartbeats",
        "wake",
        "logs.tail",
        "config.get",
    }
    events = features["events"]
    assert events[0] == "connect.challenge"
    assert {"presence", "tick", "shutdown", "health"} <= set(events)
    # The heartbeat runner (server/mainsession) sends it.
    assert "heartbeat" in events
    # Whatever subset is announced keeps the official order; the only event that is ours
    # alone is `node.event` (channel bridges, see README).
    assert [e for e in events if e not in OFFICIAL_EVENTS] == ["node.event"]
    positions = [OFFICIAL_EVENTS.index(e) for e in events if e in OFFICIAL_EVENTS]
    assert positions == sorted(positions)

    snapshot = hello["snapshot"]
    assert isinstance(snapshot["presence"], list)
    assert any(row.get("reason") == "self" for row in snapshot["presence"])
    assert isinstance(snapshot["health"], dict)
    sv = snapshot["stateVersion"]
    assert set(sv) == {"presence", "health"}
    assert all(isinstance(v, int) and v >= 1 for v in sv.values())
    assert isinstance(snapshot["uptimeMs"], int)
    assert snapshot["uptimeMs"] >= 0
    for admin_only in ("configPath", "stateDir", "authMode"):
        assert admin_only not in snapshot

    assert hello["auth"] == {"method": "token", "role": "operator", "scopes": ["operator.read"]}
    assert hello["policy"] == {
        "maxPayload": 26214400,
        "maxBufferedBytes": 52428800,
        "tickIntervalMs": 30000,
    }


async def test_hello_ok_admin_snapshot_fields(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=ADMIN_SCOPES) as client:
            hello = client.hello
    assert hello is not None
    snapshot = hello["snapshot"]
    assert snapshot["configPath"] == str(gateway.settings.config_path)
    assert snapshot["stateDir"] == str(gateway.settings.state_dir)
    assert snapshot["authMode"] == "token"
    assert hello["auth"] == {"method": "token", "role": "operator", "scopes": ["operator.admin"]}


async def test_conn_ids_are_unique(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with (
            ws_connected(nursery, gateway.port) as a,
            ws_connected(nursery, gateway.port) as b,
        ):
            assert a.hello is not None
            assert b.hello is not None
            assert a.hello["server"]["connId"] != b.hello["server"]["connId"]


async def test_scopeless_client_sees_no_presence_in_snapshot(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, scopes=[]) as client:
            hello = client.hello
    assert hello is not None
    assert hello["snapshot"]["presence"] == []
    assert hello["auth"]["scopes"] == []


async def test_password_field_carries_the_token(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    """Token mode falls back to auth.password when auth.token is absent (protocol.md §3.1)."""
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, auth={"password": TOKEN}) as client:
            hello = client.hello
    assert hello is not None
    assert hello["auth"]["method"] == "token"


async def test_probe_mode_accepts_protocol_3(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    client_info = {"id": "openclaw-probe", "version": "t", "platform": "linux", "mode": "probe"}
    with trio.fail_after(BOUND):
        async with ws_connected(
            nursery, gateway.port, minProtocol=3, maxProtocol=3, client=client_info
        ) as client:
            hello = client.hello
    assert hello is not None
    assert hello["protocol"] == 4


async def test_node_with_device_is_admitted(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port, **NODE_CONNECT) as client:
            hello = client.hello
    assert hello is not None
    assert hello["auth"]["role"] == "node"
    assert hello["auth"]["scopes"] == []
    assert hello["snapshot"]["presence"] == []


# -- refusals and close codes ---------------------------------------------------------------


async def test_non_json_first_frame_closes_1000(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, "this is not json")
    assert closed.code == 1000
    assert closed.reason == ""
    assert closed.frames == []


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "event", "event": "connect"},
        {"type": "req", "id": "1", "method": "connect", "extra": True},
        {"type": "req", "id": "", "method": "connect"},
        [1, 2, 3],
        "null",
    ],
    ids=["event", "extra-key", "empty-id", "array", "null"],
)
async def test_invalid_first_frame_closes_1008(
    nursery: trio.Nursery, gateway: RunningGateway, frame: Any
) -> None:
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(
            nursery, gateway.port, frame if isinstance(frame, str) else json.dumps(frame)
        )
    assert closed.code == 1008
    assert closed.reason == "invalid request frame"
    assert closed.frames == []


async def test_first_request_not_connect(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("health", {}, rid="7:x"))
    message = "invalid handshake: first request must be connect"
    assert closed.frames == [
        {
            "type": "res",
            "id": "7:x",
            "ok": False,
            "error": {"code": "INVALID_REQUEST", "message": message},
        }
    ]
    assert closed.code == 1008
    assert closed.reason == message


async def test_invalid_connect_params(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    params = connect_params(client={"id": "bogus", "version": "t", "platform": "linux"})
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("connect", params))
    [frame] = closed.frames
    assert frame["ok"] is False
    assert frame["id"] == "1:abc"
    assert frame["error"]["code"] == "INVALID_REQUEST"
    message = frame["error"]["message"]
    assert message.startswith("invalid connect params: ")
    assert "must have required property 'mode'" in message
    assert closed.code == 1008
    assert len(closed.reason.encode()) <= 120
    assert message.startswith(closed.reason)


@pytest.mark.parametrize(
    ("lo", "hi"), [(5, 6), (1, 3), (3, 3)], ids=["future", "old", "v3-operator"]
)
async def test_protocol_mismatch_closes_1002(
    nursery: trio.Nursery, gateway: RunningGateway, lo: int, hi: int
) -> None:
    params = connect_params(minProtocol=lo, maxProtocol=hi)
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("connect", params))
    assert closed.frames == [
        {
            "type": "res",
            "id": "1:abc",
            "ok": False,
            "error": {
                "code": "INVALID_REQUEST",
                "message": "protocol mismatch",
                "details": {
                    "code": "PROTOCOL_MISMATCH",
                    "clientMinProtocol": lo,
                    "clientMaxProtocol": hi,
                    "expectedProtocol": 4,
                    "minimumProbeProtocol": 3,
                },
            },
        }
    ]
    assert closed.code == 1002
    assert closed.reason == "protocol mismatch"


async def test_invalid_role(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    params = connect_params(role="superuser")
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("connect", params))
    [frame] = closed.frames
    assert frame["error"] == {"code": "INVALID_REQUEST", "message": "invalid role"}
    assert (closed.code, closed.reason) == (1008, "invalid role")


async def test_worker_identity_is_refused_silently(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    params = connect_params(role="worker")
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("connect", params))
    assert closed.frames == []
    assert (closed.code, closed.reason) == (1008, "invalid-handshake")


async def test_wrong_token(nursery: trio.Nursery, gateway: RunningGateway) -> None:
    params = connect_params(auth={"token": "not-the-token"})
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("connect", params))
    [frame] = closed.frames
    assert frame["type"] == "res"
    assert frame["id"] == "1:abc"
    assert frame["ok"] is False
    error = frame["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"].startswith("unauthorized: gateway token mismatch")
    assert error["details"] == {
        "code": "AUTH_TOKEN_MISMATCH",
        "authReason": "token_mismatch",
        "canRetryWithDeviceToken": False,
        "recommendedNextStep": "update_auth_credentials",
    }
    assert "retryable" not in error
    assert closed.code == 1008
    assert len(closed.reason.encode()) <= 120
    assert closed.reason
    assert error["message"].startswith(closed.reason)
    # The secret the gateway holds never appears in what the client is told.
    assert TOKEN not in json.dumps(frame)


async def test_no_credentials_no_device_is_not_paired(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    params = connect_params()
    del params["auth"]
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, _req("connect", params))
    [frame] = closed.frames
    assert frame["error"] == {
        "code": "NOT_PAIRED",
        "message": "device identity required",
        "details": {"code": "DEVICE_IDENTITY_REQUIRED"},
    }
    assert (closed.code, closed.reason) == (1008, "device identity required")


async def test_preauth_frame_over_64k_closes_1009(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, "x" * 65537)
    assert closed.code == 1009
    assert closed.frames == []


async def test_preauth_frame_of_exactly_64k_is_accepted(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    params = connect_params(userAgent="")
    frame = _req("connect", params)
    padding = 65536 - len(json.dumps(frame))
    params["userAgent"] = "u" * padding
    text = json.dumps(_req("connect", params))
    assert len(text.encode()) == 65536
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gateway.port) as client:
            await client.read_challenge()
            await client.send(text)
            reply = await client.recv()
    assert reply["ok"] is True, reply
    assert reply["payload"]["type"] == "hello-ok"


async def test_handshake_timeout_closes_1000(nursery: trio.Nursery, start: StartGateway) -> None:
    gw = await start(handshake_timeout=0.5)
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as client:
            t0 = trio.current_time()
            await client.read_challenge()
            closed = await read_until_closed(client)
            waited = trio.current_time() - t0
    assert closed.code == 1000
    assert closed.reason == ""
    assert closed.frames == []
    assert 0.4 <= waited < 3.0


async def test_connect_in_time_beats_a_short_handshake_timeout(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(handshake_timeout=0.5)
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gw.port) as client:
            # Well past the handshake deadline the socket is still usable.
            await trio.sleep(0.8)
            res = await client.call("health")
    assert res["ok"] is True


async def test_preauth_oversize_close_reason_is_empty(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    with trio.fail_after(BOUND):
        closed = await _first_frame_then_close(nursery, gateway.port, "x" * 65537)
    assert (closed.code, closed.reason) == (1009, "")


# -- limits after hello-ok ----------------------------------------------------------------------


async def test_frame_cap_is_raised_after_hello(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    """After hello-ok a 1 MiB request is fine (cap 25 MiB); a larger-than-cap frame is 1009,
    as soon as its header says so: the close may reach the client while it is still sending
    (as with the official server's `ws`)."""
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gateway.port) as client:
            res = await client.call("health", {"pad": "p" * (1 << 20)})
            assert res["ok"] is True
            reason = None
            try:
                await client.send("y" * (26214400 + 1))
            except ConnectionClosed as exc:
                reason = exc.reason
            code = reason.code if reason is not None else (await read_until_closed(client)).code
    assert code == 1009


async def test_default_handshake_timeout_is_15s(
    nursery: trio.Nursery, gateway: RunningGateway, autojump_clock: trio.testing.MockClock
) -> None:
    """The wait is the point here, so virtual time: the default deadline is exactly 15 s."""
    with trio.fail_after(60):
        async with ws_client(nursery, gateway.port) as client:
            await client.read_challenge()
            t0 = trio.current_time()
            closed = await read_until_closed(client)
            waited = trio.current_time() - t0
    assert (closed.code, closed.reason) == (1000, "")
    assert 14.9 <= waited <= 15.0
