"""Plain HTTP on the gateway port (protocol.md §1.1, §3.4, §9.1), spoken over raw TCP."""

from __future__ import annotations

import json

import pytest
import trio

from openclaw_gateway.server.web.control_ui import ControlUiSettings
from tests.helpers import TOKEN, RunningGateway
from tests.server.integration.support import (
    HttpReply,
    StartGateway,
    http_request,
    raw_http,
    ws_client,
    ws_rejection,
)

BOUND = 5

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(self), geolocation=()",
}


def _assert_json_probe(reply: HttpReply) -> None:
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.headers["cache-control"] == "no-store"
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value


@pytest.mark.parametrize("path", ["/health", "/healthz", "/healthz?verbose=1"])
async def test_liveness(gateway: RunningGateway, path: str) -> None:
    with trio.fail_after(BOUND):
        reply = await http_request(gateway.port, "GET", path)
    assert reply.status == 200
    assert reply.json() == {"ok": True, "status": "live"}
    _assert_json_probe(reply)
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize("path", ["/health", "/healthz", "/ready", "/readyz"])
async def test_head_has_headers_and_no_body(gateway: RunningGateway, path: str) -> None:
    with trio.fail_after(BOUND):
        get = await http_request(gateway.port, "GET", path)
        head = await http_request(gateway.port, "HEAD", path)
    assert head.status == 200
    assert head.body == b""
    _assert_json_probe(head)
    if path in ("/health", "/healthz"):
        assert head.headers["content-length"] == get.headers["content-length"]


@pytest.mark.parametrize("path", ["/ready", "/readyz"])
async def test_readiness_from_loopback_has_details(gateway: RunningGateway, path: str) -> None:
    with trio.fail_after(BOUND):
        reply = await http_request(gateway.port, "GET", path)
    assert reply.status == 200
    _assert_json_probe(reply)
    body = reply.json()
    assert body["ready"] is True
    assert body["failing"] == []
    assert isinstance(body["uptimeMs"], int)
    assert isinstance(body["eventLoop"], dict)
    assert isinstance(body["eventLoop"]["degraded"], bool)


async def test_readiness_via_a_proxy_needs_the_bearer_secret(gateway: RunningGateway) -> None:
    """Forwarded headers make a loopback caller non-local: details only with the secret."""
    proxied = [("X-Forwarded-For", "203.0.113.9")]
    with trio.fail_after(BOUND):
        bare = await http_request(gateway.port, "GET", "/readyz", proxied)
        wrong = await http_request(
            gateway.port, "GET", "/readyz", [*proxied, ("Authorization", "Bearer nope")]
        )
        good = await http_request(
            gateway.port, "GET", "/readyz", [*proxied, ("Authorization", f"Bearer {TOKEN}")]
        )
    assert (bare.status, bare.json()) == (200, {"ready": True})
    assert (wrong.status, wrong.json()) == (200, {"ready": True})
    assert good.status == 200
    assert good.json()["failing"] == []
    assert "uptimeMs" in good.json()


@pytest.mark.parametrize("path", ["/startup", "/startupz"])
async def test_startup_probe(gateway: RunningGateway, path: str) -> None:
    with trio.fail_after(BOUND):
        reply = await http_request(gateway.port, "GET", path)
    assert reply.status == 200
    body = reply.json()
    assert body["ok"] is True
    assert body["status"] == "started"
    assert body["version"] == gateway.settings.version
    assert isinstance(body["uptimeMs"], int)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_other_methods_are_405(gateway: RunningGateway, method: str, path: str) -> None:
    with trio.fail_after(BOUND):
        reply = await http_request(gateway.port, method, path, body=b"{}")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value


@pytest.mark.parametrize("path", ["/", "/nope", "/healthz/extra", "/v1/models"])
async def test_unknown_paths_are_404(start: StartGateway, path: str) -> None:
    """With the web page off (gateway.controlUi.enabled false) nothing else answers."""
    gateway = await start(control_ui=ControlUiSettings(enabled=False))
    with trio.fail_after(BOUND):
        reply = await http_request(gateway.port, "GET", path)
    assert reply.status == 404
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value


@pytest.mark.parametrize(
    "header",
    [
        ("X-Forwarded-For", "198.51.100.7"),
        ("X-Real-IP", "198.51.100.7"),
        ("Forwarded", "for=198.51.100.7"),
        ("Tailscale-User-Login", "someone@example.com"),
    ],
    ids=["x-forwarded-for", "x-real-ip", "forwarded", "tailscale"],
)
async def test_upgrade_with_forwarded_headers_is_403(
    gateway: RunningGateway, header: tuple[str, str]
) -> None:
    request = (
        "GET / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{gateway.port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"{header[0]}: {header[1]}\r\n"
        "\r\n"
    ).encode()
    with trio.fail_after(BOUND):
        raw = await raw_http(gateway.port, request)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 ")
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["type"] == "proxy_attribution_required"
    assert error["message"].startswith("Proxy client attribution is required.")


async def test_websocket_client_sees_the_403(gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        rejected = await ws_rejection(gateway.port, x_forwarded_for="198.51.100.7")
        accepted = await ws_rejection(gateway.port)
    assert rejected is not None
    assert rejected.status_code == 403
    assert rejected.body is not None
    assert json.loads(rejected.body)["error"]["type"] == "proxy_attribution_required"
    # Without the header the same upgrade goes through.
    assert accepted is None


async def test_non_websocket_upgrade_is_400(gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        reply = await http_request(
            gateway.port, "GET", "/", [("Upgrade", "h2c"), ("Connection", "Upgrade")]
        )
    assert reply.status == 400


async def test_garbage_request_is_400(gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        raw = await raw_http(gateway.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 ")


async def test_probes_and_websockets_share_the_port(
    nursery: trio.Nursery, gateway: RunningGateway
) -> None:
    """A probe in the middle of a live session does not disturb it."""
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gateway.port) as client:
            await client.connect()
            reply = await http_request(gateway.port, "GET", "/healthz")
            res = await client.call("health")
    assert reply.status == 200
    assert res["ok"] is True
