"""device.pair.list / reject and the pairing events over a real socket: shapes, redaction,
operator.pairing gating of both the methods and the events (protocol.md §4.5, §7.3)."""

from __future__ import annotations

import trio

from tests.devicekit import SigningDevice
from tests.helpers import RunningGateway, ws_client
from tests.security.support import (
    APP_CLIENT,
    CLI_CLIENT,
    EMPTY,
    operator,
    refused,
    remote_client,
    send_connect,
    snapshot,
)
from tests.server.integration.support import read_until_closed, ws_connected

BOUND = 10


async def test_list_redacts_tokens_and_reports_connected(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev, waiting = SigningDevice(b"listed"), SigningDevice(b"waiting")
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as live:
            frame = await send_connect(live, dev, client=CLI_CLIENT, scopes=["operator.read"])
            assert frame["ok"], frame
            token = frame["payload"]["auth"]["deviceToken"]
            async with remote_client(nursery, gw.port) as client:
                await refused(client, await send_connect(client, waiting, client=APP_CLIENT))
            async with ws_connected(nursery, gw.port, **operator(["operator.pairing"])) as op:
                res = await op.call("device.pair.list")
    assert res["ok"], res
    listing = res["payload"]
    [pending] = listing["pending"]
    assert pending["deviceId"] == waiting.id and pending["scopes"] == ["operator.read"]
    assert {"requestId", "publicKey", "role", "roles", "ts", "clientId"} <= set(pending)
    [paired] = listing["paired"]
    assert paired["deviceId"] == dev.id
    assert paired["connected"] is True
    assert paired["approvedVia"] == "silent"
    assert "approvedScopes" not in paired
    assert paired["tokens"] == [
        {"role": "operator", "scopes": ["operator.read"], "createdAtMs": paired["createdAtMs"]}
    ]
    assert token not in str(res)


async def test_reject_resolves_and_forgets_the_request(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"rejected")
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gw.port, **operator(["operator.pairing"])) as op:
            async with remote_client(nursery, gw.port) as client:
                error, _ = await refused(client, await send_connect(client, dev, client=APP_CLIENT))
            request_id = error["details"]["requestId"]
            res = await op.call("device.pair.reject", {"requestId": request_id})
            assert res["payload"] == {"requestId": request_id, "deviceId": dev.id}
            resolved = await op.next_event("device.pair.resolved")
            assert resolved["payload"]["decision"] == "rejected"
            again = await op.call("device.pair.reject", {"requestId": request_id})
            assert again["error"] == {"code": "INVALID_REQUEST", "message": "unknown requestId"}
            bad = await op.call("device.pair.approve", {})
            assert bad["error"]["message"] == (
                "invalid device.pair.approve params: must have required property 'requestId'"
            )
    assert snapshot(gw) == EMPTY


async def test_pairing_methods_and_events_need_operator_pairing(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"gated")
    with trio.fail_after(BOUND):
        async with ws_connected(
            nursery, gw.port, **operator(["operator.read", "operator.write"])
        ) as reader:
            for method in ("device.pair.list", "device.token.revoke"):
                res = await reader.call(method, {})
                assert res["error"]["code"] == "FORBIDDEN"
                assert res["error"]["details"]["missingScope"] == "operator.pairing"
            async with ws_connected(nursery, gw.port, **operator(["operator.pairing"])) as op:
                async with remote_client(nursery, gw.port) as client:
                    await refused(client, await send_connect(client, dev, client=APP_CLIENT))
                requested = await op.next_event("device.pair.requested")
                assert requested["payload"]["deviceId"] == dev.id
                assert "refreshedAtMs" not in requested["payload"]
            # The reader got nothing about pairing (a round trip flushes anything queued).
            assert (await reader.call("health"))["ok"]
            assert not [e for e in reader.events if str(e.get("event", "")).startswith("device.")]


async def test_device_token_is_accepted_in_auth_token_after_the_shared_secret_fails(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"fallback")
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, client=CLI_CLIENT)
            token = frame["payload"]["auth"]["deviceToken"]
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, client=CLI_CLIENT, auth={"token": token})
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["method"] == "device-token"
            assert frame["payload"]["auth"]["scopes"] == ["operator.read"]
        # Not the device's token: the shared-secret failure stands (and may retry with one).
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, client=CLI_CLIENT, auth={"token": "x" * 43})
            error, closed = await refused(client, frame)
    assert error["details"]["code"] == "AUTH_TOKEN_MISMATCH"
    assert error["details"]["canRetryWithDeviceToken"] is True
    assert closed.code == 1008


async def test_a_device_rotating_its_own_token_gets_it_in_band_then_its_socket_closes(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"self-rotate")
    own = {"client": CLI_CLIENT, "scopes": ["operator.pairing"]}
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, **own)
            token = frame["payload"]["auth"]["deviceToken"]
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, **own, auth={"deviceToken": token})
            assert frame["payload"]["auth"]["method"] == "device-token"
            other = await client.call(
                "device.token.revoke", {"deviceId": "f" * 64, "role": "operator"}
            )
            assert other["error"]["message"] == "device token revocation denied"  # not its device
            res = await client.call("device.token.rotate", {"deviceId": dev.id, "role": "operator"})
            closed = await read_until_closed(client)
        assert res["payload"]["tokenDelivery"] == "in-band"
        fresh = res["payload"]["token"]
        assert fresh != token
        assert (closed.code, closed.reason) == (4001, "client invalidated: device-token-rotated")
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, **own, auth={"deviceToken": fresh})
            assert frame["ok"], frame
