"""Frames a client may not send, over a real socket: the gateway answers with the close code
the peer is owed (1002 protocol, 1007 not UTF-8), an empty reason as the official server's
`ws`, and hangs up. And what it may send: fragments with a ping between them, a close with no
code. The client is written by hand (wsproto refuses to send most of these)."""

from __future__ import annotations

import json
import struct

import pytest
import trio

from tests.helpers import RunningGateway, connect_params
from tests.rawws import RawWs, client_frame

BOUND = 5  # seconds for each exchange
KEY = b"\x11\x22\x33\x44"


def frame(first: int, payload: bytes) -> bytes:
    return client_frame(first, payload, key=KEY)  # a real mask: the server must unmask


async def _upgraded(port: int) -> RawWs:
    raw = RawWs(await trio.open_tcp_stream("127.0.0.1", port))
    await raw.upgrade(port)
    assert (await raw.text())["event"] == "connect.challenge"
    return raw


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(0xC1, b"{}"), 1002),  # RSV1 without permessage-deflate
        (bytes((0x81, 0x02)) + b"{}", 1002),  # not masked
        (frame(0x80, b"{}"), 1002),  # continuation with no message open
        (frame(0x89, b"x" * 126), 1002),  # control frame over 125 bytes
        (frame(0x88, b"\x03"), 1002),  # close with a 1-byte payload
        (frame(0x81, b"\xff\xfe"), 1007),  # text that is not UTF-8
    ],
)
async def test_a_bad_frame_closes_with_the_code_owed_and_an_empty_reason(
    gateway: RunningGateway, bad: bytes, code: int
) -> None:
    with trio.fail_after(BOUND):
        raw = await _upgraded(gateway.port)
        async with raw.stream:
            await raw.stream.send_all(bad)
            assert await raw.frame() == (0x8, struct.pack("!H", code))  # the code, no reason
            # Our close answered, the server hangs up (EOF) instead of reading on.
            await raw.stream.send_all(frame(0x88, struct.pack("!H", 1000)))
            with pytest.raises(EOFError):
                await raw.frame()


async def test_fragments_with_a_ping_between_them_make_one_request(
    gateway: RunningGateway,
) -> None:
    connect = json.dumps(
        {"type": "req", "id": "c1", "method": "connect", "params": connect_params()}
    )
    body = connect.encode()
    with trio.fail_after(BOUND):
        raw = await _upgraded(gateway.port)
        async with raw.stream:
            await raw.stream.send_all(
                frame(0x01, body[:10]) + frame(0x89, b"hi") + frame(0x80, body[10:])
            )
            assert await raw.frame() == (0xA, b"hi")  # the pong, at once
            hello = await raw.text()
            assert (hello["id"], hello["ok"]) == ("c1", True)
            # A close with no code is answered with none.
            await raw.stream.send_all(frame(0x88, b""))
            assert await raw.frame() == (0x8, b"")


async def test_an_unsupported_version_is_told_the_one_we_speak(gateway: RunningGateway) -> None:
    with trio.fail_after(BOUND):
        async with await trio.open_tcp_stream("127.0.0.1", gateway.port) as stream:
            await stream.send_all(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 8\r\n\r\n"
            )
            answer = b""
            while data := await stream.receive_some(65536):
                answer += data
    assert answer.startswith(b"HTTP/1.1 426 ")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in answer


async def test_a_frame_sent_with_the_request_head_is_read(gateway: RunningGateway) -> None:
    """A client that does not wait for the 101 (its first frame in the same packet as the
    head): the frame is the connect, answered after the challenge."""
    connect = json.dumps(
        {"type": "req", "id": "c1", "method": "connect", "params": connect_params()}
    )
    with trio.fail_after(BOUND):
        async with await trio.open_tcp_stream("127.0.0.1", gateway.port) as stream:
            raw = RawWs(stream)
            head = await raw.upgrade(gateway.port, behind_head=frame(0x81, connect.encode()))
            assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
            assert (await raw.text())["event"] == "connect.challenge"
            hello = await raw.text()
            assert (hello["id"], hello["ok"]) == ("c1", True)
