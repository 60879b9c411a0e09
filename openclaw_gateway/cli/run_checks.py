"""The checks `gateway run` makes, as pure-ish helpers (the sequence lives in run.py; the
dev config is dev_config.py).

Mode guard, the secret-file policy, auth resolution, weak-secret and effective-config
refusals, config miskey hints, and the official runtime console.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import attrs

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core import secrets
from openclaw_gateway.core.errors import UsageError
from openclaw_gateway.core.logs import Redactor, iso_local
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.core.paths import user_path
from openclaw_gateway.host.secret_sources import resolve_secrets

SECRET_FILE_MAX_BYTES = 16 * 1024
REDACTION_SENTINEL = secrets.REDACTED
WEAK_TOKENS = frozenset({"change-me-to-a-long-random-token", "change-me-now"})
WEAK_PASSWORDS = frozenset({"change-me-to-a-strong-password"})

_FLAG_JOINT = re.compile(r"(?:(?<=--token)|(?<=--password))(?=\s+(?:or|and)\b\s+--)")


class RuntimeConsole:
    """The official `defaultRuntime.log/error`: plain lines, then `<ISO ts> msg` once the
    command has passed its first checks. Everything goes through the redactor (which, like
    the official console, also masks the word after `--password`)."""

    def __init__(
        self,
        redactor: Redactor,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.redact = redactor
        self.stamped = False
        self._stdout = stdout
        self._stderr = stderr
        self._clock = clock or (lambda: dt.datetime.now().astimezone())

    def _write(self, stream: TextIO, message: str) -> None:
        # The official flag redactor spares `--password or --x` / `--token and --y`; ours
        # (logs.Redactor) would mask the `or`, so those joints are redacted apart.
        text = "".join(self.redact(part) for part in _FLAG_JOINT.split(message))
        if self.stamped:
            text = f"{iso_local(self._clock())} {text}"
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass

    def log(self, message: str) -> None:
        self._write(self._stdout or sys.stdout, message)

    def error(self, message: str) -> None:
        self._write(self._stderr or sys.stderr, message)


def start_guard_errors(
    *, allow_unconfigured: bool, exists: bool, mode: object, dev: bool
) -> list[str]:
    """The gateway.mode=local guard (cli.md §2.4). Empty when the gateway may start."""
    if allow_unconfigured or mode == "local" or (not exists and dev):
        return []
    if not exists:
        return [
            "Missing config. Run `openclaw setup` or set gateway.mode=local "
            "(or pass --allow-unconfigured)."
        ]
    if mode is None:
        first = (
            "Gateway start blocked: existing config is missing gateway.mode. Treat this as "
            "suspicious or clobbered config. Re-run `openclaw onboard --mode local` or "
            "`openclaw setup`, set gateway.mode=local manually, or pass --allow-unconfigured."
        )
    else:
        first = (
            f"Gateway start blocked: set gateway.mode=local (current: {mode}) or pass "
            "--allow-unconfigured."
        )
    # The official second line points at a config-audit store this gateway does not keep,
    # so it is left out rather than pointing users at nothing.
    return [first]


# -- secrets ---------------------------------------------------------------------------------


def present(value: str | None) -> str | None:
    """A usable credential string, or None for unset/blank (official trimCredentialToUndefined)."""
    if value is None:
        return None
    trimmed = value.strip()
    return trimmed or None


def is_invalid_secret(value: object) -> bool:
    return isinstance(value, str) and value.strip() in ("", "undefined", "null")


def read_secret_file(raw_path: str, label: str, env: Mapping[str, str]) -> str:
    """The official secret-file policy: no symlinks or hardlinks, a regular file of at most
    16 KiB, trimmed, not empty. Errors are UsageError (exit 1) with the official wording."""
    if not raw_path.strip():
        raise UsageError(f"{label} file path is empty.")
    path = user_path(raw_path, env)
    try:
        info = os.lstat(path)
    except OSError as exc:
        code = _errno_name(exc)
        detail = (exc.strerror or "error").lower()
        raise UsageError(
            f"Failed to inspect {label} file at {path}: Error: {code}: {detail}, lstat "
            f"'{path}' | {code}"
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(
            f"Failed to inspect {label} file at {path}: FsSafeError: {label} file at {path} must "
            "not be a symlink. | symlink"
        )
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{label} file at {path} must be a regular file.")
    if info.st_nlink > 1:
        raise UsageError(f"{label} file at {path} must not be hardlinked.")
    if info.st_size > SECRET_FILE_MAX_BYTES:
        raise UsageError(f"{label} file at {path} exceeds {SECRET_FILE_MAX_BYTES} bytes.")
    try:
        text = path.read_bytes()[: SECRET_FILE_MAX_BYTES + 1].decode("utf-8", errors="replace")
    except OSError as exc:
        code = _errno_name(exc)
        raise UsageError(
            f"Failed to read {label} file at {path}: Error: {code}: "
            f"{(exc.strerror or 'error').lower()} | {code}"
        ) from None
    secret = text.strip()
    if not secret:
        raise UsageError(f"{label} file at {path} is empty.")
    return secret


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "EIO")


@attrs.frozen
class ResolvedAuth:
    mode: str
    token: str | None = attrs.field(repr=False)
    password: str | None = attrs.field(repr=False)
    raw_token: object = attrs.field(repr=False)
    raw_password: object = attrs.field(repr=False)


SecretResolver = Callable[[Mapping[str, Any]], Mapping[str, str | None]]


def command_path_secrets(env: Mapping[str, str]) -> SecretResolver:
    """Strings and `env` refs only (doctor, one-shot commands): the official command path."""
    return lambda values: {k: secrets.resolve_secret(v, k, env) for k, v in values.items()}


def gateway_secrets(raw: Mapping[str, Any], env: Mapping[str, str]) -> SecretResolver:
    """Every SecretRef source, as the gateway resolves them (host/secret_sources.py)."""
    return lambda values: resolve_secrets(values, raw, env)


def resolve_auth(
    *,
    token_flag: str | None,
    auth_flag: str | None,
    password_arg: str | None,
    gw: cfg.GatewayConfig,
    env: Mapping[str, str],
    resolve: SecretResolver | None = None,
) -> ResolvedAuth:
    """Flags override config; config secrets come before OPENCLAW_GATEWAY_TOKEN/PASSWORD; the
    mode is --auth, else gateway.auth.mode, else password if one resolved, else token.

    Config secrets go through `resolve` (default: the command path, env refs only); a ref
    that cannot be resolved raises ConfigError naming its key path."""
    token_override = present(token_flag)
    raw_token: object = token_flag if token_override else gw.auth.token
    raw_password: object = password_arg if password_arg else gw.auth.password
    wanted: dict[str, Any] = {}
    if not token_override:
        wanted["gateway.auth.token"] = gw.auth.token
    if not password_arg:
        wanted["gateway.auth.password"] = gw.auth.password
    found = (resolve or command_path_secrets(env))(wanted)
    config_token = found.get("gateway.auth.token")
    config_password = found.get("gateway.auth.password")
    token = token_override or present(config_token) or present(env.get("OPENCLAW_GATEWAY_TOKEN"))
    password = (
        present(password_arg)
        or present(config_password)
        or present(env.get("OPENCLAW_GATEWAY_PASSWORD"))
    )
    mode = auth_flag or gw.auth.mode or ("password" if password else "token")
    return ResolvedAuth(mode, token, password, raw_token, raw_password)


def weak_secret_error(auth: ResolvedAuth) -> str | None:
    """Official assertGatewayAuthNotKnownWeak: blank/undefined/null, a published placeholder,
    or the redaction sentinel is refused at start-up (exit 1)."""
    if auth.mode not in ("token", "password"):
        return None
    value = auth.token if auth.mode == "token" else auth.password
    raw = auth.raw_token if auth.mode == "token" else auth.raw_password
    candidate = value if value is not None else raw
    if candidate == REDACTION_SENTINEL:
        if auth.mode == "password":
            return (
                "Gateway auth password is a known redaction sentinel, not a credential. Replace "
                "gateway.auth.password, OPENCLAW_GATEWAY_PASSWORD, or its external secret "
                "source with a real password, then restart the Gateway."
            )
        return (
            "Gateway auth token is a known redaction sentinel, not a credential. Run "
            "`openclaw doctor --fix` to repair the Gateway token or replace the external "
            "secret, then restart and re-pair devices."
        )
    weak = WEAK_TOKENS if auth.mode == "token" else WEAK_PASSWORDS
    if is_invalid_secret(candidate) or (isinstance(candidate, str) and candidate.strip() in weak):
        if auth.mode == "token":
            return (
                "Invalid config: gateway auth token is blank, a published example placeholder, "
                "or the literal string undefined/null. Generate a real secret (for example, "
                "`openssl rand -hex 32`) and update gateway.auth.token or its external source. "
                "For blank or undefined/null inline tokens, `openclaw doctor --fix "
                "--generate-gateway-token` can generate one."
            )
        return (
            "Invalid config: gateway auth password is blank, a published example placeholder, "
            "or the literal string undefined/null. Generate a real secret (for example, "
            "`openssl rand -hex 32`) and set OPENCLAW_GATEWAY_PASSWORD or gateway.auth.password "
            "(or its external source) before starting the gateway."
        )
    return None


NON_LOOPBACK_BIND_MODES = frozenset({"lan", "tailnet", "custom", "auto"})


def seed_allowed_origins(gw: cfg.GatewayConfig, bind_mode: str, port: int) -> tuple[str, ...]:
    """Official ensureControlUiAllowedOriginsForNonLoopbackBind: for a non-loopback bind mode
    with the Control UI on and no origins (nor the host-header fallback) configured, the
    loopback origins of this port (+ the custom host) apply for this run, config unchanged.
    Empty when nothing is seeded."""
    ui = gw.control_ui
    if bind_mode not in NON_LOOPBACK_BIND_MODES or not ui.enabled:
        return ()
    if ui.dangerously_allow_host_header_origin_fallback or any(
        o.strip() for o in ui.allowed_origins or ()
    ):
        return ()
    origins = [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    custom = (gw.custom_bind_host or "").strip()
    if bind_mode == "custom" and custom:
        origins.append(f"http://{custom}:{port}")
    return tuple(dict.fromkeys(origins))


def seeded_origins_message(origins: tuple[str, ...], bind_mode: str) -> str:
    return (
        f"gateway: seeded gateway.controlUi.allowedOrigins {json.dumps(list(origins))} for "
        f"bind={bind_mode} (required since v2026.2.26; see issue #29385). Applied for this "
        "runtime without writing config; add other origins to gateway.controlUi.allowedOrigins "
        "if needed."
    )


def effective_config_conflict(
    auth: ResolvedAuth, tailscale: str, host: str, gw: cfg.GatewayConfig
) -> str | None:
    """Official assertGatewayRuntimeSecurityConfig conflicts (exit 78)."""
    if tailscale == "funnel" and auth.mode != "password":
        return (
            "tailscale funnel requires gateway auth mode=password (set gateway.auth.password or "
            "OPENCLAW_GATEWAY_PASSWORD)"
        )
    if tailscale != "off" and auth.mode == "none":
        return (
            f"gateway.auth.mode=none cannot be used with gateway.tailscale.mode={tailscale}; "
            "configure token, password, or trusted-proxy auth before exposing the gateway "
            "through Tailscale"
        )
    if tailscale != "off" and not is_loopback(host):
        return "tailscale serve/funnel requires gateway bind=loopback (127.0.0.1)"
    ui = gw.control_ui
    if (
        ui.enabled
        and not is_loopback(host)
        and not [o for o in ui.allowed_origins or () if o.strip()]
        and not ui.dangerously_allow_host_header_origin_fallback
    ):
        return (
            "non-loopback Control UI requires gateway.controlUi.allowedOrigins (set explicit "
            "origins), or set gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback=true "
            "to use Host-header origin fallback mode"
        )
    if auth.mode == "trusted-proxy" and not gw.trusted_proxies:
        return (
            "gateway auth mode=trusted-proxy requires gateway.trustedProxies to be configured "
            "with at least one proxy IP"
        )
    return None


def miskey_hints(raw: Mapping[str, Any]) -> list[str]:
    gateway = raw.get("gateway")
    hints: list[str] = []
    if not isinstance(gateway, dict):
        return hints
    if gateway.get("token") is not None:
        hints.append('Found "gateway.token" in config. Use "gateway.auth.token" instead.')
    remote = gateway.get("remote")
    if isinstance(remote, dict) and remote.get("token") is not None:
        hints.append(
            '"gateway.remote.token" is for remote CLI calls; it does not enable local gateway auth.'
        )
    return hints
