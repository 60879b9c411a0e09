"""Shared param checking for handlers: the official `invalid <method> params: …` wording."""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import Schema, format_errors, validate


def check(method: str, schema: Schema, params: Any) -> dict[str, Any]:
    errors = validate(schema, params)
    if errors:
        raise RpcError("INVALID_REQUEST", f"invalid {method} params: {format_errors(errors)}")
    assert isinstance(params, dict)
    return params
