"""Random connect params and device blocks through the real admission + device stage + store:
admission never grants more than the rules allow, and a refused proof changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openclaw_gateway.protocol.handshake import ConnectRequest, Refusal, read_connect
from openclaw_gateway.security import scopes as S
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.devices import NonceLedger
from openclaw_gateway.security.pairing_rules import access_scopes, normalize_scopes, scopes_allow
from openclaw_gateway.server.admission import Admission, Peer, admit
from openclaw_gateway.server.device_stage import make_stage
from openclaw_gateway.state.pairing import Book
from openclaw_gateway.state.store import Store
from tests.devicekit import SigningDevice

TOKEN = "prop-token-0123456789abcdef"
NONCE, NOW = "nonce-prop", 1_800_000_000_000
DEV = SigningDevice(b"prop-device")
OTHER = SigningDevice(b"prop-other")
LOCAL = Peer("127.0.0.1", True)
REMOTE = Peer("203.0.113.9", True, has_proxy_headers=True)
TAMPER = ("none", "forged", "wrong-id", "stale", "other-nonce", "blank-nonce")
SCOPES = st.lists(st.sampled_from([*S.OPERATOR_SCOPES, "node.x"]), max_size=4, unique=True)


def _request(params: dict[str, Any]) -> ConnectRequest:
    outcome = read_connect(
        json.dumps({"type": "req", "id": "1", "method": "connect", "params": params})
    )
    assert isinstance(outcome, ConnectRequest), outcome
    return outcome


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(["operator", "node"]))
    mode = "node" if role == "node" else draw(st.sampled_from(["cli", "ui", "backend"]))
    cid = {"node": "node-host", "cli": "cli", "ui": "openclaw-macos", "backend": "gateway-client"}[
        mode
    ]
    auth = draw(
        st.sampled_from(
            [{"token": TOKEN}] * 3
            + [{"token": "wrong-token-xxxxxxxxxxxx"}, {}, {"deviceToken": "guess"}]
        )
    )
    params: dict[str, Any] = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {"id": cid, "version": "1", "platform": "linux", "mode": mode},
        "role": role,
        "scopes": draw(SCOPES),
        "auth": auth,
    }
    tamper = draw(st.sampled_from(["none"] * 5 + list(TAMPER[1:])))  # mostly honest
    signed_at = NOW - 200_000 if tamper == "stale" else NOW
    nonce = {"other-nonce": "nonce-else", "blank-nonce": "  "}.get(tamper, NONCE)
    block = DEV.block(params, nonce, signed_at)
    if tamper == "forged":
        block["signature"] = OTHER.sign(DEV.payload(params, signed_at, nonce))
    if tamper == "wrong-id":
        block["id"] = OTHER.id
    params["device"] = block
    return {
        "params": params,
        "tamper": tamper,
        "peer": draw(st.sampled_from([LOCAL, REMOTE])),
        "prepaired": draw(st.none() | SCOPES),
    }


def _rows(store: Store) -> Any:
    paired = store.list_paired()
    return paired, store.list_pending(), [store.tokens_for(p["deviceId"]) for p in paired]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_admission_with_devices_never_over_grants(case: dict[str, Any], tmp_path: Path) -> None:
    store = Store(Path(":memory:"))
    try:
        book = Book(store)
        if case["prepaired"] is not None:
            # An earlier owner approval of operator scopes for this device.
            prior = _request(
                {
                    "minProtocol": 4, "maxProtocol": 4,
                    "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
                    "role": "operator", "scopes": [s for s in case["prepaired"] if s.startswith("operator.")],
                }
            )  # fmt: skip
            req = book.request(
                {"deviceId": DEV.id, "publicKey": DEV["publicKey"], "role": "operator",
                 "scopes": list(prior.params.scopes)}, NOW - 1000,
            )  # fmt: skip
            assert isinstance(book.approve(req.request["requestId"], [S.ADMIN], NOW - 1000), dict)
        before = _rows(store)
        stage = make_stage(book, NONCE, NOW, NonceLedger(), lambda event, payload: None)
        request = _request(case["params"])
        outcome = admit(request, case["peer"], AuthPolicy("token", token=TOKEN), stage)
        params = request.params
        if isinstance(outcome, Refusal):
            event(f"refused {(outcome.error or {}).get('code')}")
            assert outcome.close_code == 1008
            if case["tamper"] != "none":
                assert _rows(store) == before  # a bad proof changes nothing
            return
        assert isinstance(outcome, Admission)
        event(f"admitted {outcome.method} {'remote' if case['peer'] is REMOTE else 'local'}")
        assert case["tamper"] == "none", "a tampered proof was admitted"
        assert outcome.device_id == DEV.id
        assert outcome.role == params.role
        assert set(outcome.scopes) <= set(params.scopes)
        if outcome.role == "node":
            assert not any(s.startswith("operator.") for s in outcome.scopes)
        shared_ok = params.auth.token == TOKEN
        assert shared_ok or outcome.method == "device-token"
        paired, _, _ = _rows(store)
        backend_self = params.client.id == "gateway-client" and case["peer"] is LOCAL
        if not backend_self:
            # Admitted means paired with this key, role approved, scopes within the approval.
            [record] = paired
            assert record["publicKey"] == DEV["publicKey"]
            assert params.role in record["roles"]
            assert scopes_allow(params.role, params.scopes, normalize_scopes(access_scopes(record)))
            if case["prepaired"] is None:
                # Nothing was approved before: only a silent local pairing can have done it.
                assert case["peer"] is LOCAL
            elif case["peer"] is REMOTE:
                prior_ops = [s for s in case["prepaired"] if s.startswith("operator.")]
                assert params.role == "operator"
                assert scopes_allow("operator", params.scopes, prior_ops)
    finally:
        store.close()


def test_a_spent_nonce_is_never_accepted_twice_in_one_process() -> None:
    """Even if a challenge nonce repeated, the process-wide ledger refuses the second proof."""
    store = Store(Path(":memory:"))
    try:
        book, ledger = Book(store), NonceLedger()
        params = {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
            "role": "operator", "scopes": ["operator.read"], "auth": {"token": TOKEN},
        }  # fmt: skip
        params["device"] = DEV.block(params, NONCE, NOW)
        policy = AuthPolicy("token", token=TOKEN)
        outcomes = [
            admit(
                _request(params),
                LOCAL,
                policy,
                make_stage(book, NONCE, NOW, ledger, lambda e, p: None),
            )
            for _ in range(2)
        ]
        assert isinstance(outcomes[0], Admission)
        assert isinstance(outcomes[1], Refusal)
        assert outcomes[1].error is not None
        assert outcomes[1].error["details"] == {
            "code": "DEVICE_AUTH_NONCE_MISMATCH",
            "reason": "device-nonce-mismatch",
        }
    finally:
        store.close()
