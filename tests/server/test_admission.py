"""admission: shared secret, missing-device policy and scope ceilings (protocol.md §2.4, §3, §4.4).

Every expectation follows the official connect-auth.ts / connect-policy.ts /
handshake-auth-helpers.ts logic (message-handler-D5c0StBB.mjs, node-connect-reconcile-D2OfynQl.mjs).
"""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.protocol.handshake import Refusal
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.admission import (
    Admission,
    DeviceCheck,
    DeviceOutcome,
    Peer,
    admit,
    is_local_backend,
)
from tests.security.builders import (
    LOCAL,
    LOCAL_BEHIND_PROXY,
    LOCAL_WITH_ORIGIN,
    NONE_POLICY,
    PASSWORD,
    PASSWORD_POLICY,
    REMOTE,
    REQUEST_ID,
    TOKEN,
    TOKEN_POLICY,
    client,
    connect_request,
    device,
)

LOCAL_CLI_HINT = "use this gateway's gateway.auth.token or pair the device"
REMOTE_CLI_HINT = "set gateway.remote.token to match gateway.auth.token"
ALL_READ_WRITE = ["operator.read", "operator.write"]


def _admitted(policy: AuthPolicy = TOKEN_POLICY, peer: Peer = LOCAL, **overrides: Any) -> Admission:
    outcome = admit(connect_request(**overrides), peer, policy)
    assert isinstance(outcome, Admission), outcome
    return outcome


def _refused(policy: AuthPolicy = TOKEN_POLICY, peer: Peer = LOCAL, **overrides: Any) -> Refusal:
    outcome = admit(connect_request(**overrides), peer, policy)
    assert isinstance(outcome, Refusal), outcome
    assert outcome.request_id == REQUEST_ID
    assert outcome.close_code == 1008
    assert outcome.error is not None
    assert outcome.close_reason == outcome.error["message"][:120]
    return outcome


def _auth_details(reason: str, code: str, step: str, *, retry: bool = False) -> dict[str, Any]:
    return {
        "code": code,
        "authReason": reason,
        "canRetryWithDeviceToken": retry,
        "recommendedNextStep": step,
    }


# --- shared secret: success -----------------------------------------------------------------


def test_local_cli_with_correct_token_keeps_requested_scopes() -> None:
    granted = _admitted()
    assert granted == Admission(
        role="operator",
        scopes=("operator.read",),
        method="token",
        device_id=None,
        locality="direct_local",
    )


def test_password_sent_to_token_gateway_counts_as_the_token() -> None:
    granted = _admitted(auth={"password": TOKEN})
    assert granted.method == "token"
    assert granted.scopes == ("operator.read",)


def test_password_mode_accepts_password_and_token_field_fallback() -> None:
    assert _admitted(PASSWORD_POLICY, auth={"password": PASSWORD}).method == "password"
    assert _admitted(PASSWORD_POLICY, auth={"token": PASSWORD}).method == "password"


def test_wire_token_is_trimmed_before_comparison() -> None:
    assert _admitted(auth={"token": f"  {TOKEN}  "}).method == "token"


def test_duplicate_requested_scopes_are_collapsed_in_order() -> None:
    granted = _admitted(scopes=["operator.write", "operator.read", "operator.write"])
    assert granted.scopes == ("operator.write", "operator.read")


# --- shared secret: failures ----------------------------------------------------------------


def test_wrong_token_local_cli_gets_the_exact_official_message() -> None:
    refusal = _refused(auth={"token": "wrong"})
    message = f"unauthorized: gateway token mismatch ({LOCAL_CLI_HINT})"
    assert refusal.error == {
        "code": "INVALID_REQUEST",
        "message": message,
        "details": _auth_details(
            "token_mismatch", "AUTH_TOKEN_MISMATCH", "update_auth_credentials"
        ),
    }
    assert refusal.close_reason == message


def test_wrong_token_remote_cli_gets_the_remote_hint() -> None:
    refusal = _refused(peer=REMOTE, auth={"token": "wrong"})
    assert refusal.error is not None
    assert refusal.error["message"] == f"unauthorized: gateway token mismatch ({REMOTE_CLI_HINT})"


def test_proxied_loopback_is_not_local_for_the_hint() -> None:
    refusal = _refused(peer=LOCAL_BEHIND_PROXY, auth={"token": "wrong"})
    assert refusal.error is not None
    assert REMOTE_CLI_HINT in refusal.error["message"]


@pytest.mark.parametrize(
    ("client_info", "hint"),
    [
        (client(id="gateway-client", mode="backend"), "provide gateway auth token"),
        (client(id="test", mode="test"), "provide gateway auth token"),
        (
            client(id="webchat-ui", mode="webchat"),
            "open the dashboard URL and paste the token in Control UI settings",
        ),
        (
            client(id="openclaw-macos", mode="webchat"),
            "open the dashboard URL and paste the token in Control UI settings",
        ),
        (client(id="cli", mode="probe"), "provide gateway auth token"),
    ],
)
def test_wrong_token_hint_depends_on_client_kind(client_info: dict[str, Any], hint: str) -> None:
    # Webchat clients always face the Origin policy (§9.3): give them an acceptable Origin.
    peer = LOCAL_WITH_ORIGIN if client_info["mode"] == "webchat" else LOCAL
    refusal = _refused(peer=peer, client=client_info, auth={"token": "wrong"})
    assert refusal.error is not None
    assert refusal.error["message"] == f"unauthorized: gateway token mismatch ({hint})"


def test_wrong_password_sent_to_token_gateway_is_a_token_mismatch() -> None:
    refusal = _refused(auth={"password": "wrong"})
    assert refusal.error is not None
    assert refusal.error["details"] == _auth_details(
        "token_mismatch", "AUTH_TOKEN_MISMATCH", "update_auth_credentials"
    )


def test_wrong_token_beats_a_correct_password_in_token_mode() -> None:
    refusal = _refused(auth={"token": "wrong", "password": TOKEN})
    assert refusal.error is not None
    assert refusal.error["details"]["authReason"] == "token_mismatch"


def test_wrong_password_in_password_mode() -> None:
    refusal = _refused(PASSWORD_POLICY, auth={"password": "nope"})
    assert refusal.error == {
        "code": "INVALID_REQUEST",
        "message": "unauthorized: gateway password mismatch (use this gateway's gateway.auth.password)",
        "details": _auth_details(
            "password_mismatch", "AUTH_PASSWORD_MISMATCH", "update_auth_credentials"
        ),
    }


def test_whitespace_only_token_is_sent_but_counts_as_missing() -> None:
    # hasSharedAuth looks at the raw field, the check at the trimmed one: unauthorized, missing.
    refusal = _refused(auth={"token": "   "})
    assert refusal.error is not None
    assert refusal.error["message"] == f"unauthorized: gateway token missing ({LOCAL_CLI_HINT})"
    assert refusal.error["details"] == _auth_details(
        "token_missing", "AUTH_TOKEN_MISSING", "update_auth_configuration"
    )


def test_gateway_without_a_configured_token() -> None:
    refusal = _refused(AuthPolicy("token", token="undefined"))
    assert refusal.error is not None
    assert refusal.error["message"] == (
        "unauthorized: gateway token not configured on gateway (set gateway.auth.token)"
    )
    assert refusal.error["details"] == _auth_details(
        "token_missing_config", "AUTH_TOKEN_NOT_CONFIGURED", "update_auth_configuration"
    )


# --- missing-device policy ------------------------------------------------------------------


@pytest.mark.parametrize("policy", [TOKEN_POLICY, PASSWORD_POLICY, NONE_POLICY])
def test_no_credentials_and_no_device_is_device_identity_required(policy: AuthPolicy) -> None:
    refusal = _refused(policy, auth=None)
    assert refusal.error == {
        "code": "NOT_PAIRED",
        "message": "device identity required",
        "details": {"code": "DEVICE_IDENTITY_REQUIRED"},
    }
    assert refusal.close_reason == "device identity required"


def test_empty_auth_object_is_no_credentials() -> None:
    refusal = _refused(auth={"token": "", "password": ""})
    assert refusal.error is not None
    assert refusal.error["code"] == "NOT_PAIRED"


@pytest.mark.parametrize(
    "ui_id", ["openclaw-control-ui", "openclaw-browser-copilot", "openclaw-tui"]
)
@pytest.mark.parametrize("auth", [{"token": TOKEN}, {"token": "wrong"}, None])
def test_control_ui_without_device_needs_device_identity(ui_id: str, auth: Any) -> None:
    message = "control ui requires device identity (use HTTPS or localhost secure context)"
    # Browser UIs face the Origin policy first (§9.3); the TUI is not a browser.
    peer = LOCAL if ui_id == "openclaw-tui" else LOCAL_WITH_ORIGIN
    refusal = _refused(peer=peer, client=client(id=ui_id, mode="ui"), auth=auth)
    assert refusal.error == {
        "code": "INVALID_REQUEST",
        "message": message,
        "details": {"code": "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"},
    }
    assert refusal.close_reason == message


@pytest.mark.parametrize("peer", [LOCAL, REMOTE])
def test_node_without_device_is_not_paired_even_with_the_right_token(peer: Peer) -> None:
    refusal = _refused(
        peer=peer, role="node", client=client(id="node-host", mode="node"), scopes=[]
    )
    assert refusal.error is not None
    assert refusal.error["code"] == "NOT_PAIRED"
    assert refusal.error["details"] == {"code": "DEVICE_IDENTITY_REQUIRED"}


def test_node_without_device_and_wrong_token_is_unauthorized() -> None:
    refusal = _refused(role="node", client=client(id="node-host", mode="node"), auth={"token": "x"})
    assert refusal.error is not None
    assert refusal.error["code"] == "INVALID_REQUEST"
    assert refusal.error["details"]["authReason"] == "token_mismatch"


def test_auth_mode_none_still_needs_a_device_for_ordinary_operators() -> None:
    refusal = _refused(NONE_POLICY, auth={"token": "anything"})
    assert refusal.error is not None
    assert refusal.error["code"] == "NOT_PAIRED"


def test_auth_mode_none_lets_the_local_backend_in_with_scopes() -> None:
    granted = _admitted(
        NONE_POLICY,
        client=client(id="gateway-client", mode="backend"),
        auth=None,
        scopes=ALL_READ_WRITE,
    )
    assert granted.method == "none"
    assert granted.scopes == tuple(ALL_READ_WRITE)


def test_auth_mode_none_remote_backend_needs_a_device() -> None:
    refusal = _refused(
        NONE_POLICY, peer=REMOTE, client=client(id="gateway-client", mode="backend"), auth=None
    )
    assert refusal.error is not None
    assert refusal.error["code"] == "NOT_PAIRED"


# --- scope ceilings for device-less connections ---------------------------------------------


@pytest.mark.parametrize(
    ("peer", "client_info", "kept"),
    [
        (LOCAL, client(id="cli", mode="cli"), True),
        (LOCAL, client(id="gateway-client", mode="backend"), True),
        (REMOTE, client(id="cli", mode="cli"), False),
        (REMOTE, client(id="gateway-client", mode="backend"), False),
        (LOCAL_WITH_ORIGIN, client(id="cli", mode="cli"), False),
        (LOCAL_WITH_ORIGIN, client(id="gateway-client", mode="backend"), False),
        (LOCAL_BEHIND_PROXY, client(id="cli", mode="cli"), False),
        (LOCAL, client(id="cli", mode="probe"), False),
        (LOCAL, client(id="openclaw-probe", mode="probe"), False),
        (LOCAL, client(id="test", mode="test"), False),
        (LOCAL, client(id="gateway-client", mode="cli"), False),
        (LOCAL, client(id="cli", mode="backend"), False),
        (LOCAL, client(id="openclaw-macos", mode="ui"), False),
        (LOCAL_WITH_ORIGIN, client(id="webchat-ui", mode="webchat"), False),
    ],
)
def test_scope_ceiling_for_shared_secret_without_device(
    peer: Peer, client_info: dict[str, Any], kept: bool
) -> None:
    granted = _admitted(peer=peer, client=client_info, scopes=ALL_READ_WRITE)
    assert granted.role == "operator"
    assert granted.scopes == (tuple(ALL_READ_WRITE) if kept else ())


def test_blank_origin_header_does_not_count_as_an_origin() -> None:
    peer = Peer(remote_ip="127.0.0.1", is_loopback=True, origin="   ")
    assert _admitted(peer=peer).scopes == ("operator.read",)


def test_local_cli_via_password_gateway_keeps_scopes() -> None:
    granted = _admitted(PASSWORD_POLICY, auth={"password": PASSWORD}, scopes=["operator.admin"])
    assert granted.scopes == ("operator.admin",)
    assert granted.method == "password"


def test_localities() -> None:
    assert _admitted(peer=LOCAL).locality == "direct_local"
    assert _admitted(peer=REMOTE).locality == "remote"
    assert _admitted(peer=LOCAL_BEHIND_PROXY).locality == "remote"


# --- with a device: the device stage (device_stage.py) decides ------------------------------


def _pass_through(check: DeviceCheck) -> DeviceOutcome:
    """A stage whose proof and pairing pass: the shared-secret verdict stands."""
    return DeviceOutcome(check.shared.ok, check.method, check.shared.reason, check.locality)


def _with_stage(policy: AuthPolicy = TOKEN_POLICY, peer: Peer = LOCAL, **overrides: Any) -> Any:
    return admit(connect_request(**overrides), peer, policy, _pass_through)


def test_device_with_wrong_token_may_retry_with_device_token() -> None:
    refusal = _with_stage(auth={"token": "wrong"}, device=device())
    assert isinstance(refusal, Refusal) and refusal.error is not None
    assert refusal.error["details"] == _auth_details(
        "token_mismatch", "AUTH_TOKEN_MISMATCH", "retry_with_device_token", retry=True
    )


def test_device_with_wrong_token_and_a_device_token_may_not_retry() -> None:
    refusal = _with_stage(auth={"token": "wrong", "deviceToken": "dt"}, device=device())
    assert isinstance(refusal, Refusal) and refusal.error is not None
    assert refusal.error["details"]["canRetryWithDeviceToken"] is False
    assert refusal.error["details"]["recommendedNextStep"] == "update_auth_credentials"


def test_device_with_wrong_password_may_not_retry_with_device_token() -> None:
    refusal = _with_stage(auth={"password": "wrong"}, device=device())
    assert isinstance(refusal, Refusal) and refusal.error is not None
    assert refusal.error["details"]["canRetryWithDeviceToken"] is False


def test_device_without_credentials_is_unauthorized_token_missing() -> None:
    refusal = _with_stage(auth=None, device=device())
    assert isinstance(refusal, Refusal)
    assert refusal.error == {
        "code": "INVALID_REQUEST",
        "message": f"unauthorized: gateway token missing ({LOCAL_CLI_HINT})",
        "details": _auth_details(
            "token_missing", "AUTH_TOKEN_MISSING", "update_auth_configuration"
        ),
    }


def test_local_device_with_correct_token_is_admitted_with_its_id() -> None:
    granted = _with_stage(device=device("ab" * 32), scopes=ALL_READ_WRITE)
    assert isinstance(granted, Admission)
    assert granted.device_id == "ab" * 32
    assert granted.scopes == tuple(ALL_READ_WRITE)


def test_without_a_stage_a_device_is_never_trusted() -> None:
    refusal = _refused(device=device("cd" * 32))
    assert refusal.error is not None
    assert refusal.error["code"] == "NOT_PAIRED"
    assert refusal.error["details"] == {"code": "PAIRING_REQUIRED", "reason": "not-paired"}


def test_node_with_device_drops_operator_scopes() -> None:
    granted = _with_stage(
        role="node",
        client=client(id="node-host", mode="node"),
        scopes=["operator.admin", "operator.read"],
        device=device(),
    )
    assert isinstance(granted, Admission)
    assert granted.role == "node"
    assert granted.scopes == ()


def test_device_stage_sees_the_shared_secret_verdict_and_locality() -> None:
    calls: list[DeviceCheck] = []
    veto = Refusal.with_error(REQUEST_ID, "INVALID_REQUEST", "device signature invalid")

    def stage(check: DeviceCheck) -> Refusal:
        calls.append(check)
        return veto

    request = connect_request(device=device())
    assert admit(request, REMOTE, TOKEN_POLICY, stage) is veto
    [seen] = calls
    assert (seen.request, seen.peer, seen.locality) == (request, REMOTE, "remote")
    assert seen.shared.ok and seen.shared_ok and seen.method == "token"
    assert seen.auth_mode == "token"


def test_device_stage_may_authenticate_with_a_device_token() -> None:
    def stage(check: DeviceCheck) -> DeviceOutcome:
        return DeviceOutcome(True, "device-token", None, "remote", "dtok", 7)

    granted = admit(
        connect_request(device=device(), auth={"deviceToken": "dtok"}, scopes=ALL_READ_WRITE),
        REMOTE,
        TOKEN_POLICY,
        stage,
    )
    assert isinstance(granted, Admission)
    assert (granted.method, granted.device_token, granted.issued_at_ms) == (
        "device-token",
        "dtok",
        7,
    )
    assert granted.scopes == tuple(ALL_READ_WRITE)


def test_device_stage_failure_renders_the_unauthorized_error() -> None:
    def stage(check: DeviceCheck) -> DeviceOutcome:
        return DeviceOutcome(False, check.method, "device_token_mismatch", check.locality)

    outcome = admit(
        connect_request(device=device(), auth={"deviceToken": "bad"}),
        LOCAL,
        TOKEN_POLICY,
        stage,
    )
    assert isinstance(outcome, Refusal)
    assert outcome.error is not None
    assert outcome.error["message"] == (
        "unauthorized: device token mismatch (rotate/reissue device token)"
    )
    assert outcome.error["details"]["code"] == "AUTH_DEVICE_TOKEN_MISMATCH"


@pytest.mark.parametrize(
    ("client_id", "mode", "locality", "has_origin", "method", "shared_ok", "expected"),
    [
        ("gateway-client", "backend", "direct_local", False, "none", False, True),
        ("gateway-client", "backend", "direct_local", False, "device-token", False, True),
        ("gateway-client", "backend", "shared_secret_loopback_local", False, "token", True, True),
        ("gateway-client", "backend", "direct_local", False, "password", True, True),
        # A shared secret that did not pass is no backend credential.
        ("gateway-client", "backend", "direct_local", False, "token", False, False),
        ("gateway-client", "backend", "remote", False, "none", False, False),
        ("gateway-client", "backend", "cli_container_local", False, "token", True, False),
        # A web page on this host is not the gateway's backend.
        ("gateway-client", "backend", "direct_local", True, "none", False, False),
        ("gateway-client", "backend", "direct_local", False, "trusted-proxy", True, False),
        ("cli", "cli", "direct_local", False, "token", True, False),
        ("gateway-client", "cli", "direct_local", False, "token", True, False),
    ],
)
def test_is_local_backend(
    client_id: str,
    mode: str,
    locality: str,
    has_origin: bool,
    method: str,
    shared_ok: bool,
    expected: bool,
) -> None:
    info = connect_request(client=client(client_id, mode)).params.client
    assert is_local_backend(info, locality, has_origin, method, shared_ok) is expected
