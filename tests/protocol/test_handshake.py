"""handshake: the first client frame and protocol negotiation (protocol.md §1.5, §2.2, §2.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openclaw_gateway.protocol.frames import ConnectParams
from openclaw_gateway.protocol.handshake import (
    MAX_CLOSE_REASON_BYTES,
    ConnectRequest,
    Refusal,
    is_worker_identity,
    negotiate,
    read_connect,
    truncate_close_reason,
)
from tests.security.builders import (
    REQUEST_ID,
    TOKEN,
    client,
    connect_params,
    connect_request,
    connect_text,
    device,
    req_frame,
)

PROTOCOL_MISMATCH = "protocol mismatch"


def _refusal(text: str | bytes) -> Refusal:
    outcome = read_connect(text)
    assert isinstance(outcome, Refusal), outcome
    return outcome


# --- read_connect: the first frame ----------------------------------------------------------


@pytest.mark.parametrize("text", ["", "hello", "{", b"\x80\x81", "NaN", '{"params": Infinity}'])
def test_non_json_first_frame_closes_1000_quietly(text: str | bytes) -> None:
    refusal = _refusal(text)
    assert (refusal.close_code, refusal.close_reason) == (1000, "")
    assert refusal.error is None
    assert refusal.request_id is None


@pytest.mark.parametrize(
    "value",
    [
        [],
        "connect",
        None,
        7,
        {},
        {"type": "res", "id": "1", "method": "connect"},
        {"type": "req", "id": "", "method": "connect", "params": {}},
        {"type": "req", "id": "1", "method": "connect", "params": {}, "extra": True},
        {"type": "req", "id": 1, "method": "connect"},
    ],
)
def test_invalid_request_frame_closes_1008_without_answer(value: Any) -> None:
    refusal = _refusal(json.dumps(value))
    assert (refusal.close_code, refusal.close_reason) == (1008, "invalid request frame")
    assert refusal.error is None
    assert refusal.request_id is None


@pytest.mark.parametrize("method", ["health", "status", "Connect", "connect "])
def test_first_request_other_than_connect_is_answered_then_closed(method: str) -> None:
    refusal = _refusal(json.dumps(req_frame(method, {})))
    message = "invalid handshake: first request must be connect"
    assert refusal.request_id == REQUEST_ID
    assert refusal.error == {"code": "INVALID_REQUEST", "message": message}
    assert (refusal.close_code, refusal.close_reason) == (1008, message)


def test_non_connect_without_params_is_still_a_handshake_error() -> None:
    refusal = _refusal(json.dumps(req_frame("health")))
    assert refusal.error is not None
    assert refusal.error["message"] == "invalid handshake: first request must be connect"


def _invalid_params(params: Any) -> Refusal:
    frame: dict[str, Any] = {"type": "req", "id": REQUEST_ID, "method": "connect"}
    if params is not ...:
        frame["params"] = params
    refusal = _refusal(json.dumps(frame))
    assert refusal.request_id == REQUEST_ID
    assert refusal.close_code == 1008
    assert refusal.error is not None
    assert refusal.error["code"] == "INVALID_REQUEST"
    assert "details" not in refusal.error
    return refusal


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        (..., "must be object"),
        (None, "must be object"),
        ([], "must be object"),
        ({}, "must have required property 'minProtocol'"),
        (
            connect_params(client=client(id="my-custom-client")),
            "at /client/id: must be equal to one of the allowed values",
        ),
        (connect_params(bogus=1), "at root: unexpected property 'bogus'"),
        (
            connect_params(client={"id": "cli", "mode": "cli"}),
            "at /client: must have required property 'version'",
        ),
        (
            connect_params(auth={"token": TOKEN, "secret": "x"}),
            "at /auth: unexpected property 'secret'",
        ),
        (connect_params(minProtocol="4"), "at /minProtocol: must be integer"),
        (connect_params(scopes=[""]), "at /scopes/0: must not have fewer than 1 characters"),
        (connect_params(role=""), "at /role: must not have fewer than 1 characters"),
        (
            connect_params(client=client(mode="daemon")),
            "at /client/mode: must be equal to one of the allowed values",
        ),
    ],
)
def test_invalid_connect_params_message(params: Any, errors: str) -> None:
    refusal = _invalid_params(params)
    message = f"invalid connect params: {errors}"
    assert refusal.error is not None
    assert refusal.error["message"] == message
    assert refusal.close_reason == message


def test_invalid_connect_params_close_reason_is_truncated_but_message_is_not() -> None:
    params = {"extra": 1, "minProtocol": "x", "client": {"id": "bad", "zz": 1}}
    refusal = _invalid_params(params)
    assert refusal.error is not None
    message = refusal.error["message"]
    assert message == (
        "invalid connect params: must have required property 'maxProtocol'; "
        "at root: unexpected property 'extra'; at /minProtocol: must be integer; "
        "at /client: must have required property 'version'; "
        "at /client: unexpected property 'zz'; "
        "at /client/id: must be equal to one of the allowed values"
    )
    assert len(refusal.close_reason.encode()) == MAX_CLOSE_REASON_BYTES
    assert message.startswith(refusal.close_reason)


def test_valid_connect_is_parsed_into_connect_params() -> None:
    outcome = read_connect(
        connect_text(
            client=client(displayName="Box", instanceId="inst-1", deviceFamily="Linux"),
            caps=["tool-events"],
            auth={"token": TOKEN, "deviceToken": "dt", "bootstrapToken": "bt", "password": "pw"},
            device=device(),
        )
    )
    assert isinstance(outcome, ConnectRequest)
    assert outcome.frame.id == REQUEST_ID
    assert outcome.frame.method == "connect"
    p = outcome.params
    assert (p.min_protocol, p.max_protocol, p.role, p.scopes) == (
        4,
        4,
        "operator",
        ("operator.read",),
    )
    assert p.client.id == "cli"
    assert p.client.mode == "cli"
    assert p.client.version == "2026.9.6"
    assert (p.client.display_name, p.client.instance_id, p.client.device_family) == (
        "Box",
        "inst-1",
        "Linux",
    )
    assert p.client.time_zone is None
    assert p.caps == ("tool-events",)
    assert (p.auth.token, p.auth.password, p.auth.device_token, p.auth.bootstrap_token) == (
        TOKEN,
        "pw",
        "dt",
        "bt",
    )
    assert p.device is not None
    assert p.device.signed_at == 1795536131426
    assert p.device.public_key == "EY2vvbU3uq47oZYNpXRfNuI9fhEwxgBfCqTLsf2QVwA"
    assert p.raw["client"]["displayName"] == "Box"


def test_role_defaults_to_operator_and_scopes_to_empty() -> None:
    request = connect_request(role=None, scopes=None, auth=None)
    assert request.params.role == "operator"
    assert request.params.scopes == ()
    assert request.params.auth.token is None
    assert request.params.device is None


def test_integral_float_protocol_numbers_become_ints() -> None:
    outcome = read_connect(connect_text(minProtocol=4.0, maxProtocol=4.0))
    assert isinstance(outcome, ConnectRequest)
    assert outcome.params.min_protocol == 4
    assert isinstance(outcome.params.min_protocol, int)


# --- worker identities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"role": "worker"},
        {"client": client(id="openclaw-worker")},
        {"client": client(mode="worker")},
    ],
)
def test_worker_identity_closes_invalid_handshake_without_answer(overrides: dict[str, Any]) -> None:
    refusal = _refusal(connect_text(**overrides))
    assert (refusal.close_code, refusal.close_reason) == (1008, "invalid-handshake")
    assert refusal.error is None


@pytest.mark.parametrize(
    "value",
    [
        # Checked before frame or params validation, as the official message handler does.
        {"type": "req", "id": "1", "method": "connect", "params": {"role": "worker"}},
        {"type": "req", "id": "1", "method": "health", "params": {"client": {"mode": "worker"}}},
        {"params": {"client": {"id": "openclaw-worker"}}},
        {"type": "nope", "params": {"role": "worker", "junk": 1}},
    ],
)
def test_worker_claim_wins_over_every_other_first_frame_error(value: Any) -> None:
    refusal = _refusal(json.dumps(value))
    assert (refusal.close_code, refusal.close_reason) == (1008, "invalid-handshake")
    assert refusal.error is None


@pytest.mark.parametrize(
    "params",
    [{"role": "Worker"}, {"client": ["openclaw-worker"]}, {"client": {"id": "worker"}}, "worker"],
)
def test_near_worker_values_are_not_worker_claims(params: Any) -> None:
    refusal = _refusal(json.dumps(req_frame("connect", params)))
    assert refusal.close_reason != "invalid-handshake"


def test_is_worker_identity_on_parsed_params() -> None:
    assert is_worker_identity(connect_request().params) is False
    base = connect_request().params
    forged = ConnectParams(base.min_protocol, base.max_protocol, base.client, role="worker")
    assert is_worker_identity(forged) is True


def test_negotiate_refuses_worker_identity_even_if_built_directly() -> None:
    base = connect_request().params
    forged = ConnectParams(base.min_protocol, base.max_protocol, base.client, role="worker")
    refusal = negotiate(ConnectRequest(connect_request().frame, forged))
    assert refusal == Refusal(1008, "invalid-handshake")


# --- negotiate: protocol range and role -----------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "mode", "role"),
    [
        (4, 4, "cli", "operator"),
        (1, 10, "cli", "operator"),
        (4, 99, "ui", "operator"),
        # Probe clients (restart probes) may speak 3..4.
        (3, 3, "probe", "operator"),
        (3, 4, "probe", "operator"),
        (2, 3, "probe", "operator"),
        (4, 4, "probe", "operator"),
        # Legacy v3 nodes.
        (3, 3, "node", "node"),
        (1, 3, "node", "node"),
        (3, 4, "node", "node"),
    ],
)
def test_accepted_protocol_ranges(lo: int, hi: int, mode: str, role: str) -> None:
    request = connect_request(minProtocol=lo, maxProtocol=hi, client=client(mode=mode), role=role)
    assert negotiate(request) is None


@pytest.mark.parametrize(
    ("lo", "hi", "mode", "role"),
    [
        (5, 5, "cli", "operator"),
        (3, 3, "cli", "operator"),
        (1, 3, "ui", "operator"),
        (5, 4, "cli", "operator"),  # an empty range
        (5, 6, "probe", "operator"),
        (1, 2, "probe", "operator"),
        (3, 3, "node", "operator"),  # legacy path needs role node ...
        (3, 3, "cli", "node"),  # ... and mode node
        (2, 2, "node", "node"),
        (5, 9, "node", "node"),
    ],
)
def test_protocol_mismatch_closes_1002_with_details(lo: int, hi: int, mode: str, role: str) -> None:
    request = connect_request(minProtocol=lo, maxProtocol=hi, client=client(mode=mode), role=role)
    refusal = negotiate(request)
    assert refusal is not None
    assert (refusal.close_code, refusal.close_reason) == (1002, PROTOCOL_MISMATCH)
    assert refusal.request_id == REQUEST_ID
    assert refusal.error == {
        "code": "INVALID_REQUEST",
        "message": PROTOCOL_MISMATCH,
        "details": {
            "code": "PROTOCOL_MISMATCH",
            "clientMinProtocol": lo,
            "clientMaxProtocol": hi,
            "expectedProtocol": 4,
            "minimumProbeProtocol": 3,
        },
    }


@pytest.mark.parametrize("role", ["admin", "Operator", "nodes", "user"])
def test_invalid_role(role: str) -> None:
    refusal = negotiate(connect_request(role=role))
    assert refusal is not None
    assert refusal.error == {"code": "INVALID_REQUEST", "message": "invalid role"}
    assert (refusal.close_code, refusal.close_reason) == (1008, "invalid role")
    assert refusal.request_id == REQUEST_ID


def test_protocol_is_checked_before_role() -> None:
    refusal = negotiate(connect_request(role="admin", minProtocol=9, maxProtocol=9))
    assert refusal is not None
    assert refusal.close_code == 1002


def test_node_role_is_accepted() -> None:
    assert (
        negotiate(connect_request(role="node", client=client(id="node-host", mode="node"))) is None
    )


# --- close reasons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("", ""),
        ("short", "short"),
        ("a" * 120, "a" * 120),
        ("a" * 121, "a" * 120),
        ("é" * 60, "é" * 60),  # exactly 120 bytes
        ("é" * 61, "é" * 60),
        ("a" + "é" * 60, "a" + "é" * 59),  # would split the last é: drop it whole
        ("€" * 40, "€" * 40),
        ("ab" + "€" * 40, "ab" + "€" * 39),
        ("a" * 119 + "😀", "a" * 119),
        ("a" * 116 + "😀", "a" * 116 + "😀"),
        ("a" * 117 + "😀b", "a" * 117),
    ],
)
def test_truncate_close_reason_keeps_whole_characters(reason: str, expected: str) -> None:
    truncated = truncate_close_reason(reason)
    assert truncated == expected
    assert len(truncated.encode()) <= MAX_CLOSE_REASON_BYTES


def test_truncate_close_reason_custom_limit() -> None:
    assert truncate_close_reason("héllo", 2) == "h"
    assert truncate_close_reason("héllo", 3) == "hé"


def test_refusal_with_error_omits_unset_fields_and_truncates_reason() -> None:
    message = "x" * 200
    refusal = Refusal.with_error("id-1", "UNAVAILABLE", message, close_code=1013)
    assert refusal.error == {"code": "UNAVAILABLE", "message": message}
    assert refusal.close_reason == "x" * 120
    assert (refusal.close_code, refusal.request_id) == (1013, "id-1")


def test_refusal_with_error_optional_fields_and_explicit_reason() -> None:
    refusal = Refusal.with_error(
        "id-2",
        "UNAVAILABLE",
        "gateway starting; retry shortly",
        close_code=1013,
        close_reason="gateway starting",
        details={"reason": "startup-sidecars"},
        retryable=True,
        retry_after_ms=500,
    )
    assert refusal.close_reason == "gateway starting"
    assert refusal.error == {
        "code": "UNAVAILABLE",
        "message": "gateway starting; retry shortly",
        "details": {"reason": "startup-sidecars"},
        "retryable": True,
        "retryAfterMs": 500,
    }


# --- what an admitted connection keeps -------------------------------------------------------


def test_an_admitted_connection_keeps_no_secret_and_no_proof() -> None:
    request = connect_request(
        auth={"token": TOKEN, "password": "pw-secret"}, device=device(), caps=["tool-events"]
    )
    assert request.params.auth.token == TOKEN and request.params.device is not None
    kept = request.kept_after_admission()
    assert kept.params.auth.token is None and kept.params.auth.password is None
    assert kept.params.device is None and kept.params.raw == {}
    assert kept.frame.id == request.frame.id and kept.frame.params is None
    assert kept.params.client == request.params.client
    assert kept.params.caps == ("tool-events",) and kept.params.scopes == request.params.scopes
    assert TOKEN not in repr(kept) and "pw-secret" not in json.dumps(kept.params.raw)


def test_a_node_keeps_its_declared_commands_but_not_its_credentials() -> None:
    request = connect_request(
        role="node",
        auth={"token": TOKEN},
        device=device(),
        commands=["system.run"],
        permissions={"camera": True},
    )
    kept = request.kept_after_admission().params.raw
    assert kept["commands"] == ["system.run"] and kept["permissions"] == {"camera": True}
    assert "auth" not in kept and "device" not in kept
