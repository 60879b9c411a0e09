"""Text <-> frames. Decoding failures are RemoteProtocolError; encoding is plain compact JSON.

The official server serialises with JSON.stringify: no spaces, non-ASCII emitted raw.

Valid JSON need not be valid Unicode: `"\\udcff"` is a legal escape for a lone UTF-16
surrogate, which no UTF-8 encoder accepts. Node's JSON.parse keeps it (JSON.stringify escapes
it again on the way out; where Node writes such a string as UTF-8 it substitutes U+FFFD). Here
the decision is made once, at the decoder: every lone surrogate in every decoded string (keys
and values, any method, any field) becomes U+FFFD, so nothing a client sends can be stored,
logged or broadcast in a form that later fails to encode.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from openclaw_gateway.core.errors import RemoteProtocolError
from openclaw_gateway.protocol.frames import REQUEST_FRAME_SCHEMA, RequestFrame
from openclaw_gateway.protocol.schema import format_errors, validate

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class NotJsonError(RemoteProtocolError):
    """The message is not JSON at all."""


class InvalidFrameError(RemoteProtocolError):
    """JSON, but not a valid request frame. `frame_id` echoes the id when one was readable."""

    def __init__(self, errors: str, frame_id: str | None) -> None:
        super().__init__(f"invalid request frame: {errors}", close_code=1008)
        self.errors = errors
        self.frame_id = frame_id


def _reject_constant(name: str) -> Any:
    # JSON.parse has no NaN/Infinity literals; Python's json would accept them.
    raise ValueError(f"not JSON: {name}")


# A surrogate escape in the text. Valid pairs match too; json.loads has joined them already,
# so they stay intact. Raw surrogates cannot arrive: text frames are strict UTF-8 (wsproto
# closes 1007 otherwise) and binary frames are decoded with errors="replace".
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text)


def _replace_lone_surrogates(value: Any) -> Any:
    """Every str in `value` with lone surrogates replaced. Iterative: a frame nested as deep
    as json.loads allows must not hit the recursion limit here."""
    if isinstance(value, str):
        return _clean(value)
    root = [value]
    stack: list[list[Any] | dict[str, Any]] = [root]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for i, item in enumerate(container):
                if isinstance(item, str):
                    container[i] = _clean(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
        else:
            if any(_LONE_SURROGATE.search(key) for key in container):
                items = list(container.items())
                container.clear()
                container.update((_clean(k), v) for k, v in items)
            for key, item in container.items():
                if isinstance(item, str):
                    container[key] = _clean(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
    return root[0]


# One decoder: json.loads with any keyword builds a new JSONDecoder per call.
_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(text: str | bytes) -> Any:
    try:
        if isinstance(text, bytes):
            # Binary frames are decoded as UTF-8 and treated like text; like Node's
            # Buffer.toString("utf8"), invalid sequences become U+FFFD instead of failing.
            text = text.decode("utf-8", errors="replace")
        value = _decoder.decode(text)
    except (ValueError, RecursionError) as exc:
        raise NotJsonError("message is not valid JSON") from exc
    # The substring test is a memchr-speed filter: most frames hold no \u escape at all.
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None:
        value = _replace_lone_surrogates(value)
    return value


def decode_request(text: str | bytes) -> RequestFrame:
    """Parse one client message into a RequestFrame or raise (NotJsonError | InvalidFrameError)."""
    value = parse_json(text)
    return request_from_value(value)


# The keys of the common request frame: for exactly these, the check below is the schema's.
_PLAIN_REQUEST_KEYS = frozenset(("type", "id", "method", "params"))


def request_from_value(value: Any) -> RequestFrame:
    # The common frame checked by hand (the schema walk was ~1.5 µs of every request); any
    # other shape, valid or not, goes through the schema and its error messages.
    if type(value) is dict and value.keys() <= _PLAIN_REQUEST_KEYS and value.get("type") == "req":
        frame_id, method = value.get("id"), value.get("method")
        if type(frame_id) is str and frame_id and type(method) is str and method:
            return RequestFrame(frame_id, method, value.get("params"), "params" in value)
    errors = validate(REQUEST_FRAME_SCHEMA, value)
    if errors:
        frame_id = value.get("id") if isinstance(value, dict) else None
        raise InvalidFrameError(
            format_errors(errors), frame_id if isinstance(frame_id, str) else None
        )
    return RequestFrame(
        id=value["id"],
        method=value["method"],
        params=value.get("params"),
        params_present="params" in value,
    )


@attrs.frozen
class Encoded:
    """A payload already encoded (e.g. to measure it): sent as it is, not encoded again."""

    text: str


def encode(value: Any) -> str:
    if isinstance(value, Encoded):
        return value.text
    return _encoder.encode(value)


def response(frame_id: str, payload: Any) -> str:
    if isinstance(payload, Encoded):  # the same bytes as the dict below would encode to
        return (
            '{"type":"res","id":'
            + _encoder.encode(frame_id)
            + ',"ok":true,"payload":'
            + (payload.text + "}")
        )
    return encode({"type": "res", "id": frame_id, "ok": True, "payload": payload})


def error_response(frame_id: str, error: dict[str, Any]) -> str:
    return encode({"type": "res", "id": frame_id, "ok": False, "error": error})


def event(name: str, payload: Any, *, seq: int | None = None, state_version: Any = None) -> str:
    frame: dict[str, Any] = {"type": "event", "event": name, "payload": payload}
    if seq is not None:
        frame["seq"] = seq
    if state_version is not None:
        frame["stateVersion"] = state_version
    return encode(frame)
