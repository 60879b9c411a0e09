"""Origin policy attacks over a real 127.0.0.1 socket (protocol.md §9.3; security.md items 3-5).

A browser page on an attacker's site can open a WebSocket to the user's loopback gateway; only
the Origin header tells it apart from the local CLI. Every rejection must come before auth,
pairing or presence work, so each test also checks that nothing changed.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from openclaw_gateway.security.origin import OriginPolicy
from tests.devicekit import SigningDevice
from tests.helpers import TOKEN, RunningGateway
from tests.security.support import EMPTY, refused, send_connect, snapshot
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import (
    ADMIN_SCOPES,
    MAC_APP_CONNECT,
    Closed,
    StartGateway,
    read_until_closed,
    ws_client,
    ws_connected,
)

TIMEOUT = 10
ORIGIN_MESSAGE = (
    "origin not allowed (open the Control UI from the gateway host or allow it in "
    "gateway.controlUi.allowedOrigins)"
)
CLI = {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"}
CONTROL_UI = {"id": "openclaw-control-ui", "version": "t", "platform": "web", "mode": "ui"}


async def _attempt(
    nursery: trio.Nursery, gw: RunningGateway, headers: dict[str, str], **overrides: Any
) -> tuple[dict[str, Any], Closed]:
    async with ws_client(nursery, gw.port, **headers) as client:
        frame = await client.connect(**overrides)
        assert frame["ok"] is False, frame
        return frame["error"], await read_until_closed(client)


def _origin_error(reason: str) -> dict[str, Any]:
    return {
        "code": "INVALID_REQUEST",
        "message": ORIGIN_MESSAGE,
        "details": {"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED", "reason": reason},
    }


async def _presence_hosts(nursery: trio.Nursery, gw: RunningGateway) -> list[Any]:
    async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as admin:
        reply = await admin.call("system-presence")
        return sorted(str(row.get("host")) for row in reply["payload"])


async def test_evil_origin_is_rejected_before_auth_even_with_the_right_token(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    with trio.fail_after(TIMEOUT):
        before = await _presence_hosts(nursery, gw)
        # A tracked client (it would create a presence row) with the *correct* token.
        error, closed = await _attempt(
            nursery, gw, {"Origin": "https://evil.example"}, **MAC_APP_CONNECT
        )
        assert error == _origin_error("origin not allowed")
        assert (closed.code, closed.reason) == (1008, ORIGIN_MESSAGE[:120])
        assert await _presence_hosts(nursery, gw) == before


async def test_a_self_declared_cli_with_an_origin_is_still_checked(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    with trio.fail_after(TIMEOUT):
        error, closed = await _attempt(
            nursery,
            gw,
            {"Origin": "https://evil.example"},
            client=CLI,
            scopes=ADMIN_SCOPES,
            auth={"token": TOKEN},
        )
        assert error["details"]["code"] == "CONTROL_UI_ORIGIN_NOT_ALLOWED"
        assert closed.code == 1008


@pytest.mark.parametrize("origin", ["null", "file://", "file:///tmp/x.html", "https://a/b"])
async def test_opaque_and_malformed_origins_are_rejected(
    nursery: trio.Nursery, start: StartGateway, origin: str
) -> None:
    gw = await start(origin_policy=OriginPolicy(("*",)))  # even a wildcard allowlist
    with trio.fail_after(TIMEOUT):
        error, closed = await _attempt(nursery, gw, {"Origin": origin}, client=CONTROL_UI)
        assert error == _origin_error("origin missing or invalid")
        assert closed.code == 1008


async def test_control_ui_without_origin_is_rejected(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    with trio.fail_after(TIMEOUT):
        error, _ = await _attempt(nursery, gw, {}, client=CONTROL_UI)
        assert error == _origin_error("origin missing or invalid")


async def test_origin_not_in_the_allowlist_from_a_remote_peer(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    """A non-loopback UI load (via a trusted proxy) needs gateway.controlUi.allowedOrigins."""
    gw = await start(
        trusted_proxies=("127.0.0.1",), origin_policy=OriginPolicy(("https://ui.example.com",))
    )
    remote = {"X-Forwarded-For": "198.51.100.7"}
    with trio.fail_after(TIMEOUT):
        error, _ = await _attempt(
            nursery, gw, {**remote, "Origin": "http://localhost:5173"}, client=CONTROL_UI
        )
        assert error == _origin_error("origin not allowed")
        # The allowed origin passes the Origin step (and then needs a device, as any UI).
        error, _ = await _attempt(
            nursery, gw, {**remote, "Origin": "https://ui.example.com"}, client=CONTROL_UI
        )
        assert error["details"]["code"] == "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"


async def test_native_client_without_origin_is_not_blocked(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, client=CLI, scopes=ADMIN_SCOPES) as client:
            assert client.hello is not None
            assert client.hello["auth"]["scopes"] == ADMIN_SCOPES


async def test_an_accepted_origin_still_loses_cli_scope_preservation(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    """A loopback Origin from a local client passes (rule 5) but is a browser: no scopes."""
    gw = await start()
    with trio.fail_after(TIMEOUT):
        async with ws_client(nursery, gw.port, Origin="http://localhost:5173") as client:
            frame = await client.connect(client=CLI, scopes=ADMIN_SCOPES)
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["scopes"] == []
            reply = await client.call("config.get")
            assert reply["error"]["code"] == "FORBIDDEN"


async def test_origin_rejection_leaves_no_pairing_state(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    """A correctly signed device with the right token from loopback would be paired silently;
    behind a foreign Origin the same connect must leave no row at all."""
    gw = await start()
    state_dir = gw.settings.state_dir

    def files() -> list[str]:
        return sorted(str(p.relative_to(state_dir)) for p in state_dir.rglob("*"))

    before = files()
    device = SigningDevice(b"origin-test-device")
    with trio.fail_after(TIMEOUT):
        for _ in range(3):
            async with ws_client(nursery, gw.port, Origin="https://evil.example") as client:
                frame = await send_connect(client, device, client=CLI, scopes=ADMIN_SCOPES)
                error, closed = await refused(client, frame)
            assert error["details"]["code"] == "CONTROL_UI_ORIGIN_NOT_ALLOWED"
            assert closed.code == 1008
        assert files() == before
        assert snapshot(gw) == EMPTY  # no paired device, no pending request, no token
        # Control: without the Origin the very same connect does pair (the attack had a prize).
        async with ws_client(nursery, gw.port) as client:
            frame = await send_connect(client, device, client=CLI, scopes=ADMIN_SCOPES)
            assert frame["ok"], frame
        assert snapshot(gw)["paired"]
