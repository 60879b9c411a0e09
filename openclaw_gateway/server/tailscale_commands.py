"""Tailscale Serve/Funnel, the pure half: argv builders, output parsers, exec results.

No I/O and no trio: server/tailscale.py runs these commands (the one home of the `tailscale`
subprocess calls) and decides what their results mean for the route claim.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

LEGACY_PROXY = re.compile(r"^http://(?:127\.0\.0\.1|localhost):(\d+)/?$")
SUDO_NONINTERACTIVE_AUTH_ERROR = re.compile(
    r"^sudo: (?:a password is required|no password was provided|a terminal is required|"
    r"no tty present|no askpass program specified)",
    re.IGNORECASE | re.MULTILINE,
)
_PERMISSION_HINTS = (
    "permission denied",
    "access denied",
    "operation not permitted",
    "not permitted",
    "requires root",
)


@attrs.frozen
class ExecResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class ExecFailed(Exception):
    """An exec that did not succeed; the message is the official `Command failed…` wording."""

    def __init__(self, message: str, *, code: str = "", stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


def spawn_failure(exc: OSError, argv: Sequence[str]) -> ExecFailed:
    """The official wording for a binary that is missing (ENOENT) or not executable (EACCES)."""
    code = "ENOENT" if isinstance(exc, FileNotFoundError) else "EACCES"
    shown = " ".join(argv)
    return ExecFailed(
        f"Command failed with {code}: {shown}\nspawn {argv[0]} {code} | {code}", code=code
    )


Runner = Callable[[Sequence[str], float], Awaitable[ExecResult]]


# -- pure argv builders and parsers --------------------------------------------------------------


Prefix = str | Sequence[str]  # the binary, or a command prefix such as ["sudo", "-n", binary]


def _cmd(prefix: Prefix, *args: str) -> list[str]:
    return [prefix, *args] if isinstance(prefix, str) else [*prefix, *args]


def build_version_argv(binary: Prefix) -> list[str]:
    return _cmd(binary, "version")


def build_status_argv(binary: Prefix) -> list[str]:
    return _cmd(binary, "status", "--json")


def build_serve_status_argv(binary: Prefix) -> list[str]:
    return _cmd(binary, "serve", "status", "--json")


def build_adopt_argv(binary: Prefix) -> list[str]:
    """Switch off an earlier release's persistent root route (then our claim replaces it)."""
    return _cmd(binary, "serve", "--yes", "--https=443", "--set-path=/", "off")


def build_claim_argv(binary: Prefix, mode: str, target: int | str) -> list[str]:
    """The foreground route claim: `tailscale serve|funnel --yes --bg=false <target>`."""
    if mode not in ("serve", "funnel"):
        raise ValueError(f"tailscale mode {mode!r} has no route claim")
    return _cmd(binary, mode, "--yes", "--bg=false", str(target))


def build_reset_argv(binary: Prefix, mode: str) -> list[str]:
    if mode not in ("serve", "funnel"):
        raise ValueError(f"tailscale mode {mode!r} has no reset")
    return _cmd(binary, mode, "reset")


def has_legacy_root_route(serve_status: str, gateway_port: int) -> bool:
    """`tailscale serve status --json` shows the persistent route an earlier OpenClaw release
    made: the only handler of an HTTPS:443 web server is "/" proxying to
    http://127.0.0.1:<gatewayPort> (or localhost), and no other web server shares that port.
    Only that exact shape is adopted; any other route is left alone (official
    `extractTailscaleServeGatewayUrls(..., forAdoption=true)`)."""
    try:
        config = parse_status_json(serve_status)
    except ValueError:
        return False
    web, tcp = config.get("Web"), config.get("TCP")
    if not isinstance(web, dict) or not isinstance(tcp, dict):
        return False
    ports = {host_port: _https_port(host_port) for host_port in web}
    for host_port, server in web.items():
        handlers = server.get("Handlers") if isinstance(server, dict) else None
        if not isinstance(handlers, dict) or list(handlers) != ["/"]:
            continue
        root = handlers["/"]
        proxy = root.get("Proxy") if isinstance(root, dict) else None
        match = LEGACY_PROXY.match(proxy) if isinstance(proxy, str) else None
        if match is None or int(match.group(1)) != gateway_port:
            continue
        port = ports[host_port]
        if port != 443 or sum(1 for other in ports.values() if other == port) != 1:
            continue
        listener = tcp.get(str(port))
        if isinstance(listener, dict) and listener.get("HTTPS") is True:
            return True
    return False


def _https_port(host_port: str) -> int | None:
    try:
        return urllib.parse.urlsplit(f"https://{host_port}").port or 443
    except ValueError:
        return None


def parse_status_json(stdout: str) -> dict[str, Any]:
    """`tailscale status --json`, tolerating noise around the object (as the official code)."""
    text = stdout.strip()
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        text = text[start : end + 1]
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def hostname_from_status(parsed: dict[str, Any]) -> str:
    me = parsed.get("Self")
    me = me if isinstance(me, dict) else {}
    dns = me.get("DNSName")
    if isinstance(dns, str) and dns:
        return dns.removesuffix(".")
    ips = me.get("TailscaleIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], str):
        return ips[0]
    raise ValueError("Could not determine Tailscale DNS or IP")


def enabled_message(mode: str, host: str | None) -> str:
    if not host:
        return f"{mode} enabled"
    return f"{mode} enabled: https://{host}/ (WS via wss://{host})"


def is_permission_denied(text: str, code: str = "") -> bool:
    lowered = text.lower()
    return code.upper() == "EACCES" or any(hint in lowered for hint in _PERMISSION_HINTS)


# -- the report read by `health` / `status` -------------------------------------------------------


def new_report(mode: str) -> dict[str, Any]:
    """status.tailscale / health.tailscale: {mode, state, url, error}; updated in place."""
    return {"mode": mode, "state": "starting", "url": None, "error": None}
