"""The web page over real HTTP on the gateway port (issue 16 §1): files from a root, the built-in
dashboard, MIME types, caching, CSP, HEAD, traversal, SPA fallback, base path, the bootstrap
JSON and the Origin rules of the socket that page opens."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
import trio

from openclaw_gateway.cli.run_checks import (
    ResolvedAuth,
    effective_config_conflict,
    seed_allowed_origins,
)
from openclaw_gateway.core import config as cfg
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.origin import OriginPolicy
from openclaw_gateway.server.web.control_ui import BUILTIN_ROOT, ControlUiSettings
from tests.helpers import TOKEN, RunningGateway, ws_client
from tests.server.integration.support import StartGateway, http_request, raw_http

BOUND = 5
INLINE = "globalThis.early = 1;"
INDEX = f"""<!doctype html>
<html lang="en"><head>
<link rel="icon" href="./favicon.svg" />
<script>{INLINE}</script>
<script type="module" src="./assets/index-AbCdEf12.js"></script>
</head><body>app</body></html>
"""
SECRET = b"outside-the-root-secret"
HTML = [("Accept", "text/html,application/xhtml+xml")]


@pytest.fixture(name="root")
def _root(tmp_path: Path) -> Path:
    root = tmp_path / "ui"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-AbCdEf12.js").write_text("export const x = 1;\n")
    (root / "assets" / "plain.css").write_text("body{}\n")
    (root / "favicon.svg").write_text("<svg/>")
    (root / "manifest.webmanifest").write_text("{}")
    (root / "font.woff2").write_bytes(b"wOF2")
    (root / "data.bin").write_bytes(b"\x00\x01")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    os.symlink(outside / "secret.txt", root / "leak.txt")
    os.symlink(outside, root / "leakdir")
    os.symlink(root / "favicon.svg", root / "alias.svg")  # a link that stays inside is fine
    return root


@pytest.fixture(name="ui")
async def _ui(start: StartGateway, root: Path) -> RunningGateway:
    return await start(control_ui=ControlUiSettings(root=root))


async def _get(gw: RunningGateway, path: str, headers: list[tuple[str, str]] | None = None):  # type: ignore[no-untyped-def]
    with trio.fail_after(BOUND):
        return await http_request(gw.port, "GET", path, headers)


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/assets/index-AbCdEf12.js", "application/javascript; charset=utf-8"),
        ("/assets/plain.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/manifest.webmanifest", "application/manifest+json; charset=utf-8"),
        ("/font.woff2", "font/woff2"),
        ("/data.bin", "application/octet-stream"),
    ],
)
async def test_mime_types(ui: RunningGateway, path: str, mime: str) -> None:
    reply = await _get(ui, path)
    assert reply.status == 200
    assert reply.headers["content-type"] == mime
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["content-length"] == str(len(reply.body))


async def test_caching_hashed_assets_immutable_index_revalidated(ui: RunningGateway) -> None:
    hashed = await _get(ui, "/assets/index-AbCdEf12.js")
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await _get(ui, "/assets/plain.css")).headers["cache-control"] == "no-cache"
    assert (await _get(ui, "/favicon.svg")).headers["cache-control"] == "no-cache"
    for path in ("/", "/index.html", "/some/deep/link"):
        assert (await _get(ui, path, HTML)).headers["cache-control"] == "no-cache"


async def test_index_csp_allows_only_its_own_inline_script(ui: RunningGateway) -> None:
    reply = await _get(ui, "/")
    csp = dict(d.strip().split(" ", 1) for d in reply.headers["content-security-policy"].split(";"))
    digest = base64.b64encode(hashlib.sha256(INLINE.encode()).digest()).decode()
    assert csp["script-src"] == f"'self' 'sha256-{digest}'"
    assert "unsafe-inline" not in csp["script-src"]
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert reply.headers["x-frame-options"] == "DENY"
    # The document learns its base path, and `./` references stay valid on deep links.
    assert b'data-openclaw-control-ui-base-path=""' in reply.body
    assert b'src="/assets/index-AbCdEf12.js"' in reply.body
    assert b'href="/favicon.svg"' in reply.body
    # A plain asset carries the policy without hashes.
    asset = await _get(ui, "/favicon.svg")
    assert "script-src 'self';" in asset.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/assets/index-AbCdEf12.js", "/deep/link"])
async def test_head_has_the_get_headers_and_no_body(ui: RunningGateway, path: str) -> None:
    with trio.fail_after(BOUND):
        get = await http_request(ui.port, "GET", path, HTML)
        head = await http_request(ui.port, "HEAD", path, HTML)
    assert head.status == get.status == 200
    assert head.body == b""
    for name in ("content-type", "content-length", "cache-control", "content-security-policy"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize(
    "target",
    [
        "/../outside/secret.txt",
        "/assets/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/assets/..%2f..%2foutside%2fsecret.txt",
        "/%252e%252e/outside/secret.txt",
        "/assets/%252e%252e%252f%252e%252e%252foutside%252fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/%00secret.txt",
        "/%ff.txt",
    ],
)
async def test_paths_that_leave_the_root_are_404(ui: RunningGateway, target: str) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n"
    with trio.fail_after(BOUND):
        raw = await raw_http(ui.port, request.encode())
    assert raw.startswith(b"HTTP/1.1 404 "), raw[:80]
    assert SECRET not in raw


async def test_a_symlink_inside_the_root_is_served(ui: RunningGateway) -> None:
    assert (await _get(ui, "/alias.svg")).body == b"<svg/>"


async def test_spa_fallback_only_for_html_navigations(ui: RunningGateway) -> None:
    page = await _get(ui, "/chat/agent:main:main", HTML)
    assert page.status == 200 and b"<body>app</body>" in page.body
    assert (await _get(ui, "/missing.js", HTML)).status == 404  # a static asset is never HTML
    assert (await _get(ui, "/chat", [("Accept", "application/json")])).status == 404
    # The paths other routes own are not swallowed by the fallback.
    assert (await _get(ui, "/v1/models", HTML)).status == 404
    assert (await _get(ui, "/healthz")).json() == {"ok": True, "status": "live"}


async def test_base_path(start: StartGateway, root: Path) -> None:
    gw = await start(control_ui=ControlUiSettings(base_path="/console", root=root))
    bare = await _get(gw, "/console?x=1")
    assert bare.status == 302 and bare.headers["location"] == "/console/?x=1"
    page = await _get(gw, "/console/", HTML)
    assert page.status == 200
    assert b'data-openclaw-control-ui-base-path="/console"' in page.body
    assert b'src="/console/assets/index-AbCdEf12.js"' in page.body
    deep = await _get(gw, "/console/sessions/x/assets/index-AbCdEf12.js")
    assert deep.status == 200 and deep.headers["content-type"].startswith("application/javascript")
    assert (await _get(gw, "/", HTML)).status == 404  # outside the base path
    assert (await _get(gw, "/console/sessions/1", HTML)).status == 200


async def test_bootstrap_json_requires_the_gateway_secret(ui: RunningGateway) -> None:
    for path in ("/control-ui-config.json", "/__openclaw/control-ui-config.json"):
        refused = await _get(ui, path)
        assert refused.status == 401
        assert refused.json() == {"error": {"message": "Unauthorized", "type": "unauthorized"}}
        wrong = await _get(ui, path, [("Authorization", "Bearer nope")])
        assert wrong.status == 401
        ok = await _get(ui, path, [("Authorization", f"Bearer {TOKEN}")])
        assert ok.status == 200
        body = ok.json()
        assert body["basePath"] == "" and body["serverVersion"] == "0.1.0"
        assert body["assistantName"] == "Assistant" and body["assistantAvatar"] == "A"
        assert body["pluginAssetsRequireAuth"] is True and body["pluginFrameGrants"] == []
        assert body["terminalEnabled"] is False and body["embedSandbox"] == "scripts"
        assert ok.headers["cache-control"] == "no-store"
        assert TOKEN.encode() not in ok.body
    with trio.fail_after(BOUND):
        head = await http_request(
            ui.port, "HEAD", "/control-ui-config.json", [("Authorization", f"Bearer {TOKEN}")]
        )
    assert head.status == 200 and head.body == b""


async def test_bootstrap_json_without_auth_mode(start: StartGateway, root: Path) -> None:
    gw = await start(
        control_ui=ControlUiSettings(base_path="/ui2", root=root), policy=AuthPolicy(mode="none")
    )
    reply = await _get(gw, "/ui2/control-ui-config.json")
    assert reply.status == 200
    assert reply.json()["basePath"] == "/ui2"
    assert reply.json()["pluginAssetsRequireAuth"] is False


async def test_builtin_dashboard_is_served_without_a_root(start: StartGateway) -> None:
    gw = await start()
    page = await _get(gw, "/", HTML)
    assert page.status == 200 and b"OpenClaw Gateway" in page.body
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no inline script
    script = await _get(gw, "/app.js")
    assert script.headers["content-type"] == "application/javascript; charset=utf-8"
    total = sum(p.stat().st_size for p in BUILTIN_ROOT.iterdir())
    assert total < 150 * 1024


async def test_a_root_without_index_is_503(start: StartGateway, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    gw = await start(control_ui=ControlUiSettings(root=empty))
    reply = await _get(gw, "/", HTML)
    assert reply.status == 503
    assert str(empty).encode() in reply.body


async def _connect_with_origin(nursery: trio.Nursery, gw: RunningGateway, origin: str) -> dict:  # type: ignore[type-arg]
    with trio.fail_after(BOUND):
        async with ws_client(nursery, gw.port, Origin=origin) as client:
            return await client.connect()


async def test_origin_rules_for_the_page_socket(nursery: trio.Nursery, start: StartGateway) -> None:
    gw = await start(origin_policy=OriginPolicy(("https://control.example.com",)))
    same = await _connect_with_origin(nursery, gw, f"http://127.0.0.1:{gw.port}")
    assert same["ok"] is True
    listed = await _connect_with_origin(nursery, gw, "https://control.example.com")
    assert listed["ok"] is True
    foreign = await _connect_with_origin(nursery, gw, "https://evil.example")
    assert foreign["ok"] is False
    assert foreign["error"]["message"].startswith("origin not allowed")
    assert (await _connect_with_origin(nursery, gw, "null"))["ok"] is False


def test_a_non_loopback_bind_needs_allowed_origins() -> None:
    auth = ResolvedAuth("token", TOKEN, None, TOKEN, None)
    bare = cfg.GatewayConfig()
    assert "requires gateway.controlUi.allowedOrigins" in (
        effective_config_conflict(auth, "off", "0.0.0.0", bare) or ""
    )
    assert effective_config_conflict(auth, "off", "127.0.0.1", bare) is None
    allowed = cfg.GatewayConfig(
        control_ui=cfg.ControlUiConfig(allowed_origins=("https://control.example.com",))
    )
    assert effective_config_conflict(auth, "off", "0.0.0.0", allowed) is None
    off = cfg.GatewayConfig(control_ui=cfg.ControlUiConfig(enabled=False))
    assert effective_config_conflict(auth, "off", "0.0.0.0", off) is None


def test_a_non_loopback_bind_mode_seeds_the_loopback_origins() -> None:
    """Official ensureControlUiAllowedOriginsForNonLoopbackBind (runtime only, config as is)."""
    bare = cfg.GatewayConfig()
    assert seed_allowed_origins(bare, "lan", 18789) == (
        "http://localhost:18789",
        "http://127.0.0.1:18789",
    )
    custom = cfg.GatewayConfig(custom_bind_host="192.168.1.5")
    assert seed_allowed_origins(custom, "custom", 7)[-1] == "http://192.168.1.5:7"
    assert seed_allowed_origins(bare, "loopback", 18789) == ()
    allowed = cfg.GatewayConfig(control_ui=cfg.ControlUiConfig(allowed_origins=("https://a.b",)))
    assert seed_allowed_origins(allowed, "lan", 18789) == ()
    off = cfg.GatewayConfig(control_ui=cfg.ControlUiConfig(enabled=False))
    assert seed_allowed_origins(off, "lan", 18789) == ()
