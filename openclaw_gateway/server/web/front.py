"""What the gateway holds of the web page before anyone asks for it: the settings, the view the
bootstrap JSON reads, and the route that builds the real one (control_ui.py) on the first
HTTP request that reaches it, so a gateway gets to its first hello-ok without loading the page
machinery (issue 17). A missing or broken control_ui module then fails that request loudly
(the router's 500), not the start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from openclaw_gateway.server.http.messages import HttpRequest, Response
from openclaw_gateway.server.http.router import RequestContext, Route

if TYPE_CHECKING:
    from openclaw_gateway.server.rpc.context import GatewayState

DEFAULT_ASSISTANT_NAME = "Assistant"  # official DEFAULT_ASSISTANT_IDENTITY


@attrs.frozen
class ControlUiSettings:
    """gateway.controlUi as served (allowedOrigins lives in the Origin policy)."""

    enabled: bool = True
    base_path: str = ""  # normalized: "" or "/a/b"
    root: Path | None = None  # None: the built-in dashboard


@attrs.frozen
class ControlUiView:
    """What the bootstrap JSON tells the page, read per request (auth rotates live)."""

    auth_mode: str  # "none" | "token" | "password" | ...
    server_version: str
    assistant_name: str = DEFAULT_ASSISTANT_NAME


def deferred_control_ui_route(
    settings: ControlUiSettings, view: Callable[[], ControlUiView], state: GatewayState
) -> Route:
    """control_ui.control_ui_route(...), built by the first request that gets this far."""
    built: list[Route] = []

    async def route(request: HttpRequest, context: RequestContext) -> Response | None:
        if not settings.enabled:
            return None  # the disabled page never needs its module
        if not built:
            from openclaw_gateway.server.web.control_ui import (
                control_ui_route,
                operator_device_token_ok,
            )

            built.append(
                control_ui_route(
                    settings,
                    view,
                    device_token_ok=lambda token: operator_device_token_ok(state, token),
                )
            )
        return await built[0](request, context)

    return route
