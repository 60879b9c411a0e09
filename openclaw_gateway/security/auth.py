"""Shared-secret authentication (pure): constant-time checks and the official failure wording.

Mirrors the official `authorizeTokenAuth`/`authorizePasswordAuth`: the *mode* picks the
configured secret, and the wire field falls back (token mode reads `auth.token`, else
`auth.password`; password mode the other way round). A blank or placeholder secret counts as
not configured.
"""

from __future__ import annotations

import hmac
from typing import Literal

import attrs

AuthMode = Literal["none", "token", "password", "trusted-proxy"]
AUTH_MODES: tuple[str, ...] = ("none", "token", "password", "trusted-proxy")

# Values that are "set" but mean nothing: the official gateway treats blank, "undefined" and
# "null" as not configured; we also refuse the usual placeholders at start-up (config.py).
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "undefined",
        "null",
        "none",
        "changeme",
        "change-me",
        "change_me",
        "your-token",
        "your_token",
        "token",
        "password",
        "secret",
        "<token>",
        "<password>",
        "xxx",
        "todo",
    }
)
_NOT_CONFIGURED = frozenset({"", "undefined", "null"})


def is_unusable_secret(value: str | None) -> bool:
    """True for secrets we refuse to run with: blank, undefined/null, or a placeholder."""
    return value is None or value.strip().lower() in PLACEHOLDER_SECRETS


def _not_configured(value: str | None) -> bool:
    return value is None or value.strip() in _NOT_CONFIGURED


def safe_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (length leaks only through the final check)."""
    a = given.encode("utf-8")
    b = expected.encode("utf-8")
    return hmac.compare_digest(a, b)


@attrs.frozen
class AuthPolicy:
    """What the running gateway accepts. Secrets are repr-hidden so they never reach logs."""

    mode: AuthMode
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class AuthResult:
    ok: bool
    method: str | None = None
    reason: str | None = None


def authorize_shared_secret(
    policy: AuthPolicy, token: str | None, password: str | None
) -> AuthResult:
    """Check the connect `auth.token`/`auth.password` against the policy.

    The wire values are trimmed and blank ones dropped first (the official
    `resolveSharedConnectAuth`); the configured secret is compared as it is.
    """
    token = (token or "").strip() or None
    password = (password or "").strip() or None
    if policy.mode == "none":
        return AuthResult(True, "none")
    if policy.mode == "token":
        if _not_configured(policy.token):
            return AuthResult(False, reason="token_missing_config")
        given = token if token is not None else password
        if given is None:
            return AuthResult(False, reason="token_missing")
        assert policy.token is not None
        if not safe_equal(given, policy.token):
            return AuthResult(False, reason="token_mismatch")
        return AuthResult(True, "token")
    if policy.mode == "password":
        if _not_configured(policy.password):
            return AuthResult(False, reason="password_missing_config")
        given = password if password is not None else token
        if given is None:
            return AuthResult(False, reason="password_missing")
        assert policy.password is not None
        if not safe_equal(given, policy.password):
            return AuthResult(False, reason="password_mismatch")
        return AuthResult(True, "password")
    # trusted-proxy needs proxy identity headers, which this gateway does not accept yet.
    return AuthResult(False, reason="trusted_proxy_unconfigured")


_DETAIL_CODES = {
    "token_missing": "AUTH_TOKEN_MISSING",
    "token_mismatch": "AUTH_TOKEN_MISMATCH",
    "token_missing_config": "AUTH_TOKEN_NOT_CONFIGURED",
    "password_missing": "AUTH_PASSWORD_MISSING",
    "password_mismatch": "AUTH_PASSWORD_MISMATCH",
    "password_missing_config": "AUTH_PASSWORD_NOT_CONFIGURED",
    "bootstrap_token_invalid": "AUTH_BOOTSTRAP_TOKEN_INVALID",
    "rate_limited": "AUTH_RATE_LIMITED",
    "device_token_mismatch": "AUTH_DEVICE_TOKEN_MISMATCH",
    "scope_mismatch": "AUTH_SCOPE_MISMATCH",
}

_NEXT_STEPS = {
    "token_missing": "update_auth_configuration",
    "token_missing_config": "update_auth_configuration",
    "password_missing": "update_auth_configuration",
    "password_missing_config": "update_auth_configuration",
    "token_mismatch": "update_auth_credentials",
    "password_mismatch": "update_auth_credentials",
    "device_token_mismatch": "update_auth_credentials",
    "scope_mismatch": "review_auth_configuration",
    "rate_limited": "wait_then_retry",
}


def detail_code(reason: str | None) -> str:
    if reason is None:
        return "AUTH_REQUIRED"
    return _DETAIL_CODES.get(reason, "AUTH_UNAUTHORIZED")


@attrs.frozen
class ClientKind:
    is_cli: bool  # client.mode == "cli"
    is_ui: bool  # Control UI / webchat wording


def failure_message(
    mode: str, reason: str | None, provided: str, kind: ClientKind, is_local: bool
) -> str:
    """The official `formatGatewayAuthFailureMessage`, for the reasons this gateway produces."""
    ui_hint = "open the dashboard URL and paste the token in Control UI settings"
    if kind.is_cli:
        token_hint = (
            "use this gateway's gateway.auth.token or pair the device"
            if is_local
            else "set gateway.remote.token to match gateway.auth.token"
        )
        password_hint = (
            "use this gateway's gateway.auth.password"
            if is_local
            else "set gateway.remote.password to match gateway.auth.password"
        )
    elif kind.is_ui:
        token_hint = ui_hint
        password_hint = "enter the password in Control UI settings"
    else:
        token_hint = "provide gateway auth token"
        password_hint = "provide gateway auth password"
    missing_ui = "paste in Control UI settings or openclaw doctor --generate-gateway-token; restart"
    messages = {
        "token_missing": f"unauthorized: gateway token missing ({missing_ui if kind.is_ui else token_hint})",
        "token_mismatch": f"unauthorized: gateway token mismatch ({token_hint})",
        "token_missing_config": "unauthorized: gateway token not configured on gateway (set gateway.auth.token)",
        "password_missing": f"unauthorized: gateway password missing ({password_hint})",
        "password_mismatch": f"unauthorized: gateway password mismatch ({password_hint})",
        "password_missing_config": "unauthorized: gateway password not configured on gateway (set gateway.auth.password)",
        "rate_limited": "unauthorized: too many failed authentication attempts (retry later)",
        "device_token_mismatch": "unauthorized: device token mismatch (rotate/reissue device token)",
        "scope_mismatch": "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)",
    }
    if reason in messages:
        return messages[reason]
    if mode == "token" and provided == "none":
        return f"unauthorized: gateway token missing ({token_hint})"
    if mode == "password" and provided == "none":
        return f"unauthorized: gateway password missing ({password_hint})"
    return "unauthorized"


def provided_kind(
    token: str | None, password: str | None, device_token: str | None, bootstrap_token: str | None
) -> str:
    if password:
        return "password"
    if token:
        return "token"
    if bootstrap_token:
        return "bootstrap-token"
    if device_token:
        return "device-token"
    return "none"


def next_step(reason: str | None) -> str:
    return _NEXT_STEPS.get(reason or "", "review_auth_configuration")
