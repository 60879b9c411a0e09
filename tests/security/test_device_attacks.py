"""Attacks on device proofs, pairing and device tokens (security.md items 14-18), each over a
real 127.0.0.1 socket, each asserting the defence and that nothing was stored or granted."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tests.devicekit import SigningDevice
from tests.helpers import TOKEN, RunningGateway, ws_client
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


def _proof_error(reason: str, code: str) -> dict[str, Any]:
    return {"code": code, "reason": reason}


@pytest.mark.parametrize("where", ["local", "remote"])
async def test_forged_signature_is_rejected(
    gw: RunningGateway, nursery: trio.Nursery, where: str
) -> None:
    owner, forger = SigningDevice(b"owner"), SigningDevice(b"forger")

    def forge(params: dict[str, Any], challenge: dict[str, Any]) -> None:
        payload = owner.payload(params, challenge["ts"], challenge["nonce"])
        params["device"]["signature"] = forger.sign(payload)

    opener = ws_client(nursery, gw.port) if where == "local" else remote_client(nursery, gw.port)
    with trio.fail_after(BOUND):
        async with opener as client:
            frame = await send_connect(client, owner, mutate=forge, client=CLI_CLIENT)
            error, closed = await refused(client, frame)
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"] == "device signature invalid"
    assert error["details"] == _proof_error("device-signature", "DEVICE_AUTH_SIGNATURE_INVALID")
    assert (closed.code, closed.reason) == (1008, "device signature invalid")
    # Even a direct-local socket (which would pair silently) left no trace.
    assert snapshot(gw) == EMPTY


async def test_wrong_key_for_the_device_id_is_rejected(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    victim, attacker = SigningDevice(b"victim"), SigningDevice(b"attacker")

    def impersonate(params: dict[str, Any], challenge: dict[str, Any]) -> None:
        params["device"] = attacker.block(params, challenge["nonce"], challenge["ts"])
        params["device"]["id"] = victim.id

    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as client:
            frame = await send_connect(client, None, mutate=impersonate, client=CLI_CLIENT)
            error, closed = await refused(client, frame)
    assert error["details"] == _proof_error("device-id-mismatch", "DEVICE_AUTH_DEVICE_ID_MISMATCH")
    assert (closed.code, closed.reason) == (1008, "device identity mismatch")
    assert snapshot(gw) == EMPTY


@pytest.mark.parametrize("skew", [-121_000, 121_000])
async def test_stale_signed_at_is_rejected(
    gw: RunningGateway, nursery: trio.Nursery, skew: int
) -> None:
    dev = SigningDevice(b"stale")

    def stale(params: dict[str, Any], challenge: dict[str, Any]) -> None:
        params["device"] = dev.block(params, challenge["nonce"], challenge["ts"] + skew)

    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as client:
            frame = await send_connect(client, None, mutate=stale, client=CLI_CLIENT)
            error, closed = await refused(client, frame)
    assert error["details"] == _proof_error(
        "device-signature-stale", "DEVICE_AUTH_SIGNATURE_EXPIRED"
    )
    assert (closed.code, closed.reason) == (1008, "device signature expired")
    assert snapshot(gw) == EMPTY


async def test_nonce_from_another_socket_is_rejected(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"other-socket")
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as first, ws_client(nursery, gw.port) as second:
            nonce_a = (await first.read_challenge())["payload"]

            def use_first(params: dict[str, Any], challenge: dict[str, Any]) -> None:
                params["device"] = dev.block(params, nonce_a["nonce"], challenge["ts"])

            frame = await send_connect(second, None, mutate=use_first, client=CLI_CLIENT)
            error, closed = await refused(second, frame)
    assert error["details"] == _proof_error("device-nonce-mismatch", "DEVICE_AUTH_NONCE_MISMATCH")
    assert (closed.code, closed.reason) == (1008, "device nonce mismatch")
    assert snapshot(gw) == EMPTY


async def test_replayed_connect_is_rejected(gw: RunningGateway, nursery: trio.Nursery) -> None:
    dev = SigningDevice(b"replay")
    sent: dict[str, Any] = {}
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port) as client:
            frame = await send_connect(
                client, dev, mutate=lambda p, _c: sent.update(p), client=CLI_CLIENT
            )
            assert frame["ok"], frame  # a local device with the shared token pairs silently
        before = snapshot(gw)
        async with ws_client(nursery, gw.port) as replay:
            frame = await send_connect(replay, None, mutate=lambda p, _c: p.update(sent))
            error, closed = await refused(replay, frame)
    assert error["details"] == _proof_error("device-nonce-mismatch", "DEVICE_AUTH_NONCE_MISMATCH")
    assert closed.code == 1008
    assert snapshot(gw) == before


async def test_remote_device_needs_pairing(gw: RunningGateway, nursery: trio.Nursery) -> None:
    dev = SigningDevice(b"remote")
    with trio.fail_after(BOUND):
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, client=APP_CLIENT)
            error, closed = await refused(client, frame)
    request_id = error["details"]["requestId"]
    assert error == {
        "code": "NOT_PAIRED",
        "message": "pairing required: device is not approved yet",
        "details": {
            "code": "PAIRING_REQUIRED",
            "reason": "not-paired",
            "requestId": request_id,
            "remediationHint": "Approve this device from the pending pairing requests.",
            "deviceId": dev.id,
            "requestedRole": "operator",
            "requestedScopes": ["operator.read"],
        },
    }
    assert (closed.code, closed.reason) == (
        1008,
        f"pairing required: device is not approved yet (requestId: {request_id})",
    )
    state = snapshot(gw)
    assert state["paired"] == [] and state["tokens"] == {}
    assert [p["requestId"] for p in state["pending"]] == [request_id]


async def test_resubmitted_request_with_more_scopes_cannot_widen_an_approval(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"widen")
    with trio.fail_after(BOUND):
        async with ws_connected(nursery, gw.port, **operator(["operator.admin"])) as admin:
            async with remote_client(nursery, gw.port) as client:
                error, _ = await refused(client, await send_connect(client, dev, client=APP_CLIENT))
            shown = error["details"]["requestId"]
            requested = await admin.next_event("device.pair.requested")
            assert requested["payload"]["requestId"] == shown
            assert requested["payload"]["scopes"] == ["operator.read"]
            listed = (await admin.call("device.pair.list"))["payload"]
            assert [(p["requestId"], p["scopes"]) for p in listed["pending"]] == [
                (shown, ["operator.read"])
            ]
            # The device asks again, for more, after the operator saw the first request.
            async with remote_client(nursery, gw.port) as client:
                wider = ["operator.read", "operator.admin"]
                error, _ = await refused(
                    client, await send_connect(client, dev, client=APP_CLIENT, scopes=wider)
                )
            widened = error["details"]["requestId"]
            assert widened != shown
            resolved = await admin.next_event("device.pair.resolved")
            assert resolved["payload"]["requestId"] == shown
            assert resolved["payload"]["decision"] == "rejected"
            # Approving what was displayed cannot grant the wider request.
            res = await admin.call("device.pair.approve", {"requestId": shown})
            assert res["ok"] is False
            assert res["error"] == {"code": "INVALID_REQUEST", "message": "unknown requestId"}
            state = snapshot(gw)
            assert state["paired"] == [] and state["tokens"] == {}
            assert [(p["requestId"], p["scopes"]) for p in state["pending"]] == [
                (widened, ["operator.read", "operator.admin"])
            ]
            # Asking for less again refreshes the wider request instead of replacing it.
            async with remote_client(nursery, gw.port) as client:
                error, _ = await refused(client, await send_connect(client, dev, client=APP_CLIENT))
            assert error["details"]["requestId"] == widened


async def test_approval_beyond_the_callers_scopes_is_rejected(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"beyond")
    with trio.fail_after(BOUND):
        async with remote_client(nursery, gw.port) as client:
            error, _ = await refused(
                client,
                await send_connect(client, dev, client=APP_CLIENT, scopes=["operator.admin"]),
            )
        request_id = error["details"]["requestId"]
        before = snapshot(gw)
        pairing_only = operator(["operator.pairing"])
        async with ws_connected(nursery, gw.port, **pairing_only) as caller:
            res = await caller.call("device.pair.approve", {"requestId": request_id})
    assert res["error"] == {"code": "INVALID_REQUEST", "message": "missing scope: operator.admin"}
    assert snapshot(gw) == before


async def test_approval_grants_exactly_the_displayed_scopes(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"exact")
    with trio.fail_after(BOUND):
        async with remote_client(nursery, gw.port) as client:
            error, _ = await refused(client, await send_connect(client, dev, client=APP_CLIENT))
        async with ws_connected(nursery, gw.port, **operator(["operator.admin"])) as admin:
            res = await admin.call(
                "device.pair.approve", {"requestId": error["details"]["requestId"]}
            )
        assert res["ok"], res
        device = res["payload"]["device"]
        assert device["scopes"] == ["operator.read"]
        assert "approvedScopes" not in device
        assert [t["role"] for t in device["tokens"]] == ["operator"]
        assert all("token" not in t for t in device["tokens"])
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, dev, client=APP_CLIENT)
            assert frame["ok"], frame
            auth = frame["payload"]["auth"]
            assert auth["scopes"] == ["operator.read"]
            assert len(auth["deviceToken"]) == 43 and isinstance(auth["issuedAtMs"], int)
        async with remote_client(nursery, gw.port) as client:
            wider = ["operator.read", "operator.write"]
            error, closed = await refused(
                client, await send_connect(client, dev, client=APP_CLIENT, scopes=wider)
            )
    assert error["details"]["reason"] == "scope-upgrade"
    assert error["details"]["approvedScopes"] == ["operator.read"]
    assert (
        error["message"]
        == "pairing required: device is asking for more scopes than currently approved"
    )
    assert closed.code == 1008
    [tokens] = snapshot(gw)["tokens"].values()
    assert tokens["operator"]["scopes"] == ["operator.read"]


async def _pair_locally(
    nursery: trio.Nursery, gw: RunningGateway, dev: SigningDevice, scopes: list[str]
) -> str:
    async with ws_client(nursery, gw.port) as client:
        frame = await send_connect(client, dev, client=CLI_CLIENT, scopes=scopes)
        assert frame["ok"], frame
        assert frame["payload"]["auth"]["method"] == "token"
        token = frame["payload"]["auth"]["deviceToken"]
        assert isinstance(token, str)
        return token


async def test_token_rotate_beyond_the_callers_scopes_is_rejected(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"rotate-beyond")
    with trio.fail_after(BOUND):
        token = await _pair_locally(nursery, gw, dev, ["operator.admin"])
        before = snapshot(gw)
        caller = operator(["operator.pairing", "operator.read"])
        async with ws_connected(nursery, gw.port, **caller) as c:
            for params in (
                {"deviceId": dev.id, "role": "operator", "scopes": ["operator.admin"]},
                {"deviceId": dev.id, "role": "operator"},
            ):
                res = await c.call("device.token.rotate", params)
                assert res["error"] == {
                    "code": "INVALID_REQUEST",
                    "message": "device token rotation denied",
                }
        assert snapshot(gw) == before
        # The device's token is untouched and still works.
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(
                client,
                dev,
                client=CLI_CLIENT,
                scopes=["operator.admin"],
                auth={"deviceToken": token},
            )
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["method"] == "device-token"


@pytest.mark.parametrize(
    ("method", "reason"),
    [
        ("device.token.revoke", "device-token-revoked"),
        ("device.token.rotate", "device-token-rotated"),
        ("device.pair.remove", "device-pair-removed"),
    ],
)
async def test_invalidated_token_closes_the_live_socket_and_fails_on_reconnect(
    gw: RunningGateway, nursery: trio.Nursery, method: str, reason: str
) -> None:
    dev = SigningDevice(b"live-" + method.encode())
    with trio.fail_after(BOUND):
        token = await _pair_locally(nursery, gw, dev, ["operator.read"])
        async with remote_client(nursery, gw.port) as live:
            frame = await send_connect(live, dev, client=CLI_CLIENT, auth={"deviceToken": token})
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["method"] == "device-token"
            assert frame["payload"]["auth"]["deviceToken"] == token  # reused, not re-minted
            assert (await live.call("health"))["ok"]
            params: dict[str, Any] = {"deviceId": dev.id}
            if method != "device.pair.remove":
                params["role"] = "operator"
            async with ws_connected(nursery, gw.port, **operator(["operator.admin"])) as admin:
                res = await admin.call(method, params)
                assert res["ok"], res
            closed = await read_until_closed(live)
        assert (closed.code, closed.reason) == (4001, f"client invalidated: {reason}")
        if method == "device.token.rotate":
            assert "token" not in res["payload"]
            assert res["payload"]["tokenDelivery"] == "withheld-cross-device"
        async with remote_client(nursery, gw.port) as again:
            frame = await send_connect(again, dev, client=CLI_CLIENT, auth={"deviceToken": token})
            error, closed = await refused(again, frame)
    assert error["code"] == "INVALID_REQUEST"
    assert error["details"]["code"] == "AUTH_DEVICE_TOKEN_MISMATCH"
    assert error["message"] == "unauthorized: device token mismatch (rotate/reissue device token)"
    assert closed.code == 1008
    state = snapshot(gw)
    if method == "device.pair.remove":
        assert state == EMPTY
    else:
        [tokens] = state["tokens"].values()
        assert tokens["operator"]["token"] != token or tokens["operator"].get("revokedAtMs")


async def test_remote_deviceless_admin_scopes_are_cleared(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    """Item 14: a token alone does not carry operator.admin anywhere but the local CLI."""
    with trio.fail_after(BOUND):
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(client, None, client=CLI_CLIENT, scopes=["operator.admin"])
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["scopes"] == []
            res = await client.call("device.pair.list")
            assert res["error"]["code"] == "FORBIDDEN"
    assert snapshot(gw) == EMPTY


async def test_device_identity_is_enforced_unless_the_secret_validated(
    gw: RunningGateway, nursery: trio.Nursery
) -> None:
    """Item 17: a present-but-wrong secret does not stand in for a device."""
    with trio.fail_after(BOUND):
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(
                client, None, client={**APP_CLIENT, "id": "node-host", "mode": "node"},
                role="node", scopes=[], auth={"token": "wrong-token-0123456789"},
            )  # fmt: skip
            error, _ = await refused(client, frame)
        assert error["details"]["code"] == "AUTH_TOKEN_MISMATCH"
        async with remote_client(nursery, gw.port) as client:
            frame = await send_connect(
                client, None, client={**APP_CLIENT, "id": "node-host", "mode": "node"},
                role="node", scopes=[], auth={"token": TOKEN},
            )  # fmt: skip
            error, _ = await refused(client, frame)
        assert error["code"] == "NOT_PAIRED"
        assert error["details"] == {"code": "DEVICE_IDENTITY_REQUIRED"}
    assert snapshot(gw) == EMPTY
