"""A small closed-schema validator that words its errors the way the official gateway does.

The official gateway validates frames and params with TypeBox/AJV and joins the errors with
"; " (formatValidationErrors). Clients and scripts match on these strings, so we reproduce the
wording: `at root: unexpected property 'x'`, `must have required property 'x'`,
`at /client/id: must be equal to one of the allowed values`. Keyword order follows AJV:
required, then additional properties, then each property in schema order.

Each schema also answers `valid(value)`, a walk that builds no paths or error lists: every
frame is checked, almost every frame is valid, and the worded errors are only needed when it
is not (`validate` tries the fast walk first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs


class Schema:
    def errors(self, value: Any, path: str) -> list[str]:
        raise NotImplementedError

    def valid(self, value: Any) -> bool:
        """Whether `errors` would find nothing (subclasses answer without building them)."""
        return not self.errors(value, "")


def _at(path: str, message: str) -> str:
    return f"at {path}: {message}" if path else message


def _at_root(path: str, message: str) -> str:
    return f"at {path or 'root'}: {message}"


@attrs.frozen
class Str(Schema):
    min_length: int = 0
    max_length: int | None = None

    def valid(self, value: Any) -> bool:
        return (
            isinstance(value, str)
            and len(value) >= self.min_length
            and (self.max_length is None or len(value) <= self.max_length)
        )

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, str):
            return [_at(path, "must be string")]
        if len(value) < self.min_length:
            return [_at(path, f"must not have fewer than {self.min_length} characters")]
        if self.max_length is not None and len(value) > self.max_length:
            return [_at(path, f"must not have more than {self.max_length} characters")]
        return []


NON_EMPTY = Str(min_length=1)


def _json_integer(value: Any) -> bool:
    """JSON has one number type (an integral float is an integer); bool is not a number."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


@attrs.frozen
class Int(Schema):
    minimum: int | None = None
    maximum: int | None = None

    def valid(self, value: Any) -> bool:
        return _json_integer(value) and (
            (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
        )

    def errors(self, value: Any, path: str) -> list[str]:
        if not _json_integer(value):
            return [_at(path, "must be integer")]
        if self.minimum is not None and value < self.minimum:
            return [_at(path, f"must be >= {self.minimum}")]
        if self.maximum is not None and value > self.maximum:
            return [_at(path, f"must be <= {self.maximum}")]
        return []


@attrs.frozen
class Num(Schema):
    def valid(self, value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, int | float)

    def errors(self, value: Any, path: str) -> list[str]:
        return [] if self.valid(value) else [_at(path, "must be number")]


@attrs.frozen
class Bool(Schema):
    def valid(self, value: Any) -> bool:
        return isinstance(value, bool)

    def errors(self, value: Any, path: str) -> list[str]:
        return [] if self.valid(value) else [_at(path, "must be boolean")]


@attrs.frozen
class AnyValue(Schema):
    def valid(self, value: Any) -> bool:
        return True

    def errors(self, value: Any, path: str) -> list[str]:
        return []


@attrs.frozen
class Enum(Schema):
    values: tuple[str, ...]

    def valid(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def errors(self, value: Any, path: str) -> list[str]:
        return (
            [] if self.valid(value) else [_at(path, "must be equal to one of the allowed values")]
        )


@attrs.frozen
class Arr(Schema):
    items: Schema
    min_items: int = 0

    def valid(self, value: Any) -> bool:
        if not isinstance(value, list) or len(value) < self.min_items:
            return False
        items = self.items
        return all(items.valid(item) for item in value)

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [_at(path, "must be array")]
        if len(value) < self.min_items:
            return [_at(path, f"must not have fewer than {self.min_items} items")]
        out: list[str] = []
        for index, item in enumerate(value):
            out.extend(self.items.errors(item, f"{path}/{index}"))
        return out


@attrs.frozen
class Record(Schema):
    values: Schema

    def valid(self, value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        values = self.values
        return all(values.valid(item) for item in value.values())

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [_at(path, "must be object")]
        out: list[str] = []
        for key, item in value.items():
            out.extend(self.values.errors(item, f"{path}/{key}"))
        return out


@attrs.frozen
class Field:
    schema: Schema
    required: bool = False


@attrs.frozen
class Obj(Schema):
    """A closed object: unknown properties are errors unless `closed=False`."""

    fields: Mapping[str, Field]
    closed: bool = True

    def valid(self, value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        fields = self.fields
        if self.closed and any(name not in fields for name in value):
            return False
        for name, spec in fields.items():
            if name in value:
                if not spec.schema.valid(value[name]):
                    return False
            elif spec.required:
                return False
        return True

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [_at(path, "must be object")]
        out: list[str] = []
        # TypeBox reports one `required` and one `additionalProperties` error per object, and
        # formatValidationErrors names only the first property of each.
        missing = [n for n, spec in self.fields.items() if spec.required and n not in value]
        if missing:
            out.append(_at(path, f"must have required property '{missing[0]}'"))
        if self.closed:
            extra = [name for name in value if name not in self.fields]
            if extra:
                out.append(_at_root(path, f"unexpected property '{extra[0]}'"))
        for name, spec in self.fields.items():
            if name in value:
                out.extend(spec.schema.errors(value[name], f"{path}/{name}"))
        return out


def obj(closed: bool = True, **fields: Field | Schema) -> Obj:
    """Build an Obj; a bare Schema means an optional field, Field(...) says more."""
    normal = {k.rstrip("_"): (v if isinstance(v, Field) else Field(v)) for k, v in fields.items()}
    return Obj(normal, closed=closed)


def req(schema: Schema) -> Field:
    return Field(schema, required=True)


def validate(schema: Schema, value: Any) -> list[str]:
    return [] if schema.valid(value) else schema.errors(value, "")


def format_errors(errors: Sequence[str]) -> str:
    # Duplicates are dropped, as formatValidationErrors does.
    return "; ".join(dict.fromkeys(errors))


@attrs.frozen
class Const(Schema):
    value: str

    def valid(self, value: Any) -> bool:
        return bool(value == self.value)

    def errors(self, value: Any, path: str) -> list[str]:
        return [] if self.valid(value) else [_at(path, "must be equal to constant")]


@attrs.frozen
class AnyOf(Schema):
    """A union: valid if any branch is; else every branch's errors, then the anyOf error."""

    branches: tuple[Schema, ...]

    def valid(self, value: Any) -> bool:
        return any(branch.valid(value) for branch in self.branches)

    def errors(self, value: Any, path: str) -> list[str]:
        out: list[str] = []
        for branch in self.branches:
            found = branch.errors(value, path)
            if not found:
                return []
            out.extend(found)
        out.append(_at(path, "must match a schema in anyOf"))
        return out
