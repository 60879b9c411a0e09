"""The method table: `@registry.method(...)` records a handler and returns it unchanged.

Authorization follows the official `authorizeGatewayMethod` (protocol.md §1.6, §5):
`health` is exempt; node-only methods need role node and everything else role operator;
operator.admin passes every scope check; unknown methods count as admin-only, so non-admins
learn nothing about which names exist.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol import codec
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.events import EVENTS

F = TypeVar("F", bound=Callable[..., Any])
EXEMPT = "exempt"


@attrs.frozen
class MethodSpec:
    name: str
    handler: Callable[..., Any]
    scope: str  # a scope, or EXEMPT
    role: str = "operator"
    control_plane_write: bool = False
    # Listed in hello-ok features.methods (the official leaves a few callable but unlisted).
    advertised: bool = True
    # Decided once here, not by inspect on every request.
    is_async: bool = attrs.field(init=False)

    @is_async.default
    def _is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)


class Registry:
    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}
        self._features_json: str | None = None  # hello-ok features, encoded once

    def method(
        self,
        name: str,
        *,
        scope: str,
        role: str = "operator",
        control_plane_write: bool = False,
        advertised: bool = True,
    ) -> Callable[[F], F]:
        def record(fn: F) -> F:
            if name in self._methods:
                raise ValueError(f"method {name!r} registered twice")
            self._methods[name] = MethodSpec(name, fn, scope, role, control_plane_write, advertised)
            self._features_json = None
            return fn

        return record

    def get(self, name: str) -> MethodSpec | None:
        return self._methods.get(name)

    def every_name(self) -> list[str]:
        """Every registered method, advertised or not (the metrics' method labels)."""
        return list(self._methods)

    def names(self) -> list[str]:
        """The methods hello-ok advertises (every registered one stays callable)."""
        return [name for name, spec in self._methods.items() if spec.advertised]

    def features_json(self) -> str:
        """hello-ok's `features` ({methods, events}) as JSON, encoded once per method table:
        it is the same ~10 KB for every connect (the events are the gateway's fixed list)."""
        if self._features_json is None:
            self._features_json = codec.encode({"methods": self.names(), "events": list(EVENTS)})
        return self._features_json


def missing_scope(scope: str) -> RpcError:
    return RpcError(
        "FORBIDDEN",
        f"missing scope: {scope}",
        details={"code": "MISSING_SCOPE", "missingScope": scope, "requiredScopes": [scope]},
    )


def authorize(
    spec: MethodSpec | None, method: str, role: str, granted: Iterable[str]
) -> RpcError | None:
    """None if the caller may run `method`, else the error to answer with."""
    have = tuple(granted)
    if spec is not None and spec.scope == EXEMPT:
        return None
    required_role = spec.role if spec is not None else "operator"
    if role != required_role:
        return RpcError("INVALID_REQUEST", f"unauthorized role: {role}")
    if role == "node":
        return None
    if S.ADMIN in have:
        if spec is None:
            if method == "connect":
                return RpcError("INVALID_REQUEST", "connect is only valid as the first request")
            return RpcError("INVALID_REQUEST", f"unknown method: {method}")
        return None
    if spec is None:
        return missing_scope(S.ADMIN)
    if not S.scope_satisfied(spec.scope, have):
        return missing_scope(spec.scope)
    return None
