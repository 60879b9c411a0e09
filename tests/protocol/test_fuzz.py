"""Property tests: the sans-IO core never crashes on peer input, and admission never over-grants."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_gateway.core.errors import RemoteProtocolError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import (
    CLIENT_MODES,
    CONNECT_PARAMS_SCHEMA,
    GATEWAY_CLIENT_IDS,
    REQUEST_FRAME_SCHEMA,
    RequestFrame,
)
from openclaw_gateway.protocol.handshake import (
    MAX_CLOSE_REASON_BYTES,
    ConnectRequest,
    Refusal,
    negotiate,
    read_connect,
    truncate_close_reason,
)
from openclaw_gateway.security import scopes as S
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.admission import Admission, Peer, admit

BOUNDED = settings(max_examples=200, deadline=None)
SECRET = "s3cret-0123456789"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _rarely(draw: st.DrawFn) -> bool:
    # Not 0: Hypothesis favours boundary values, so 0 would come up far too often.
    return draw(st.integers(0, 11)) == 5


@st.composite
def shaped(
    draw: st.DrawFn,
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]],
) -> dict[str, Any]:
    """An object that is mostly right: required keys are rarely dropped, values rarely replaced
    by arbitrary JSON, optional keys come and go, and now and then an unknown key is added."""
    out: dict[str, Any] = {}
    for key, strategy in required.items():
        if not _rarely(draw):
            out[key] = draw(json_values if _rarely(draw) else strategy)
    for key, strategy in optional.items():
        if draw(st.booleans()):
            out[key] = draw(json_values if _rarely(draw) else strategy)
    if _rarely(draw):
        out[draw(st.text(max_size=8))] = draw(json_values)
    return out


non_empty = st.text(min_size=1, max_size=20)
client_shaped = shaped(
    {
        "id": st.sampled_from(GATEWAY_CLIENT_IDS),
        "version": non_empty,
        "platform": st.sampled_from(["linux", "macos", "windows"]),
        "mode": st.sampled_from(CLIENT_MODES),
    },
    {"displayName": non_empty, "instanceId": non_empty, "timeZone": non_empty},
)
connect_shaped = shaped(
    {
        "minProtocol": st.integers(min_value=1, max_value=6),
        "maxProtocol": st.integers(min_value=1, max_value=6),
        "client": client_shaped,
    },
    {
        "role": st.sampled_from(["operator", "node", "worker", "admin", ""]),
        "scopes": st.lists(st.sampled_from([*S.OPERATOR_SCOPES, "x", ""]), max_size=4),
        "auth": shaped({}, {"token": st.text(max_size=8), "password": st.text(max_size=8)}),
        "device": shaped(
            {
                "id": non_empty,
                "publicKey": non_empty,
                "signature": non_empty,
                "signedAt": st.integers(min_value=0),
                "nonce": non_empty,
            },
            {},
        ),
        "caps": st.lists(non_empty, max_size=3),
        "modelCatalog": shaped({}, {"agentId": non_empty, "shortId": non_empty}),
    },
)
frame_shaped = shaped(
    {
        "type": st.just("req"),
        "id": non_empty,
        "method": st.just("connect"),
        "params": connect_shaped,
    },
    {"traceparent": st.text(max_size=130)},
)


# --- (a) codec.decode_request -------------------------------------------------------------


@BOUNDED
@given(st.one_of(st.text(), st.binary(), json_values.map(json.dumps), frame_shaped.map(json.dumps)))
def test_decode_request_raises_only_remote_protocol_errors(message: str | bytes) -> None:
    failure: RemoteProtocolError | None = None
    try:
        frame = codec.decode_request(message)
    except RemoteProtocolError as exc:  # anything else fails the test
        failure = exc
    if failure is not None:
        assert isinstance(failure, codec.NotJsonError | codec.InvalidFrameError)
        assert failure.close_code == 1008
    else:
        assert isinstance(frame, RequestFrame)
        assert frame.id
        assert frame.method


# --- (b) handshake.read_connect -----------------------------------------------------------


@BOUNDED
@given(st.one_of(frame_shaped, frame_shaped, frame_shaped, json_values).map(json.dumps))
def test_read_connect_never_raises_and_refusals_are_well_formed(text: str) -> None:
    outcome = read_connect(text)
    assert isinstance(outcome, ConnectRequest | Refusal)
    if isinstance(outcome, Refusal):
        assert outcome.close_code in (1000, 1008)
        assert len(outcome.close_reason.encode()) <= MAX_CLOSE_REASON_BYTES
        if outcome.error is not None:
            assert outcome.request_id == json.loads(text)["id"]
            assert outcome.error["code"] == "INVALID_REQUEST"
            assert outcome.error["message"]
        return
    refusal = negotiate(outcome)
    if refusal is not None:
        assert refusal.close_code in (1002, 1008)
        assert len(refusal.close_reason.encode()) <= MAX_CLOSE_REASON_BYTES


@BOUNDED
@given(st.text())
def test_truncated_close_reason_is_a_utf8_prefix_within_the_limit(reason: str) -> None:
    truncated = truncate_close_reason(reason)
    raw = truncated.encode()
    assert len(raw) <= MAX_CLOSE_REASON_BYTES
    assert reason.encode().startswith(raw)
    # Maximal: the next character would not have fitted.
    if truncated != reason:
        next_char = reason[len(truncated)]
        assert len(raw) + len(next_char.encode()) > MAX_CLOSE_REASON_BYTES


# --- (c) admission.admit ------------------------------------------------------------------

secret_choice = st.sampled_from([None, "", "   ", SECRET, f" {SECRET} ", "wrong", SECRET.upper()])
policies = st.sampled_from(
    [
        AuthPolicy("token", token=SECRET),
        AuthPolicy("password", password=SECRET),
        AuthPolicy("none"),
        AuthPolicy("token", token="undefined"),
    ]
)
peers = st.builds(
    Peer,
    remote_ip=st.sampled_from(["127.0.0.1", "::1", "10.0.0.5", "203.0.113.9"]),
    is_loopback=st.booleans(),
    has_proxy_headers=st.booleans(),
    origin=st.sampled_from([None, "", "http://localhost:5173", "https://evil.example"]),
)


NON_WORKER_IDS = [i for i in GATEWAY_CLIENT_IDS if i != "openclaw-worker"]
NON_WORKER_MODES = [m for m in CLIENT_MODES if m != "worker"]


@st.composite
def connect_requests(draw: st.DrawFn) -> ConnectRequest:
    auth: dict[str, str] = {}
    for field in ("token", "password", "deviceToken"):
        value = draw(secret_choice)
        if value is not None:
            auth[field] = value
    params: dict[str, Any] = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {
            "id": draw(st.sampled_from(NON_WORKER_IDS)),
            "version": "1",
            "platform": "linux",
            "mode": draw(st.sampled_from(NON_WORKER_MODES)),
        },
        "role": draw(st.sampled_from(["operator", "node"])),
        "scopes": draw(st.lists(st.sampled_from([*S.OPERATOR_SCOPES, "custom"]), max_size=5)),
        "auth": auth,
    }
    if draw(st.booleans()):
        params["device"] = {
            "id": "d" * 64,
            "publicKey": "k",
            "signature": "s",
            "signedAt": 1,
            "nonce": "n",
        }
    outcome = read_connect(
        json.dumps({"type": "req", "id": "1", "method": "connect", "params": params})
    )
    assert isinstance(outcome, ConnectRequest)
    return outcome


def _expected_wire_secret(mode: str, token: str | None, password: str | None) -> str | None:
    token = (token or "").strip() or None
    password = (password or "").strip() or None
    return (token or password) if mode == "token" else (password or token)


@BOUNDED
@given(connect_requests(), peers, policies)
def test_admission_never_over_grants(
    request: ConnectRequest, peer: Peer, policy: AuthPolicy
) -> None:
    outcome = admit(request, peer, policy)
    params = request.params
    if isinstance(outcome, Refusal):
        assert outcome.close_code == 1008
        assert outcome.error is not None
        assert outcome.request_id == "1"
        return
    assert isinstance(outcome, Admission)
    # Never a scope that was not requested, never an operator scope for a node.
    assert set(outcome.scopes) <= set(params.scopes)
    if outcome.role == "node":
        assert not any(s.startswith("operator.") for s in outcome.scopes)
    assert outcome.role == params.role
    # Never admitted with a wrong or missing shared secret.
    if policy.mode in ("token", "password"):
        configured = policy.token if policy.mode == "token" else policy.password
        wire = _expected_wire_secret(policy.mode, params.auth.token, params.auth.password)
        assert wire is not None
        assert wire == configured
        assert outcome.method == policy.mode
    else:
        assert outcome.method == "none"
    # A device-less client that is not directly local keeps no scopes at all.
    if params.device is None and not peer.direct_local:
        assert outcome.scopes == ()
    # Device-less control UIs and nodes are never admitted.
    if params.device is None:
        assert params.client.id not in (
            "openclaw-control-ui",
            "openclaw-browser-copilot",
            "openclaw-tui",
        )
        assert params.role == "operator"


# --- (e) the schema's fast walk agrees with its worded errors ----------------------------


@BOUNDED
@given(st.one_of(frame_shaped, frame_shaped, frame_shaped, json_values))
def test_the_fast_valid_walk_agrees_with_the_errors_walk(value: Any) -> None:
    params = value.get("params") if isinstance(value, dict) else value
    for schema, checked in ((REQUEST_FRAME_SCHEMA, value), (CONNECT_PARAMS_SCHEMA, params)):
        assert schema.valid(checked) == (schema.errors(checked, "") == [])
