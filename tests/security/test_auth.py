"""auth: constant-time shared-secret checks and the official failure wording (protocol.md §3)."""

from __future__ import annotations

import pytest

from openclaw_gateway.security import auth
from openclaw_gateway.security.auth import (
    AuthPolicy,
    AuthResult,
    ClientKind,
    authorize_shared_secret,
)

TOKEN = "tok-5e1d9a"
PASSWORD = "pw-77c2b0"
CLI = ClientKind(is_cli=True, is_ui=False)
UI = ClientKind(is_cli=False, is_ui=True)
OTHER = ClientKind(is_cli=False, is_ui=False)


# --- safe_equal -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected", "equal"),
    [
        ("secret", "secret", True),
        ("", "", True),
        ("secret", "secreT", False),
        ("secret", "secret ", False),
        ("secre", "secret", False),
        ("secret-longer", "secret", False),
        ("", "secret", False),
        ("sécret", "sécret", True),
        ("sécret", "secret", False),
        ("\x00", "", False),  # padding must not make a NUL equal to nothing
    ],
)
def test_safe_equal(given: str, expected: str, equal: bool) -> None:
    assert auth.safe_equal(given, expected) is equal


# --- authorize_shared_secret ----------------------------------------------------------------


TOKEN_POLICY = AuthPolicy("token", token=TOKEN)
PASSWORD_POLICY = AuthPolicy("password", password=PASSWORD)


@pytest.mark.parametrize(
    ("token", "password", "result"),
    [
        (TOKEN, None, AuthResult(True, "token")),
        (None, TOKEN, AuthResult(True, "token")),  # mode picks the secret; password is a fallback
        (TOKEN, "wrong", AuthResult(True, "token")),  # the token field wins when present
        ("wrong", TOKEN, AuthResult(False, reason="token_mismatch")),
        ("wrong", None, AuthResult(False, reason="token_mismatch")),
        (None, None, AuthResult(False, reason="token_missing")),
        ("", "", AuthResult(False, reason="token_missing")),
        ("   ", None, AuthResult(False, reason="token_missing")),
        (f"  {TOKEN}\n", None, AuthResult(True, "token")),  # wire values are trimmed
        ("  ", TOKEN, AuthResult(True, "token")),  # a blank token falls back to the password
        (TOKEN.upper(), None, AuthResult(False, reason="token_mismatch")),
    ],
)
def test_token_mode(token: str | None, password: str | None, result: AuthResult) -> None:
    assert authorize_shared_secret(TOKEN_POLICY, token, password) == result


@pytest.mark.parametrize(
    ("token", "password", "result"),
    [
        (None, PASSWORD, AuthResult(True, "password")),
        (PASSWORD, None, AuthResult(True, "password")),
        ("wrong", PASSWORD, AuthResult(True, "password")),
        (PASSWORD, "wrong", AuthResult(False, reason="password_mismatch")),
        (None, None, AuthResult(False, reason="password_missing")),
        (None, f" {PASSWORD} ", AuthResult(True, "password")),
    ],
)
def test_password_mode(token: str | None, password: str | None, result: AuthResult) -> None:
    assert authorize_shared_secret(PASSWORD_POLICY, token, password) == result


@pytest.mark.parametrize(
    "configured", [None, "", "   ", "undefined", "null", " null ", "\tundefined"]
)
def test_blank_or_js_coerced_token_counts_as_not_configured(configured: str | None) -> None:
    policy = AuthPolicy("token", token=configured)
    assert authorize_shared_secret(policy, "anything", None) == AuthResult(
        False, reason="token_missing_config"
    )
    # Even a client sending the very same string does not get in.
    if configured:
        assert not authorize_shared_secret(policy, configured, None).ok


@pytest.mark.parametrize("configured", [None, "", "undefined", "null"])
def test_blank_password_counts_as_not_configured(configured: str | None) -> None:
    policy = AuthPolicy("password", password=configured)
    assert authorize_shared_secret(policy, None, "x") == AuthResult(
        False, reason="password_missing_config"
    )


@pytest.mark.parametrize("configured", ["NULL", "Undefined", "nil"])
def test_not_configured_check_is_case_sensitive_like_the_official_one(configured: str) -> None:
    policy = AuthPolicy("token", token=configured)
    assert authorize_shared_secret(policy, configured, None) == AuthResult(True, "token")


def test_mode_none_always_succeeds() -> None:
    policy = AuthPolicy("none")
    assert authorize_shared_secret(policy, None, None) == AuthResult(True, "none")
    assert authorize_shared_secret(policy, "junk", "junk") == AuthResult(True, "none")


def test_trusted_proxy_mode_is_refused_without_proxy_support() -> None:
    result = authorize_shared_secret(AuthPolicy("trusted-proxy"), TOKEN, PASSWORD)
    assert result.ok is False
    assert result.method is None


def test_policy_repr_hides_secrets() -> None:
    text = repr(AuthPolicy("token", token=TOKEN, password=PASSWORD))
    assert TOKEN not in text
    assert PASSWORD not in text
    assert "token" in text


# --- is_unusable_secret ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "  ",
        "undefined",
        "null",
        "NULL",
        "changeme",
        "CHANGEME",
        " change-me ",
        "<token>",
        "secret",
        "todo",
    ],
)
def test_unusable_secrets(value: str | None) -> None:
    assert auth.is_unusable_secret(value) is True


@pytest.mark.parametrize("value", [TOKEN, "0123456789abcdef", "secret-but-longer", "tokens"])
def test_usable_secrets(value: str) -> None:
    assert auth.is_unusable_secret(value) is False


# --- detail codes, next steps, provided kind ------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "code", "step"),
    [
        ("token_missing", "AUTH_TOKEN_MISSING", "update_auth_configuration"),
        ("token_mismatch", "AUTH_TOKEN_MISMATCH", "update_auth_credentials"),
        ("token_missing_config", "AUTH_TOKEN_NOT_CONFIGURED", "update_auth_configuration"),
        ("password_missing", "AUTH_PASSWORD_MISSING", "update_auth_configuration"),
        ("password_mismatch", "AUTH_PASSWORD_MISMATCH", "update_auth_credentials"),
        ("password_missing_config", "AUTH_PASSWORD_NOT_CONFIGURED", "update_auth_configuration"),
        ("device_token_mismatch", "AUTH_DEVICE_TOKEN_MISMATCH", "update_auth_credentials"),
        ("scope_mismatch", "AUTH_SCOPE_MISMATCH", "review_auth_configuration"),
        ("rate_limited", "AUTH_RATE_LIMITED", "wait_then_retry"),
        ("bootstrap_token_invalid", "AUTH_BOOTSTRAP_TOKEN_INVALID", "review_auth_configuration"),
        ("trusted_proxy_unconfigured", "AUTH_UNAUTHORIZED", "review_auth_configuration"),
        (None, "AUTH_REQUIRED", "review_auth_configuration"),
    ],
)
def test_detail_code_and_next_step(reason: str | None, code: str, step: str) -> None:
    assert auth.detail_code(reason) == code
    assert auth.next_step(reason) == step


@pytest.mark.parametrize(
    ("token", "password", "device_token", "bootstrap", "kind"),
    [
        ("t", "p", "d", "b", "password"),
        ("t", None, "d", "b", "token"),
        (None, None, "d", "b", "bootstrap-token"),
        (None, None, "d", None, "device-token"),
        (None, None, None, None, "none"),
        ("", "", "", "", "none"),
    ],
)
def test_provided_kind_precedence(
    token: str | None,
    password: str | None,
    device_token: str | None,
    bootstrap: str | None,
    kind: str,
) -> None:
    assert auth.provided_kind(token, password, device_token, bootstrap) == kind


# --- failure messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "kind", "local", "message"),
    [
        (
            "token_mismatch",
            CLI,
            True,
            "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)",
        ),
        (
            "token_mismatch",
            CLI,
            False,
            "unauthorized: gateway token mismatch (set gateway.remote.token to match gateway.auth.token)",
        ),
        (
            "token_mismatch",
            UI,
            True,
            "unauthorized: gateway token mismatch (open the dashboard URL and paste the token in Control UI settings)",
        ),
        (
            "token_mismatch",
            OTHER,
            True,
            "unauthorized: gateway token mismatch (provide gateway auth token)",
        ),
        (
            "token_missing",
            UI,
            False,
            "unauthorized: gateway token missing (paste in Control UI settings or openclaw doctor --generate-gateway-token; restart)",
        ),
        (
            "token_missing",
            OTHER,
            False,
            "unauthorized: gateway token missing (provide gateway auth token)",
        ),
        (
            "password_mismatch",
            CLI,
            True,
            "unauthorized: gateway password mismatch (use this gateway's gateway.auth.password)",
        ),
        (
            "password_mismatch",
            CLI,
            False,
            "unauthorized: gateway password mismatch (set gateway.remote.password to match gateway.auth.password)",
        ),
        (
            "password_missing",
            UI,
            True,
            "unauthorized: gateway password missing (enter the password in Control UI settings)",
        ),
        (
            "token_missing_config",
            CLI,
            True,
            "unauthorized: gateway token not configured on gateway (set gateway.auth.token)",
        ),
        (
            "password_missing_config",
            OTHER,
            False,
            "unauthorized: gateway password not configured on gateway (set gateway.auth.password)",
        ),
        (
            "rate_limited",
            CLI,
            True,
            "unauthorized: too many failed authentication attempts (retry later)",
        ),
        (
            "device_token_mismatch",
            OTHER,
            False,
            "unauthorized: device token mismatch (rotate/reissue device token)",
        ),
        (
            "scope_mismatch",
            OTHER,
            False,
            "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)",
        ),
    ],
)
def test_failure_message(reason: str, kind: ClientKind, local: bool, message: str) -> None:
    assert auth.failure_message("token", reason, "token", kind, local) == message


def test_failure_message_fallbacks_without_a_known_reason() -> None:
    assert (
        auth.failure_message("token", None, "none", CLI, True)
        == "unauthorized: gateway token missing (use this gateway's gateway.auth.token or pair the device)"
    )
    assert (
        auth.failure_message("password", None, "none", OTHER, False)
        == "unauthorized: gateway password missing (provide gateway auth password)"
    )
    assert auth.failure_message("token", "something_else", "token", CLI, True) == "unauthorized"
    assert auth.failure_message("none", None, "none", CLI, True) == "unauthorized"
