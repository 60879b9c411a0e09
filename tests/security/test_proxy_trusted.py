"""Forwarded-header attacks over a real 127.0.0.1 socket (protocol.md §3.4; security.md 6-7).

`X-Forwarded-For` is a header anyone can type. It is believed only from a TCP peer listed in
gateway.trustedProxies; from anyone else (loopback included) the upgrade is refused with 403,
so a spoofed `X-Forwarded-For: 127.0.0.1` can never make a remote client look local.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from tests.helpers import TOKEN
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import (
    ADMIN_SCOPES,
    MAC_APP_CONNECT,
    StartGateway,
    ws_client,
    ws_connected,
    ws_rejection,
)

TIMEOUT = 10
CLI = {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"}
PROXY_403 = {
    "error": {
        "message": "Proxy client attribution is required. Configure gateway.trustedProxies "
        "narrowly for the proxy in front of this gateway.",
        "type": "proxy_attribution_required",
    }
}


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "127.0.0.1"},
        {"X-Forwarded-For": "203.0.113.9"},
        {"X-Real-IP": "127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
        {"X-Forwarded-Host": "localhost"},
    ],
)
async def test_forwarded_headers_from_an_untrusted_loopback_peer_get_403(
    start: StartGateway, headers: dict[str, str]
) -> None:
    gw = await start()  # trustedProxies empty: the loopback peer is not a proxy we trust
    with trio.fail_after(TIMEOUT):
        rejected = await ws_rejection(gw.port, **headers)
    assert rejected is not None
    assert rejected.status_code == 403
    assert rejected.body is not None
    import json

    assert json.loads(rejected.body) == PROXY_403


async def test_spoofed_loopback_through_a_trusted_proxy_is_unattributable(
    start: StartGateway,
) -> None:
    """Even a trusted proxy cannot vouch that its client is loopback."""
    gw = await start(trusted_proxies=("127.0.0.0/8",))
    with trio.fail_after(TIMEOUT):
        for headers in (
            {"X-Forwarded-For": "127.0.0.1"},
            {"X-Forwarded-For": "::1, 127.0.0.1"},
            {"X-Real-IP": "198.51.100.7"},  # X-Real-IP needs allowRealIpFallback
        ):
            rejected = await ws_rejection(gw.port, **headers)
            assert rejected is not None and rejected.status_code == 403, headers


async def test_x_real_ip_is_used_only_with_the_fallback(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(trusted_proxies=("127.0.0.1",), allow_real_ip_fallback=True)
    with trio.fail_after(TIMEOUT):
        async with ws_client(nursery, gw.port, X_Real_IP="198.51.100.7") as client:
            frame = await client.connect(client=CLI, scopes=ADMIN_SCOPES)
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["scopes"] == []  # remote: not the local CLI


async def _hosts_with_ip(nursery: trio.Nursery, port: int) -> dict[str, Any]:
    async with ws_connected(nursery, port, scopes=ADMIN_SCOPES) as admin:
        reply = await admin.call("system-presence")
        return {str(row.get("host")): row.get("ip") for row in reply["payload"]}


async def test_trusted_proxy_client_is_remote_and_attributed(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(trusted_proxies=("10.9.9.9", "127.0.0.1/32"))
    with trio.fail_after(TIMEOUT):
        # The CLI behind the proxy is remote: it does not keep its requested scopes.
        async with ws_client(nursery, gw.port, X_Forwarded_For="198.51.100.7") as client:
            frame = await client.connect(client=CLI, scopes=ADMIN_SCOPES)
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["scopes"] == []
        # A tracked client shows up in presence with the forwarded address.
        async with ws_client(nursery, gw.port, X_Forwarded_For="198.51.100.8, 127.0.0.1") as app:
            frame = await app.connect(**MAC_APP_CONNECT)
            assert frame["ok"], frame
            hosts = await _hosts_with_ip(nursery, gw.port)
            assert hosts["Test Mac"] == "198.51.100.8"


async def test_a_wrong_token_via_the_proxy_gets_the_remote_hint(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(trusted_proxies=("127.0.0.1",))
    with trio.fail_after(TIMEOUT):
        async with ws_client(nursery, gw.port, X_Forwarded_For="198.51.100.7") as client:
            frame = await client.connect(client=CLI, auth={"token": TOKEN + "x"})
            assert frame["error"]["message"] == (
                "unauthorized: gateway token mismatch "
                "(set gateway.remote.token to match gateway.auth.token)"
            )
