"""codec: text <-> frames. Decoding failures are RemoteProtocolError subclasses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclaw_gateway.core.errors import RemoteProtocolError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import REQUEST_FRAME_SCHEMA, RequestFrame
from openclaw_gateway.protocol.schema import validate


def test_decode_request_with_params() -> None:
    frame = codec.decode_request('{"type":"req","id":"2:abc","method":"status","params":{"a":1}}')
    assert frame == RequestFrame(id="2:abc", method="status", params={"a": 1}, params_present=True)


def test_decode_request_without_params_key() -> None:
    # The probe CLI sends health/status with no `params` key at all.
    frame = codec.decode_request('{"type":"req","id":"2:abc","method":"health"}')
    assert frame.params is None
    assert frame.params_present is False


def test_decode_request_with_null_params_is_present_but_none() -> None:
    frame = codec.decode_request('{"type":"req","id":"x","method":"health","params":null}')
    assert frame.params is None
    assert frame.params_present is True


def test_decode_request_keeps_optional_frame_fields_valid() -> None:
    text = json.dumps(
        {
            "type": "req",
            "id": "x",
            "method": "m",
            "traceparent": "t" * 128,
            "expectedProfileId": "p",
        }
    )
    assert codec.decode_request(text).method == "m"


def test_binary_frames_are_decoded_as_utf8() -> None:
    frame = codec.decode_request('{"type":"req","id":"é","method":"ping"}'.encode())
    assert frame.id == "é"


def test_invalid_utf8_in_binary_frame_becomes_replacement_char_like_node() -> None:
    # Node's Buffer.toString("utf8") never throws; JSON.parse then sees U+FFFD.
    frame = codec.decode_request(b'{"type":"req","id":"a\xffb","method":"ping"}')
    assert frame.id == "a\ufffdb"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not json",
        "{",
        '{"type":"req",}',
        "{'type':'req'}",
        "NaN",
        '{"type":"req","id":"1","method":"connect","params":NaN}',
        '{"type":"req","id":"1","method":"connect","params":[Infinity]}',
        '{"type":"req","id":"1","method":"connect","params":-Infinity}',
        "\ufeff{}",
        b"\x00\x01",
        "[" * 100_000,
    ],
)
def test_not_json_raises_not_json_error(text: str | bytes) -> None:
    with pytest.raises(codec.NotJsonError) as info:
        codec.decode_request(text)
    assert isinstance(info.value, RemoteProtocolError)
    assert not isinstance(info.value, codec.InvalidFrameError)


@pytest.mark.parametrize(
    ("value", "frame_id", "errors"),
    [
        ([], None, "must be object"),
        (None, None, "must be object"),
        (42, None, "must be object"),
        (
            {"type": "req", "id": "", "method": "m"},
            "",
            "at /id: must not have fewer than 1 characters",
        ),
        (
            {"type": "req", "id": "7", "method": "m", "extra": 1},
            "7",
            "at root: unexpected property 'extra'",
        ),
        ({"type": "req", "id": 7, "method": "m"}, None, "at /id: must be string"),
        ({"type": "event", "id": "e", "method": "m"}, "e", "at /type: must be equal to constant"),
    ],
)
def test_invalid_frames_carry_errors_and_readable_id(
    value: Any, frame_id: str | None, errors: str
) -> None:
    with pytest.raises(codec.InvalidFrameError) as info:
        codec.decode_request(json.dumps(value))
    exc = info.value
    assert exc.errors == errors
    assert str(exc) == f"invalid request frame: {errors}"
    assert exc.frame_id == frame_id
    assert exc.close_code == 1008


def test_request_from_value_accepts_an_already_parsed_value() -> None:
    frame = codec.request_from_value({"type": "req", "id": "1", "method": "x", "params": [1]})
    assert frame.params == [1]


def test_encode_is_compact_and_keeps_non_ascii_raw() -> None:
    assert codec.encode({"a": [1, 2], "b": "é✓"}) == '{"a":[1,2],"b":"é✓"}'


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        codec.encode({"x": float("nan")})


def test_response_and_error_response_shapes() -> None:
    assert json.loads(codec.response("1", {"ok": True})) == {
        "type": "res",
        "id": "1",
        "ok": True,
        "payload": {"ok": True},
    }
    error = {"code": "INVALID_REQUEST", "message": "nope"}
    assert codec.error_response("2", error) == (
        '{"type":"res","id":"2","ok":false,"error":{"code":"INVALID_REQUEST","message":"nope"}}'
    )


def test_event_omits_seq_and_state_version_unless_given() -> None:
    assert codec.event("tick", {"ts": 1}) == '{"type":"event","event":"tick","payload":{"ts":1}}'
    framed = json.loads(
        codec.event("presence", {"presence": []}, seq=3, state_version={"presence": 2, "health": 1})
    )
    assert framed == {
        "type": "event",
        "event": "presence",
        "payload": {"presence": []},
        "seq": 3,
        "stateVersion": {"presence": 2, "health": 1},
    }


def test_event_seq_zero_is_kept() -> None:
    assert json.loads(codec.event("tick", {}, seq=0))["seq"] == 0


def test_round_trip_through_decode() -> None:
    text = codec.encode({"type": "req", "id": "9", "method": "wake", "params": {"text": "ünï"}})
    assert codec.decode_request(text).params == {"text": "ünï"}


_FRAME_PARTS = {
    "type": st.sampled_from(["req", "res", "event", "", 1, None]),
    "id": st.one_of(st.text(max_size=3), st.integers(), st.none()),
    "method": st.one_of(st.text(max_size=3), st.integers(), st.none()),
    "params": st.one_of(
        st.none(), st.integers(), st.dictionaries(st.text(max_size=2), st.integers())
    ),
    "traceparent": st.one_of(st.text(max_size=3), st.integers()),
    "other": st.integers(),
}


@given(st.fixed_dictionaries({}, optional=_FRAME_PARTS))
def test_the_common_frame_shortcut_accepts_exactly_what_the_schema_accepts(
    value: dict[str, object],
) -> None:
    expected_valid = validate(REQUEST_FRAME_SCHEMA, value) == []
    try:
        frame = codec.request_from_value(value)
    except codec.InvalidFrameError:
        assert not expected_valid
        return
    assert expected_valid
    assert (frame.id, frame.method) == (value["id"], value["method"])
    assert (frame.params, frame.params_present) == (value.get("params"), "params" in value)
