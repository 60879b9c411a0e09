"""rpc.registry: method table and authorizeGatewayMethod (protocol.md §1.6, §5)."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.registry import (
    EXEMPT,
    MethodSpec,
    Registry,
    authorize,
    missing_scope,
)


def _handler(ctx: Any, params: Any) -> dict[str, Any]:
    return {"ok": True}


@pytest.fixture(name="table")
def _table() -> Registry:
    reg = Registry()
    reg.method("health", scope=EXEMPT)(_handler)
    reg.method("status", scope=S.READ)(_handler)
    reg.method("wake", scope=S.WRITE)(_handler)
    reg.method("system-event", scope=S.ADMIN)(_handler)
    reg.method("device.pair.list", scope=S.PAIRING)(_handler)
    reg.method("node.invoke.result", scope=S.ADMIN, role="node")(_handler)
    reg.method("cron.add", scope=S.ADMIN, control_plane_write=True)(_handler)
    return reg


def _check(table: Registry, method: str, role: str, granted: list[str]) -> dict[str, Any] | None:
    error = authorize(table.get(method), method, role, granted)
    return None if error is None else error.to_shape()


def test_method_decorator_returns_the_function_unchanged() -> None:
    reg = Registry()

    def fn(ctx: Any, params: Any) -> None:
        return None

    assert reg.method("x", scope=S.READ)(fn) is fn
    spec = reg.get("x")
    assert spec == MethodSpec("x", fn, S.READ, "operator", False)


def test_registering_a_name_twice_is_an_error() -> None:
    reg = Registry()
    reg.method("x", scope=S.READ)(_handler)
    with pytest.raises(ValueError, match="'x' registered twice"):
        reg.method("x", scope=S.ADMIN)(_handler)


def test_names_and_get(table: Registry) -> None:
    assert table.names()[:3] == ["health", "status", "wake"]
    assert table.get("nope") is None
    cron = table.get("cron.add")
    assert cron is not None
    assert cron.control_plane_write is True


@pytest.mark.parametrize(
    ("role", "granted"), [("operator", []), ("node", []), ("operator", [S.READ])]
)
def test_health_is_exempt_from_role_and_scope_checks(
    table: Registry, role: str, granted: list[str]
) -> None:
    assert _check(table, "health", role, granted) is None


def test_missing_scope_has_the_exact_live_shape(table: Registry) -> None:
    assert _check(table, "status", "operator", []) == {
        "code": "FORBIDDEN",
        "message": "missing scope: operator.read",
        "details": {
            "code": "MISSING_SCOPE",
            "missingScope": "operator.read",
            "requiredScopes": ["operator.read"],
        },
    }


@pytest.mark.parametrize(
    ("method", "granted", "missing"),
    [
        ("status", [S.READ], None),
        ("status", [S.WRITE], None),
        ("status", [S.SESSIONS_READ], S.READ),
        ("wake", [S.READ], S.WRITE),
        ("wake", [S.WRITE], None),
        ("system-event", [S.WRITE, S.READ, S.PAIRING], S.ADMIN),
        ("device.pair.list", [S.WRITE], S.PAIRING),
        ("device.pair.list", [S.PAIRING], None),
        ("cron.add", [S.WRITE], S.ADMIN),
    ],
)
def test_operator_scope_checks(
    table: Registry, method: str, granted: list[str], missing: str | None
) -> None:
    shape = _check(table, method, "operator", granted)
    if missing is None:
        assert shape is None
    else:
        assert shape == missing_scope(missing).to_shape()
        assert shape["message"] == f"missing scope: {missing}"


@pytest.mark.parametrize(
    "method", ["status", "wake", "system-event", "device.pair.list", "cron.add"]
)
def test_admin_passes_every_registered_operator_method(table: Registry, method: str) -> None:
    assert _check(table, method, "operator", [S.ADMIN]) is None


def test_node_only_method_from_an_operator_is_a_role_error(table: Registry) -> None:
    assert _check(table, "node.invoke.result", "operator", [S.ADMIN]) == {
        "code": "INVALID_REQUEST",
        "message": "unauthorized role: operator",
    }


def test_operator_method_from_a_node_is_a_role_error(table: Registry) -> None:
    assert _check(table, "status", "node", [S.ADMIN]) == {
        "code": "INVALID_REQUEST",
        "message": "unauthorized role: node",
    }


def test_node_needs_no_scopes_for_node_methods(table: Registry) -> None:
    assert _check(table, "node.invoke.result", "node", []) is None


def test_unknown_method_is_admin_only(table: Registry) -> None:
    assert _check(table, "no.such.method", "operator", [S.READ, S.WRITE]) == {
        "code": "FORBIDDEN",
        "message": "missing scope: operator.admin",
        "details": {
            "code": "MISSING_SCOPE",
            "missingScope": "operator.admin",
            "requiredScopes": ["operator.admin"],
        },
    }


def test_unknown_method_for_admin_is_named(table: Registry) -> None:
    assert _check(table, "no.such.method", "operator", [S.ADMIN]) == {
        "code": "INVALID_REQUEST",
        "message": "unknown method: no.such.method",
    }


def test_unknown_method_from_a_node_is_a_role_error(table: Registry) -> None:
    shape = _check(table, "no.such.method", "node", [])
    assert shape == {"code": "INVALID_REQUEST", "message": "unauthorized role: node"}


def test_second_connect(table: Registry) -> None:
    assert _check(table, "connect", "operator", [S.ADMIN]) == {
        "code": "INVALID_REQUEST",
        "message": "connect is only valid as the first request",
    }
    shape = _check(table, "connect", "operator", [S.READ])
    assert shape is not None
    assert shape["message"] == "missing scope: operator.admin"


def test_authorize_returns_rpc_errors() -> None:
    error = authorize(None, "x", "operator", [])
    assert isinstance(error, RpcError)
    assert error.code == "FORBIDDEN"
    assert error.retryable is None


def test_the_gateway_method_table_follows_the_reference() -> None:
    from openclaw_gateway.server.rpc.methods import load

    registry = load()
    expected = {
        "health": EXEMPT,
        "status": S.READ,
        "system-presence": S.READ,
        "system-event": S.ADMIN,
        "last-heartbeat": S.READ,
        "set-heartbeats": S.ADMIN,
        "wake": S.WRITE,
        "logs.tail": S.READ,
        "config.get": S.READ,
    }
    for name, scope in expected.items():
        spec = registry.get(name)
        assert spec is not None, name
        assert (spec.scope, spec.role) == (scope, "operator"), name
