"""Browser Origin policy for WebSocket connects (protocol.md §9.3). Pure.

Port of the official origin-check.ts / ws-origin-policy.ts. The check applies when the upgrade
carried a non-empty `Origin` header (any client, including one that calls itself `cli`: the
client id is self-declared, the header is what a browser cannot omit), or when the client is a
browser Control UI / webchat even without one. Native clients without Origin are unaffected.

Accepted if, first match wins:
1. the Origin parses as `scheme://host[:port]` (no path, query, credentials; `null` rejected);
2. `gateway.controlUi.allowedOrigins` holds `*` or the exact lower-cased origin;
3. `dangerouslyAllowHostHeaderOriginFallback` and Origin host == Host header;
4. Origin host == Host header and that host is trusted same-origin (loopback host for a
   local client, a private/loopback IP literal, `*.local`, `*.ts.net`);
5. the client is direct-local and the Origin hostname is loopback.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from openclaw_gateway.core.config import ControlUiConfig
from openclaw_gateway.core.netaddr import is_loopback, is_private_or_loopback_ip, normalize_ip

BROWSER_UI_CLIENTS = frozenset({"openclaw-control-ui", "openclaw-browser-copilot"})
BROWSER_COPILOT = "openclaw-browser-copilot"
WEBCHAT_CLIENT = "webchat-ui"
WEBCHAT_MODE = "webchat"
REASON_INVALID = "origin missing or invalid"
REASON_NOT_ALLOWED = "origin not allowed"
REJECTION_MESSAGE = (
    "origin not allowed (open the Control UI from the gateway host or allow it in "
    "gateway.controlUi.allowedOrigins)"
)
DETAIL_CODE = "CONTROL_UI_ORIGIN_NOT_ALLOWED"

# The official shape test, before URL parsing: a scheme, `://`, an authority, at most a `/`.
_ORIGIN_SHAPE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\\]+/?$", re.IGNORECASE)
_CHROME_EXTENSION_ID = re.compile(r"^[a-p]{32}$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@attrs.frozen
class OriginPolicy:
    """`gateway.controlUi` settings that decide Origin acceptance."""

    allowed_origins: tuple[str, ...] = ()
    allow_host_header_fallback: bool = False


@attrs.frozen
class ParsedOrigin:
    origin: str  # scheme://host[:port], lower-case, default port dropped
    scheme: str
    host: str  # host[:port] as in a Host header
    hostname: str  # without brackets or port


@attrs.frozen
class OriginCheck:
    ok: bool
    reason: str | None = None
    matched_by: str | None = None


def parse_origin(raw: str | None) -> ParsedOrigin | None:
    text = (raw or "").strip()
    if not text or text == "null" or not _ORIGIN_SHAPE.match(text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    hostname = parts.hostname.lower()
    shown = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        shown = f"{shown}:{port}"
    return ParsedOrigin(f"{scheme}://{shown}", scheme, shown, hostname)


def host_name(host_header: str | None) -> str:
    """Hostname of a Host header value (brackets and port removed), lower-case."""
    host = (host_header or "").strip().lower()
    if not host:
        return ""
    if host.startswith("["):
        end = host.find("]")
        if end != -1:
            return host[1:end]
    if host.count(":") > 1:  # a bare IPv6 literal
        return host
    return host.split(":", 1)[0]


def _trusted_same_origin_host(host_header: str, is_local_client: bool) -> bool:
    hostname = host_name(host_header)
    if not hostname:
        return False
    if is_loopback(hostname):
        return is_local_client
    if normalize_ip(hostname) is not None:
        return is_private_or_loopback_ip(hostname)
    return hostname.endswith(".local") or hostname.endswith(".ts.net")


def check_browser_origin(
    origin: str | None, request_host: str | None, policy: OriginPolicy, *, is_local_client: bool
) -> OriginCheck:
    parsed = parse_origin(origin)
    if parsed is None:
        return OriginCheck(False, REASON_INVALID)
    allowlist = {o.strip().lower() for o in policy.allowed_origins if o and o.strip()}
    if "*" in allowlist or parsed.origin in allowlist:
        return OriginCheck(True, matched_by="allowlist")
    host = (request_host or "").strip().lower()
    if policy.allow_host_header_fallback and host and parsed.host == host:
        return OriginCheck(True, matched_by="host-header-fallback")
    if host and parsed.host == host and _trusted_same_origin_host(host, is_local_client):
        return OriginCheck(True, matched_by="private-same-origin")
    if is_local_client and is_loopback(parsed.hostname):
        return OriginCheck(True, matched_by="local-loopback")
    return OriginCheck(False, REASON_NOT_ALLOWED)


def is_chrome_extension_origin(origin: str | None) -> bool:
    parsed = parse_origin(origin)
    return (
        parsed is not None
        and parsed.scheme == "chrome-extension"
        and bool(_CHROME_EXTENSION_ID.match(parsed.hostname))
    )


def applies(client_id: str, client_mode: str, origin: str | None) -> bool:
    """Whether the Origin policy governs this connect (official resolveGatewayWsBrowserOrigin)."""
    if client_id == BROWSER_COPILOT and is_chrome_extension_origin(origin):
        return False
    has_origin = bool(origin and origin.strip())
    is_browser_ui = client_id in BROWSER_UI_CLIENTS
    is_webchat = client_id == WEBCHAT_CLIENT or client_mode == WEBCHAT_MODE
    return has_origin or is_browser_ui or is_webchat


def evaluate(
    client_id: str,
    client_mode: str,
    origin: str | None,
    request_host: str | None,
    policy: OriginPolicy,
    *,
    is_local_client: bool,
) -> OriginCheck:
    """The admission step: ok when the policy does not apply or accepts the Origin."""
    if not applies(client_id, client_mode, origin):
        return OriginCheck(True, matched_by="not-applicable")
    return check_browser_origin(origin, request_host, policy, is_local_client=is_local_client)


def policy_from_config(control_ui: ControlUiConfig) -> OriginPolicy:
    """gateway.controlUi -> the Origin policy."""
    return OriginPolicy(
        tuple(control_ui.allowed_origins or ()),
        control_ui.dangerously_allow_host_header_origin_fallback,
    )
