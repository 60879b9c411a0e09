"""Which gateway a one-shot command talks to, with which credentials (cli.md §1.3).

URL, first match: `--url` ("cli --url"); `--port N` forces ws://127.0.0.1:N; env
OPENCLAW_GATEWAY_URL; `gateway.remote.url` in remote mode; else the local loopback URL
(always 127.0.0.1, port from env/config/profile/18789). A URL override never reuses config
credentials. Plain ws:// to a non-loopback host is refused before connecting.

Also the one-shot commands' failure (CliFailure) and its two standard reports: the JSON
envelope or message, and the official generic block.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import attrs

from openclaw_gateway.cli.tls_info import local_certificate
from openclaw_gateway.cli.ws_url import allows_private_ws, is_secure_ws_url
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core import secrets
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.paths import Paths, parse_port, resolve_port
from openclaw_gateway.core.tls import require_fingerprint


class CliFailure(Exception):
    """A failure to report as `{"ok":false,"error":{"type":…}}` (JSON) or text, then exit."""

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        exit_code: int = 1,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.exit_code = exit_code
        self.extra = extra or {}


def generic_failure_lines(reason: str) -> list[str]:
    """The official block for a failure no command output covers (formatCliFailureLines,
    without OPENCLAW_DEBUG): the reason, then where to look next. For stderr."""
    return [
        f"[openclaw] {line}"
        for line in (
            "The CLI command failed.",
            f"Reason: {reason}",
            "Debug: set OPENCLAW_DEBUG=1 to include the stack trace.",
            "Try: openclaw doctor",
            "Help: openclaw --help",
        )
    ]


def emit_failure(failure: CliFailure, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    """`{"ok":false,"error":{type,message}}` on stdout with --json; else the message on stderr,
    as the generic block when the failure is marked `generic`. Returns the exit code."""
    if as_json:
        body = {"ok": False, "error": {"type": failure.error_type, "message": failure.message}}
        print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
    elif failure.extra.get("generic"):
        print("\n".join(generic_failure_lines(failure.message)), file=err)
    else:
        print(failure.message, file=err)
    return failure.exit_code


@attrs.frozen
class Target:
    url: str
    url_source: str
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    config_path: Path | None = None
    bind_detail: str | None = None
    auth_mode: str = "token"
    remote_fallback_note: str | None = None
    # The certificate pin for a wss:// target (tls_pin), canonical; None: system trust / ws://.
    tls_fingerprint: str | None = None

    def gateway_block(self) -> dict[str, object]:
        block: dict[str, object] = {"url": self.url, "urlSource": self.url_source}
        if self.bind_detail:
            block["bindDetail"] = self.bind_detail
        if self.remote_fallback_note:
            block["remoteFallbackNote"] = self.remote_fallback_note
        return block


def check_url_security(url: str, source: str, env: Mapping[str, str], config_path: Path) -> None:
    """Refuse a URL that is not ws(s):// and, in the official wording, plaintext credentials
    to a host is_secure_ws_url does not trust."""
    try:
        scheme: str | None = urlsplit(url).scheme
    except ValueError:
        scheme = None  # unparsable: refused below, as the official does
    if scheme is not None and scheme not in ("ws", "wss"):
        raise CliFailure("cli_error", f'Invalid gateway URL "{url}": use ws:// or wss://.')
    allow_private = allows_private_ws(env)
    if is_secure_ws_url(url, allow_private=allow_private):
        return
    lines = [
        f'SECURITY ERROR: Gateway URL "{url}" uses plaintext ws:// to a non-loopback address.',
        "Both credentials and chat data would be exposed to network interception.",
        f"Source: {source}",
        f"Config: {config_path}",
        "Fix: Use wss:// for remote gateway URLs.",
        "Safe remote access defaults:",
        "- keep gateway.bind=loopback and use an SSH tunnel (ssh -N -L "
        "18789:127.0.0.1:18789 user@gateway-host)",
        "- or use Tailscale Serve/Funnel for HTTPS remote access",
    ]
    if not allow_private:
        lines.append(
            "Break-glass (trusted private networks only): set OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1"
        )
    lines += ["Doctor: openclaw doctor --fix", "Docs: https://docs.openclaw.ai/gateway/remote"]
    raise CliFailure("cli_error", "\n".join(lines))


LOCAL_SOURCES = ("local loopback", "missing gateway.remote.url (fallback local)")


def tls_pin(
    config: cfg.Config, url: str, source: str, state_dir: Path, env: Mapping[str, str]
) -> str | None:
    """The certificate pin for this target, as the official resolveGatewayConnectionTlsFingerprint:
    gateway.remote.tlsFingerprint for the configured remote URL (or OPENCLAW_GATEWAY_URL) in
    remote mode; for the local gateway with gateway.tls on, its own certificate's fingerprint,
    read from the public certificate file only (a missing or unreadable file gives no pin, and
    normal trust then applies). A malformed pin is a usage error with the official wording."""
    gw = config.gateway
    remote_sources = ("config gateway.remote.url", "env OPENCLAW_GATEWAY_URL")
    if gw.mode == "remote" and source in remote_sources and gw.remote.tls_fingerprint:
        try:
            return require_fingerprint(gw.remote.tls_fingerprint)
        except ConfigError as exc:
            raise CliFailure("cli_error", str(exc)) from None
    if not url.lower().startswith("wss://") or source not in LOCAL_SOURCES:
        return None
    info = local_certificate(config, state_dir, env)
    return info.fingerprint if info is not None else None


def resolve_target(
    *,
    method: str,
    url_flag: str | None,
    port_flag: str | None,
    token_flag: str | None,
    password_flag: str | None,
    env: Mapping[str, str],
    paths: Paths,
    loaded: cfg.LoadedConfig,
    runtime_token: str | None = None,
    has_device_token: Callable[[str], bool] = lambda _url: False,
) -> Target:
    if url_flag and port_flag:
        raise CliFailure("cli_error", "Use either --url or --port, not both.")
    gw = loaded.config.gateway
    remote_mode = gw.mode == "remote" and port_flag is None
    token = token_flag or None
    password = password_flag or None
    bind_detail = None
    note = None
    local_port_flag: int | None = None
    if port_flag is not None:
        local_port_flag = parse_port(port_flag)
        if local_port_flag is None:
            raise CliFailure(
                "cli_error", "Invalid --port. Use a port number from 1 to 65535, for example 18789."
            )
    if url_flag:
        url, source = url_flag.strip(), "cli --url"
    elif port_flag is None and env.get("OPENCLAW_GATEWAY_URL"):
        url, source = env["OPENCLAW_GATEWAY_URL"].strip(), "env OPENCLAW_GATEWAY_URL"
    elif remote_mode and gw.remote.url:
        url, source = gw.remote.url, "config gateway.remote.url"
    else:
        port = local_port_flag or resolve_port(None, env, gw.port, paths.profile)
        url = f"{'wss' if gw.tls.enabled else 'ws'}://127.0.0.1:{port}"
        if remote_mode:
            source = "missing gateway.remote.url (fallback local)"
            note = (
                "Warn: gateway.mode=remote but gateway.remote.url is missing; falling back "
                "to the local gateway."
            )
        else:
            source = "local loopback"
            bind_detail = f"Bind: {gw.bind or 'loopback'}"
    check_url_security(url, source, env, paths.config_path)
    fingerprint = tls_pin(loaded.config, url, source, paths.state_dir, env)

    override = source in ("cli --url", "env OPENCLAW_GATEWAY_URL")
    if override:
        if source == "env OPENCLAW_GATEWAY_URL":
            token = token or env.get("OPENCLAW_GATEWAY_TOKEN") or None
            password = password or env.get("OPENCLAW_GATEWAY_PASSWORD") or None
        if not (token or password):
            hint = (
                "Set OPENCLAW_GATEWAY_TOKEN or OPENCLAW_GATEWAY_PASSWORD alongside "
                "OPENCLAW_GATEWAY_URL; config credentials are intentionally not reused."
                if source.startswith("env")
                else "For the default local or SSH-tunneled Gateway, remove --url to use the "
                "configured target."
            )
            raise CliFailure(
                "gateway_credentials_required",
                "\n".join(
                    [
                        "gateway url override requires explicit credentials",
                        "Fix: pass --token or --password with --url (or gatewayToken in tools).",
                        hint,
                        f"Config: {paths.config_path}",
                    ]
                ),
            )
    elif not (token or password):
        sec = secrets.resolve_secret
        auth_token = sec(gw.auth.token, "gateway.auth.token", env)
        auth_password = sec(gw.auth.password, "gateway.auth.password", env)
        remote_token = sec(gw.remote.token, "gateway.remote.token", env)
        remote_password = sec(gw.remote.password, "gateway.remote.password", env)
        if remote_mode and source == "config gateway.remote.url":
            token = remote_token or env.get("OPENCLAW_GATEWAY_TOKEN") or auth_token
            password = env.get("OPENCLAW_GATEWAY_PASSWORD") or remote_password or auth_password
        else:
            token = (
                auth_token
                or env.get("OPENCLAW_GATEWAY_TOKEN")
                or (remote_token if not auth_token else None)
                or runtime_token
            )
            password = auth_password or env.get("OPENCLAW_GATEWAY_PASSWORD") or remote_password
    mode = gw.auth.mode or (
        "password" if (gw.auth.password or env.get("OPENCLAW_GATEWAY_PASSWORD")) else "token"
    )
    if (
        not override
        and not (token or password)
        and mode in ("token", "password")
        and not has_device_token(url)  # a paired device may connect with its device token
    ):
        raise CliFailure(
            "gateway_credentials_required",
            "\n".join(
                [
                    f"gateway {method} requires credentials before opening a websocket",
                    "Fix: configure gateway.auth token/password, pair this device, or pass "
                    "--token/--password.",
                    f"Config: {paths.config_path}",
                ]
            ),
        )
    # The configured mode decides which field carries a configured secret.
    if not token_flag and not password_flag and mode == "password" and token and not password:
        password, token = token, None
    return Target(
        url=url,
        url_source=source,
        token=token or None,
        password=password or None,
        config_path=paths.config_path,
        bind_detail=bind_detail,
        auth_mode=mode,
        remote_fallback_note=note,
        tls_fingerprint=fingerprint,
    )
