"""The closed-schema validator and its AJV/TypeBox-worded messages.

The expected strings in FRAME_CASES and CONNECT_CASES were produced by the official
gateway's own validators (`validateRequestFrame`/`validateConnectParams` from the
`openclaw` 2026.9.6 dist, joined by its `formatValidationErrors`), run under Node.
"""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.protocol.frames import (
    CLIENT_MODES,
    CONNECT_PARAMS_SCHEMA,
    GATEWAY_CLIENT_IDS,
    REQUEST_FRAME_SCHEMA,
)
from openclaw_gateway.protocol.schema import (
    NON_EMPTY,
    AnyOf,
    AnyValue,
    Arr,
    Bool,
    Const,
    Enum,
    Int,
    Num,
    Record,
    Str,
    format_errors,
    obj,
    req,
    validate,
)

FRAME_CASES = [
    ({"type": "req", "id": "", "method": "x"}, "at /id: must not have fewer than 1 characters"),
    ({"type": "req", "id": "a", "method": "x", "extra": 1}, "at root: unexpected property 'extra'"),
    (
        {"type": "req", "id": "a", "method": "x", "extra": 1, "more": 2},
        "at root: unexpected property 'extra'",
    ),
    ({"type": "res", "id": "a", "method": "x"}, "at /type: must be equal to constant"),
    ({}, "must have required property 'type'"),
    ([], "must be object"),
    (None, "must be object"),
    ("x", "must be object"),
    ({"type": "req", "id": 1, "method": 2}, "at /id: must be string; at /method: must be string"),
    ({"type": "req", "id": "a"}, "must have required property 'method'"),
    ({"type": "req", "id": "a", "method": ""}, "at /method: must not have fewer than 1 characters"),
    (
        {
            "type": "req",
            "id": "a",
            "method": "m",
            "traceparent": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        },
        "at /traceparent: must not have more than 128 characters",
    ),
    (
        {"type": "req", "id": "a", "method": "m", "expectedProfileId": ""},
        "at /expectedProfileId: must not have fewer than 1 characters",
    ),
    (
        {
            "type": "req",
            "id": "a",
            "method": "m",
            "expectedProfileId": "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp",
        },
        "at /expectedProfileId: must not have more than 128 characters",
    ),
    ({"id": "a", "method": "m"}, "must have required property 'type'"),
    (
        {
            "type": "req",
            "id": "a",
            "method": "m",
            "params": None,
            "traceparent": "t",
            "expectedProfileId": "p",
        },
        None,
    ),
]
CONNECT_CASES = [
    ({}, "must have required property 'minProtocol'"),
    (None, "must be object"),
    ([], "must be object"),
    ("params", "must be object"),
    ({"minProtocol": 4}, "must have required property 'maxProtocol'"),
    (
        {"zz": 1, "maxProtocol": 4},
        "must have required property 'minProtocol'; at root: unexpected property 'zz'",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "extra": 1,
            "zzz": 2,
        },
        "at root: unexpected property 'extra'",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "nope", "version": "1", "platform": "linux", "mode": "cli"},
        },
        "at /client/id: must be equal to one of the allowed values",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli", "x": 1},
        },
        "at /client: unexpected property 'x'",
    ),
    (
        {"minProtocol": 4, "maxProtocol": 4, "client": {"id": "cli"}},
        "at /client: must have required property 'version'",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "", "platform": "linux", "mode": "bad"},
        },
        "at /client/version: must not have fewer than 1 characters; at /client/mode: must be equal to one of the allowed values",
    ),
    (
        {
            "minProtocol": 0,
            "maxProtocol": 0,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
        },
        "at /minProtocol: must be >= 1; at /maxProtocol: must be >= 1",
    ),
    (
        {
            "minProtocol": 4.5,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
        },
        "at /minProtocol: must be integer",
    ),
    (
        {
            "minProtocol": "4",
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
        },
        "at /minProtocol: must be integer",
    ),
    (
        {
            "minProtocol": True,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
        },
        "at /minProtocol: must be integer",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "scopes": ["", 1],
        },
        "at /scopes/0: must not have fewer than 1 characters; at /scopes/1: must be string",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "scopes": "operator.read",
        },
        "at /scopes: must be array",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "role": "",
        },
        "at /role: must not have fewer than 1 characters",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "role": 5,
        },
        "at /role: must be string",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "auth": {"token": 1, "password": 2, "a": 1, "b": 2},
        },
        "at /auth: unexpected property 'a'; at /auth/token: must be string; at /auth/password: must be string",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "device": {"id": "x"},
        },
        "at /device: must have required property 'publicKey'",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "device": {"id": "x", "publicKey": "k", "signature": "s", "signedAt": -1, "nonce": ""},
        },
        "at /device/signedAt: must be >= 0; at /device/nonce: must not have fewer than 1 characters",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "permissions": {"a": 1},
        },
        "at /permissions/a: must be boolean",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "modelCatalog": {"agentId": ""},
        },
        "at /modelCatalog/agentId: must not have fewer than 1 characters; at /modelCatalog: must have required property 'shortId'; at /modelCatalog: must match a schema in anyOf",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "modelCatalog": {"bogus": "a"},
        },
        "at /modelCatalog: unexpected property 'bogus'; at /modelCatalog: must have required property 'shortId'; at /modelCatalog: must match a schema in anyOf",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "modelCatalog": [],
        },
        "at /modelCatalog: must be object; at /modelCatalog: must match a schema in anyOf",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "caps": [""],
            "commands": [""],
        },
        "at /caps/0: must not have fewer than 1 characters; at /commands/0: must not have fewer than 1 characters",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "locale": 1,
            "userAgent": 2,
            "pathEnv": 3,
        },
        "at /pathEnv: must be string; at /locale: must be string; at /userAgent: must be string",
    ),
    (
        {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {
                "id": "cli",
                "version": "1",
                "platform": "linux",
                "mode": "cli",
                "timeZone": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "buildId": "",
                "displayName": "",
            },
        },
        "at /client/displayName: must not have fewer than 1 characters; at /client/buildId: must not have fewer than 1 characters; at /client/timeZone: must not have more than 64 characters",
    ),
    (
        {
            "client": {"mode": "bad", "id": "bad", "version": "1", "platform": "l"},
            "maxProtocol": "y",
            "minProtocol": "x",
        },
        "at /minProtocol: must be integer; at /maxProtocol: must be integer; at /client/id: must be equal to one of the allowed values; at /client/mode: must be equal to one of the allowed values",
    ),
    (
        {"extra": 1, "minProtocol": "x", "client": {"id": "bad", "zz": 1}},
        "must have required property 'maxProtocol'; at root: unexpected property 'extra'; at /minProtocol: must be integer; at /client: must have required property 'version'; at /client: unexpected property 'zz'; at /client/id: must be equal to one of the allowed values",
    ),
]


def _message(schema: Any, value: Any) -> str | None:
    errors = validate(schema, value)
    return format_errors(errors) if errors else None


@pytest.mark.parametrize(("value", "expected"), FRAME_CASES)
def test_request_frame_messages_match_official(value: Any, expected: str | None) -> None:
    assert _message(REQUEST_FRAME_SCHEMA, value) == expected


@pytest.mark.parametrize(("value", "expected"), CONNECT_CASES)
def test_connect_params_messages_match_official(value: Any, expected: str | None) -> None:
    assert _message(CONNECT_PARAMS_SCHEMA, value) == expected


def test_minimal_cli_connect_params_are_valid() -> None:
    params = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
    }
    assert validate(CONNECT_PARAMS_SCHEMA, params) == []


def test_full_connect_params_are_valid() -> None:
    params = {
        "minProtocol": 3,
        "maxProtocol": 4,
        "client": {
            "id": "node-host",
            "displayName": "build box",
            "version": "2026.9.6",
            "buildId": "b" * 96,
            "platform": "linux",
            "deviceFamily": "Linux",
            "modelIdentifier": "x86_64",
            "timeZone": "Europe/Berlin",
            "mode": "node",
            "instanceId": "i-1",
        },
        "caps": ["system"],
        "commands": ["system.run"],
        "computerUse": {"anything": [1, 2]},
        "workerRuns": {"free": "form"},
        "permissions": {"screen": True, "camera": False},
        "pathEnv": "",
        "role": "node",
        "scopes": [],
        "modelCatalog": {"agentId": "main", "shortId": "abc", "slugHint": "x"},
        "device": {"id": "d", "publicKey": "k", "signature": "s", "signedAt": 0, "nonce": "n"},
        "auth": {
            "token": "",
            "bootstrapToken": "b",
            "deviceToken": "d",
            "password": "p",
            "approvalRuntimeToken": "a",
            "agentRuntimeIdentityToken": "r",
        },
        "locale": "en",
        "userAgent": "ua",
    }
    assert validate(CONNECT_PARAMS_SCHEMA, params) == []


@pytest.mark.parametrize("client_id", GATEWAY_CLIENT_IDS)
def test_every_official_client_id_is_accepted(client_id: str) -> None:
    schema = CONNECT_PARAMS_SCHEMA.fields["client"].schema
    value = {"id": client_id, "version": "1", "platform": "linux", "mode": "cli"}
    assert validate(schema, value) == []


def test_client_id_and_mode_sets_are_the_official_ones() -> None:
    assert len(GATEWAY_CLIENT_IDS) == 17
    assert "openclaw-probe" in GATEWAY_CLIENT_IDS
    assert set(CLIENT_MODES) == {
        "webchat",
        "cli",
        "ui",
        "backend",
        "node",
        "worker",
        "probe",
        "test",
    }


@pytest.mark.parametrize(
    ("model_catalog", "ok"),
    [
        ({}, True),
        ({"agentId": "a", "sessionKey": "s"}, True),
        ({"shortId": "x"}, True),
        ({"agentId": "a", "shortId": "x", "slugHint": "h"}, True),
        ({"sessionKey": "s", "shortId": "x"}, False),  # mixes the two branches
        ({"slugHint": "h"}, False),
        ("main", False),
    ],
)
def test_model_catalog_is_one_of_two_closed_shapes(model_catalog: Any, ok: bool) -> None:
    params = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {"id": "openclaw-control-ui", "version": "1", "platform": "web", "mode": "ui"},
        "modelCatalog": model_catalog,
    }
    assert (validate(CONNECT_PARAMS_SCHEMA, params) == []) is ok


# --- primitives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        (Str(), "", []),
        (Str(), 1, ["must be string"]),
        (Str(), None, ["must be string"]),
        (Str(min_length=2), "a", ["must not have fewer than 2 characters"]),
        (Str(max_length=3), "abcd", ["must not have more than 3 characters"]),
        (Str(max_length=3), "abc", []),
        (NON_EMPTY, "", ["must not have fewer than 1 characters"]),
        (Int(), 3, []),
        (Int(), 3.0, []),
        (Int(), 3.5, ["must be integer"]),
        (Int(), True, ["must be integer"]),
        (Int(), "3", ["must be integer"]),
        (Int(), float("inf"), ["must be integer"]),
        (Int(minimum=1), 0, ["must be >= 1"]),
        (Int(maximum=9), 10, ["must be <= 9"]),
        (Int(minimum=0, maximum=0), 0, []),
        (Num(), 1.5, []),
        (Num(), 2, []),
        (Num(), False, ["must be number"]),
        (Num(), "1", ["must be number"]),
        (Bool(), False, []),
        (Bool(), 0, ["must be boolean"]),
        (AnyValue(), None, []),
        (AnyValue(), {"x": [1]}, []),
        (Enum(("a", "b")), "b", []),
        (Enum(("a", "b")), "c", ["must be equal to one of the allowed values"]),
        (Enum(("a",)), ["a"], ["must be equal to one of the allowed values"]),
        (Enum(("a",)), {"a": 1}, ["must be equal to one of the allowed values"]),
        (Const("req"), "req", []),
        (Const("req"), "REQ", ["must be equal to constant"]),
        (Arr(Int()), [1, 2], []),
        (Arr(Int()), (1, 2), ["must be array"]),
        (Arr(Int()), [1, "x", 2.5], ["at /1: must be integer", "at /2: must be integer"]),
        (Arr(Int(), min_items=1), [], ["must not have fewer than 1 items"]),
        (Record(Bool()), {"a": True}, []),
        (Record(Bool()), {"a": 1, "b": True}, ["at /a: must be boolean"]),
        (Record(Bool()), [], ["must be object"]),
    ],
)
def test_primitive_schemas(schema: Any, value: Any, expected: list[str]) -> None:
    assert validate(schema, value) == expected


def test_object_reports_only_the_first_missing_and_first_unexpected_property() -> None:
    schema = obj(a=req(Str()), b=req(Str()), c=Str())
    assert validate(schema, {"z": 1, "y": 2}) == [
        "must have required property 'a'",
        "at root: unexpected property 'z'",
    ]


def test_object_error_order_is_required_then_additional_then_properties_in_schema_order() -> None:
    schema = obj(a=req(Int()), b=Int(), c=req(Int()))
    # Value key order must not matter for property errors: schema order wins.
    value = {"x": 0, "b": "no", "a": "no"}
    assert validate(schema, value) == [
        "must have required property 'c'",
        "at root: unexpected property 'x'",
        "at /a: must be integer",
        "at /b: must be integer",
    ]


def test_nested_paths_use_json_pointer_style() -> None:
    schema = obj(outer=obj(inner=req(Arr(obj(leaf=req(Bool()))))))
    value = {"outer": {"inner": [{"leaf": True}, {"leaf": "x", "extra": 1}], "nope": 0}}
    assert validate(schema, value) == [
        "at /outer: unexpected property 'nope'",
        "at /outer/inner/1: unexpected property 'extra'",
        "at /outer/inner/1/leaf: must be boolean",
    ]


def test_open_object_accepts_unknown_properties_but_checks_known_ones() -> None:
    schema = obj(closed=False, a=Int())
    assert validate(schema, {"a": 1, "anything": "goes"}) == []
    assert validate(schema, {"a": "x"}) == ["at /a: must be integer"]


def test_trailing_underscore_in_builder_names_is_stripped() -> None:
    schema = obj(type_=req(Const("req")))
    assert validate(schema, {"type": "req"}) == []
    assert validate(schema, {}) == ["must have required property 'type'"]


def test_any_of_collects_branch_errors_then_the_any_of_error() -> None:
    schema = AnyOf((obj(a=req(Int())), obj(b=req(Int()))))
    assert validate(schema, {"a": 1}) == []
    assert validate(schema, {"b": 2}) == []
    assert validate(schema, {}) == [
        "must have required property 'a'",
        "must have required property 'b'",
        "must match a schema in anyOf",
    ]


def test_format_errors_joins_with_semicolons_and_drops_duplicates() -> None:
    assert format_errors(["x", "y", "x", "z", "y"]) == "x; y; z"
    assert format_errors(["only"]) == "only"
