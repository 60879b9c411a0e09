"""The web page at the gateway's address (official control-ui.ts): the official Control UI from
`gateway.controlUi.root`, or the built-in dashboard (server/web/static) when no root is set.

One router route, registered last: it answers GET/HEAD under `gateway.controlUi.basePath`
(the bootstrap `<basePath>/control-ui-config.json`, files from the root, the SPA fallback to
`index.html` for browser navigations) and leaves every other request to the routes before it
or the router's 404. WebSocket upgrades never reach it (the edge takes them first).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.security.auth import safe_equal
from openclaw_gateway.server.http.messages import HttpRequest, HttpResponse, Response, json_response
from openclaw_gateway.server.http.router import RequestContext, Route
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.web import page
from openclaw_gateway.server.web.files import (
    REVALIDATE,
    WebRoot,
    cache_control,
    content_type,
    is_static_asset,
    safe_relative,
)
from openclaw_gateway.server.web.front import (  # the settings live in front.py (issue 17)
    ControlUiSettings,
    ControlUiView,
)

BUILTIN_ROOT = Path(__file__).parent / "static"
BOOTSTRAP_FILE = "/control-ui-config.json"
LEGACY_BOOTSTRAP_FILE = "/__openclaw/control-ui-config.json"
NAMESPACE_PREFIX = "/__openclaw__"  # the default entry's namespace (official alias)
# Paths other routes own when the UI sits at the root (official classifyControlUiRequest).
FOREIGN_PREFIXES = ("/api", "/v1", "/hooks", "/tools", "/metrics", "/plugins", "/j")
ASSETS_MISSING = "Control UI assets not found at {root}. Update gateway.controlUi.root."
BUILTIN_MISSING = "Control UI assets not found (the built-in dashboard is not installed)."
DEFAULT_ASSISTANT_AVATAR = "A"
WEB_HEADERS: tuple[tuple[str, str], ...] = (  # official applyControlUiSecurityHeaders
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(self), microphone=*, geolocation=*, clipboard-write=*"),
)


def _headers(*pairs: tuple[str, str], csp: str | None = None) -> tuple[tuple[str, str], ...]:
    return (*pairs, ("Content-Security-Policy", csp or page.csp_header()), *WEB_HEADERS)


def _plain(status: int, message: str, *extra: tuple[str, str]) -> HttpResponse:
    body = message.encode("utf-8")
    headers = _headers(
        ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra
    )
    return HttpResponse(status, headers, body)


def _not_found() -> HttpResponse:
    return _plain(404, "Not Found")


def accepts_html(accept: str | None) -> bool:
    """A browser navigation (official acceptsControlUiHtmlResponse): HTML is acceptable."""
    text = (accept or "").strip().lower()
    if not text:
        return True
    for part in text.split(","):
        media, _, params = part.strip().partition(";")
        refused = params.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        if not refused and media.strip() in ("text/html", "application/xhtml+xml", "*/*"):
            return True
    return False


def bootstrap_body(settings: ControlUiSettings, view: ControlUiView) -> dict[str, Any]:
    """The official bootstrap shape. Features this gateway does not have are reported off."""
    return {
        "basePath": settings.base_path,
        "assistantName": view.assistant_name,
        "assistantAvatar": DEFAULT_ASSISTANT_AVATAR,
        "assistantAvatarSource": None,
        "assistantAvatarStatus": None,
        "assistantAvatarReason": None,
        "serverVersion": view.server_version,
        "embedSandbox": "scripts",
        "allowExternalEmbedUrls": False,
        "automaticallyFetchFavicons": False,  # no favicon proxy here
        "communityInvite": True,
        "terminalEnabled": False,  # no operator terminal in this gateway
        "cliAgentsEnabled": False,  # no CLI agents (sessions.catalog.*) in this gateway
        "pluginAssetsRequireAuth": view.auth_mode != "none",
        "pluginFrameGrants": [],
    }


def _is_bootstrap(path: str, base: str) -> bool:
    if path in (base + BOOTSTRAP_FILE, base + LEGACY_BOOTSTRAP_FILE):
        return True
    return base == "" and path == NAMESPACE_PREFIX + BOOTSTRAP_FILE


def _foreign(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in FOREIGN_PREFIXES)


class ControlUi:
    def __init__(
        self,
        settings: ControlUiSettings,
        view: Callable[[], ControlUiView],
        device_token_ok: Callable[[str], bool],
    ) -> None:
        self.settings = settings
        self.view = view
        self.device_token_ok = device_token_ok
        self._root: WebRoot | None = None

    async def root(self) -> WebRoot | None:
        if self._root is None:  # resolved off the loop once; a missing root is retried
            path = self.settings.root or BUILTIN_ROOT
            self._root = await trio.to_thread.run_sync(WebRoot.open, path)
        return self._root

    async def __call__(self, request: HttpRequest, context: RequestContext) -> Response | None:
        settings = self.settings
        if not settings.enabled or request.method not in ("GET", "HEAD"):
            return None
        path, base = request.path, settings.base_path
        if base:
            if path == base:
                query = request.target[len(path) :]
                location = ("Location", f"{base}/{query}")
                return HttpResponse(302, _headers(location, ("Content-Length", "0")), b"")
            if not path.startswith(base + "/"):
                return None
        elif _foreign(path):
            return None
        if base == "" and (path == "/ui" or path.startswith("/ui/")):
            return _not_found()  # official: /ui is never the UI at the root
        if _is_bootstrap(path, base):
            return self._bootstrap(request, context)
        return await self._serve(request, path[len(base) :])

    def _bootstrap(self, request: HttpRequest, context: RequestContext) -> HttpResponse:
        view = self.view()
        if view.auth_mode != "none":
            token = request.bearer_token()
            # The shared secret, or a paired device's operator token (official
            # authorizeControlUiReadRequestOrReply): the UI retries with the one it was issued.
            if not (token and (context.bearer_ok(token) or self.device_token_ok(token))):
                unauthorized = {"error": {"message": "Unauthorized", "type": "unauthorized"}}
                return json_response(401, unauthorized, extra=(("X-Frame-Options", "DENY"),))
        head = request.method == "HEAD"
        return json_response(
            200,
            bootstrap_body(self.settings, view),
            head=head,
            extra=(("X-Frame-Options", "DENY"),),
        )

    async def _serve(self, request: HttpRequest, ui_path: str) -> HttpResponse | None:
        root = await self.root()
        if root is None:
            configured = self.settings.root
            message = ASSETS_MISSING.format(root=configured) if configured else BUILTIN_MISSING
            return _plain(503, message)
        raw_rel = ui_path[1:]
        if raw_rel.startswith(NAMESPACE_PREFIX[1:] + "/"):
            raw_rel = raw_rel[len(NAMESPACE_PREFIX) :]  # `/__openclaw__/x` aliases root files
        assets = ui_path.find("/assets/")
        if assets >= 0:
            raw_rel = ui_path[assets + 1 :]  # deep links keep relative asset references
        rel = safe_relative(raw_rel)
        if rel is None:
            return _not_found()
        head = request.method == "HEAD"
        if rel and not rel.endswith("index.html"):
            found = await root.read(rel, with_body=not head)
            if found is not None:
                return self._file(rel, found.body, found.size, head)
            if is_static_asset(rel):
                return _not_found()
            if not accepts_html(request.headers.get("accept")):
                return None
        index = await root.read("index.html")
        if index is None:
            return _not_found()
        document = page.prepare_index(
            index.body.decode("utf-8", "replace"), self.settings.base_path
        )
        body = document.encode("utf-8")
        headers = (
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", REVALIDATE),
            ("Content-Length", str(len(body))),
        )
        csp = page.csp_header(page.inline_script_hashes(document))
        return HttpResponse(200, _headers(*headers, csp=csp), b"" if head else body)

    def _file(self, rel: str, body: bytes, size: int, head: bool) -> HttpResponse:
        headers = (
            ("Content-Type", content_type(rel)),
            ("Cache-Control", cache_control(rel)),
            ("Content-Length", str(size)),
        )
        return HttpResponse(200, _headers(*headers), b"" if head else body)


def control_ui_route(
    settings: ControlUiSettings,
    view: Callable[[], ControlUiView],
    *,
    device_token_ok: Callable[[str], bool] = lambda _token: False,
) -> Route:
    return ControlUi(settings, view, device_token_ok)


def operator_device_token_ok(state: GatewayState, token: str) -> bool:
    """Is `token` the live operator token of a paired device? (official
    verifyHttpOperatorDeviceToken, which checks every paired device's operator token)."""
    if state.pairing is None:
        return False
    _pending, paired = state.pairing.listing(state.now_ms())
    for _record, tokens in paired:
        entry = tokens.get("operator")
        if entry and not entry.get("revokedAtMs") and safe_equal(token, str(entry["token"])):
            return True
    return False
