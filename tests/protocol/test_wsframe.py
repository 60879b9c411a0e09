"""protocol/wsframe.py: the client's frames as the server reads them (RFC 6455).

The valid side is checked against an independent encoder (wsproto's client, which masks with
a random key) over random message sequences cut into random chunks; the invalid side frame by
frame, each with the close code the peer is owed."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol

from openclaw_gateway.protocol.wsframe import (
    BINARY,
    CLOSE,
    NO_STATUS,
    PING,
    PONG,
    TEXT,
    ClientFrames,
    FrameError,
    close_payload,
    unmask,
)
from tests.rawws import client_frame

CAP = 1 << 20


def masked(first: int, payload: bytes, size: int | None = None) -> bytes:
    """One client frame by hand (tests/rawws), with a real mask; `size` overrides the length."""
    return client_frame(first, payload, key=b"\x01\x02\x03\x04", length=size)


def decode_all(
    data: bytes, chunks: list[int] | None = None, cap: int = CAP
) -> list[tuple[int, object]]:
    frames = ClientFrames(cap)
    out: list[tuple[int, object]] = []
    cuts = chunks or [len(data)]
    pos = 0
    for cut in [*cuts, len(data)]:
        piece, pos = data[pos : pos + cut], pos + cut
        if piece:
            frames.feed(piece)
        while (item := frames.next()) is not None:
            out.append(item)
        if pos >= len(data):
            break
    return out


def code_of(data: bytes, cap: int = CAP) -> int:
    with pytest.raises(FrameError) as caught:
        decode_all(data, cap=cap)
    return caught.value.code


# -- what a client may send -----------------------------------------------------------------

message = st.one_of(
    st.tuples(st.just(TEXT), st.text(max_size=300)),
    st.tuples(st.just(BINARY), st.binary(max_size=300)),
    st.tuples(st.just(PING), st.binary(max_size=125)),
    st.tuples(st.just(PONG), st.binary(max_size=125)),
)


@given(
    messages=st.lists(st.tuples(message, st.integers(1, 4)), max_size=8),
    chunks=st.lists(st.integers(1, 97), max_size=40),
)
def test_what_wsproto_encodes_comes_out_whole_in_order(
    messages: list[tuple[tuple[int, object], int]], chunks: list[int]
) -> None:
    client = FrameProtocol(client=True, extensions=[])
    wire = b""
    for (opcode, payload), pieces in messages:
        if opcode in (PING, PONG):
            assert isinstance(payload, bytes)
            wire += client.ping(payload) if opcode == PING else client.pong(payload)
            continue
        # A data message in `pieces` fragments (wsproto marks the continuations itself).
        assert isinstance(payload, str | bytes)
        step = max(1, len(payload) // pieces)
        parts = [payload[i : i + step] for i in range(0, len(payload), step)] or [payload[:0]]
        for index, part in enumerate(parts):
            wire += client.send_data(part, fin=index == len(parts) - 1)
    expected = [(op, p) for (op, p), _ in messages]
    assert decode_all(wire, chunks) == expected


@given(st.binary(max_size=2000), st.binary(min_size=4, max_size=4))
def test_unmask_is_the_bytewise_xor(payload: bytes, key: bytes) -> None:
    assert unmask(payload, key) == bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_close_codes_and_reasons() -> None:
    assert close_payload(b"") == (NO_STATUS, "")
    assert close_payload(struct.pack("!H", 1000) + "bye ✓".encode()) == (1000, "bye ✓")
    assert close_payload(struct.pack("!H", 4321)) == (4321, "")
    assert decode_all(masked(0x88, struct.pack("!H", 1001))) == [(CLOSE, struct.pack("!H", 1001))]


def test_a_split_code_point_across_fragments_is_valid_text() -> None:
    snowman = "☃".encode()
    wire = masked(0x01, snowman[:1]) + masked(0x00, snowman[1:2]) + masked(0x80, snowman[2:])
    assert decode_all(wire, [1] * len(wire)) == [(TEXT, "☃")]


def test_control_frames_may_come_between_fragments() -> None:
    wire = masked(0x01, b"ab") + masked(0x89, b"p") + masked(0x80, b"cd")
    assert decode_all(wire) == [(PING, b"p"), (TEXT, "abcd")]


def test_nothing_comes_out_of_a_partial_frame_and_the_rest_completes_it() -> None:
    frames = ClientFrames(CAP)
    wire = masked(0x81, b"hello")
    frames.feed(wire[:3])
    assert frames.next() is None
    frames.feed(wire[3:] + masked(0x81, b"x")[:1])
    assert frames.next() == (TEXT, "hello")
    assert frames.next() is None


# -- what a client may not send, and the close code it is owed --------------------------------


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (masked(0xC1, b"x"), 1002),  # RSV1 (no permessage-deflate was negotiated)
        (masked(0xA1, b"x"), 1002),  # RSV2
        (masked(0x91, b"x"), 1002),  # RSV3
        (bytes((0x81, 0x01)) + b"x", 1002),  # not masked
        (masked(0x83, b"x"), 1002),  # reserved data opcode
        (masked(0x8B, b"x"), 1002),  # reserved control opcode
        (masked(0x80, b"x"), 1002),  # continuation with no message open
        (masked(0x01, b"a") + masked(0x81, b"b"), 1002),  # a new message inside one
        (masked(0x09, b"x"), 1002),  # fragmented ping
        (masked(0x89, b"x" * 126), 1002),  # control frame over 125 bytes
        (bytes((0x81, 0x80 | 126)) + struct.pack("!H", 5) + b"\0" * 9, 1002),  # long form for 5
        (bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 300) + b"\0" * 304, 1002),
        (masked(0x81, b"\xff"), 1007),  # not UTF-8
        (masked(0x81, "☃".encode()[:2]), 1007),  # a code point cut at the message's end
        (masked(0x81, b"\xed\xa0\x80"), 1007),  # an encoded surrogate
        (masked(0x88, b"\x03"), 1002),  # close with a 1-byte payload
        (masked(0x88, struct.pack("!H", 1005)), 1002),  # local-only codes
        (masked(0x88, struct.pack("!H", 1006)), 1002),
        (masked(0x88, struct.pack("!H", 1015)), 1002),
        (masked(0x88, struct.pack("!H", 999)), 1002),
        (masked(0x88, struct.pack("!H", 2000)), 1002),  # reserved, unassigned
        (masked(0x88, struct.pack("!H", 5000)), 1002),
        (masked(0x88, struct.pack("!H", 1000) + b"\xff"), 1007),  # reason not UTF-8
    ],
)
def test_violations_fail_with_the_code_owed(wire: bytes, code: int) -> None:
    assert code_of(wire) == code


def test_an_oversize_message_fails_on_its_header_before_its_payload_arrives() -> None:
    frames = ClientFrames(150)
    frames.feed(bytes((0x81, 0x80 | 126)) + struct.pack("!H", 151))  # no key, no payload yet
    with pytest.raises(FrameError) as caught:
        frames.next()
    assert caught.value.code == 1009


def test_the_cap_counts_every_fragment_of_a_message() -> None:
    wire = masked(0x01, b"a" * 60) + masked(0x80, b"b" * 41)
    assert code_of(wire, cap=100) == 1009
    assert decode_all(masked(0x01, b"a" * 60) + masked(0x80, b"b" * 40), cap=100) == [
        (TEXT, "a" * 60 + "b" * 40)
    ]


def test_the_cap_can_be_raised_between_messages() -> None:
    frames = ClientFrames(10)
    frames.max_message_size = 1000
    frames.feed(masked(0x82, b"z" * 500))
    assert frames.next() == (BINARY, b"z" * 500)


def test_many_frames_in_one_read_then_a_frame_split_across_reads() -> None:
    """Frames are taken by an offset into the read (not by copying the rest of it per frame),
    and a frame cut at the read's end is completed by the next one."""
    frames = ClientFrames(CAP)
    wire = b"".join(masked(0x81, f"m{i}".encode()) for i in range(3000))
    last = masked(0x82, b"tail" * 40)
    frames.feed(wire + last[:7])
    got = []
    while (item := frames.next()) is not None:
        got.append(item)
    assert got == [(TEXT, f"m{i}") for i in range(3000)]
    frames.feed(last[7:50])
    assert frames.next() is None
    frames.feed(last[50:])
    assert frames.next() == (BINARY, b"tail" * 40)
    assert frames.next() is None
