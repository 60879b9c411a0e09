"""protocol/wsupgrade.py: the opening handshake's checks and the 101 answer (RFC 6455 §4.2),
the same decisions wsproto's server handshake made (it is the oracle here)."""

from __future__ import annotations

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.utilities import RemoteProtocolError

from openclaw_gateway.protocol.wsupgrade import UpgradeRefused, accept_token, switching_protocols

GOOD = {
    "host": "127.0.0.1:18789",
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
}


def test_the_accept_token_of_rfc_6455_section_1_3() -> None:
    assert accept_token("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_valid_handshake_gets_the_answer_wsproto_would_give() -> None:
    answer = switching_protocols("GET", GOOD)
    assert answer.startswith(b"HTTP/1.1 101 ")
    ours = _headers(answer)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(_request("GET", GOOD))
    assert isinstance(next(server.events()), Request)
    theirs = _headers(server.send(AcceptConnection()))
    assert ours == theirs


def _request(method: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} / HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _headers(response: bytes) -> dict[str, str]:
    head, _, rest = response.partition(b"\r\n\r\n")
    assert rest == b""
    status, *lines = head.decode().split("\r\n")
    assert status.startswith("HTTP/1.1 101")
    return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}


@pytest.mark.parametrize(
    ("method", "change", "status"),
    [
        ("POST", {}, 400),
        ("GET", {"connection": "keep-alive"}, 400),
        ("GET", {"connection": None}, 400),
        ("GET", {"sec-websocket-version": "8"}, 426),
        ("GET", {"sec-websocket-version": None}, 400),
        ("GET", {"sec-websocket-key": None}, 400),
        ("GET", {"upgrade": "h2c"}, 400),
        ("GET", {"host": None}, 400),
        ("GET", {"connection": "keep-alive, Upgrade"}, None),  # a token list, any case
        ("GET", {"upgrade": "WebSocket"}, None),
    ],
)
def test_refusals_match_wsproto(
    method: str, change: dict[str, str | None], status: int | None
) -> None:
    headers = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    wsproto_status: int | None = None
    server = WSConnection(ConnectionType.SERVER)
    try:
        server.receive_data(_request(method, headers))
        list(server.events())
    except RemoteProtocolError as exc:
        wsproto_status = getattr(exc.event_hint, "status_code", 400)
    if status is None:
        assert wsproto_status is None
        assert switching_protocols(method, headers).startswith(b"HTTP/1.1 101 ")
        return
    assert wsproto_status == status
    with pytest.raises(UpgradeRefused) as refused:
        switching_protocols(method, headers)
    assert refused.value.status == status
    if status == 426:  # the version we speak is named
        assert refused.value.headers == (("Sec-WebSocket-Version", "13"),)
