"""Hook mapping templates (official renderTemplate / getByPath). Pure.

`{{payload.a.b}}` or `{{a.b}}`, array indexing `{{messages[0].subject}}`, `{{headers.x}}`,
`{{query.kind}}`, `{{path}}`, `{{now}}` (ISO time); missing/null -> "", objects -> JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

_EXPR = re.compile(r"\{\{\s*([^}]+)\s*\}\}")
_PART = re.compile(r"([^.[\]]+)|(\[(\d+)\])")
_BLOCKED = frozenset({"__proto__", "prototype", "constructor"})


@attrs.frozen
class TemplateContext:
    payload: Mapping[str, Any]
    headers: Mapping[str, str]
    query: Mapping[str, str]
    path: str
    now_iso: str


def get_by_path(value: Any, expr: str) -> Any:
    if not expr:
        return None
    current = value
    for found in _PART.finditer(expr):
        if current is None:
            return None
        if found[3] is not None:
            index = int(found[3])
            if not isinstance(current, list) or index >= len(current):
                return None
            current = current[index]
            continue
        key = found[1]
        if key in _BLOCKED or not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def resolve(expr: str, ctx: TemplateContext) -> Any:
    if expr == "path":
        return ctx.path
    if expr == "now":
        return ctx.now_iso
    for prefix, source in (("headers.", ctx.headers), ("query.", ctx.query)):
        if expr.startswith(prefix):
            return get_by_path(source, expr[len(prefix) :])
    if expr.startswith("payload."):
        return get_by_path(ctx.payload, expr[8:])
    return get_by_path(ctx.payload, expr)


def render(template: str | None, ctx: TemplateContext) -> str:
    if not template:
        return ""

    def one(found: re.Match[str]) -> str:
        value = resolve(found[1].strip(), ctx)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    return _EXPR.sub(one, template)


def is_templated(value: str | None) -> bool:
    return bool(value) and _EXPR.search(value or "") is not None
