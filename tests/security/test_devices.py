"""devices: ids, key decoding, v3/v2 payloads and the six proof checks (protocol.md §4.1-§4.3).

The official fixture (reference/fixtures/official-connect-frames.jsonl, frame 1: a real connect
signed by the official node host) must verify when the clock reads the challenge ts and fail
when any signed field changes.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_gateway.protocol.frames import ConnectParams
from openclaw_gateway.protocol.handshake import ConnectRequest, read_connect
from openclaw_gateway.security import devices
from tests.devicekit import SigningDevice

FIXTURE = Path("/work/shared/reference/fixtures/official-connect-frames.jsonl")
_LOCAL_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "official-connect-frames.jsonl"
KNOWN_KEY = "EY2vvbU3uq47oZYNpXRfNuI9fhEwxgBfCqTLsf2QVwA"


def _fixture_path() -> Path:
    for path in (_LOCAL_FIXTURE, FIXTURE):
        if path.exists():
            return path
    pytest.skip("official connect fixture not available")


def _official() -> tuple[dict[str, Any], dict[str, Any]]:
    first = json.loads(_fixture_path().read_text().splitlines()[0])
    return first["challenge"], first["connect"]["params"]


def _params(raw: dict[str, Any]) -> ConnectParams:
    outcome = read_connect(
        json.dumps({"type": "req", "id": "1", "method": "connect", "params": raw})
    )
    assert isinstance(outcome, ConnectRequest), outcome
    return outcome.params


def test_device_id_is_sha256_of_the_raw_key() -> None:
    got = devices.device_id_for(KNOWN_KEY)
    assert got is not None
    assert got.startswith("0a802fe6") and got.endswith("16248c") and len(got) == 64


def test_public_key_decodes_permissively() -> None:
    raw = base64.urlsafe_b64decode(KNOWN_KEY + "=")
    standard_padded = base64.b64encode(raw).decode()
    pem = (
        SigningDevice(b"pem")
        .key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert devices.device_id_for(standard_padded) == devices.device_id_for(KNOWN_KEY)
    assert devices.normalize_public_key(standard_padded) == KNOWN_KEY
    assert devices.normalize_public_key(KNOWN_KEY + "=") == KNOWN_KEY
    assert devices.device_id_for(pem) == SigningDevice(b"pem").id
    assert devices.normalize_public_key("") is None
    assert devices.device_id_for("x" * 5000) is None  # bounded input


def test_official_fixture_verifies_at_the_challenge_ts() -> None:
    challenge, raw = _official()
    params = _params(raw)
    assert devices.verify_proof(params, challenge["nonce"], challenge["ts"]) is None
    # ±120 s of skew is still fine; one more millisecond is not.
    assert devices.verify_proof(params, challenge["nonce"], challenge["ts"] + 120_000) is None
    assert devices.verify_proof(params, challenge["nonce"], challenge["ts"] - 120_000) is None
    assert (
        devices.verify_proof(params, challenge["nonce"], challenge["ts"] + 120_001)
        == devices.EXPIRED
    )


def test_official_fixture_signs_v3_not_v2() -> None:
    challenge, raw = _official()
    params = _params(raw)
    device = raw["device"]
    v3 = devices.payload_v3(params, device["signedAt"], challenge["nonce"])
    v2 = devices.payload_v2(params, device["signedAt"], challenge["nonce"])
    assert v3 == (
        f"v3|{device['id']}|node-host|node|node||{device['signedAt']}|"
        f"tok-capture-0123456789abcdef|{challenge['nonce']}|linux|linux"
    )
    assert devices.verify_signature(device["publicKey"], v3, device["signature"])
    assert not devices.verify_signature(device["publicKey"], v2, device["signature"])


SIGNED_FIELD_CHANGES = [
    ("client.id", lambda p: p["client"].update(id="cli")),
    ("client.mode", lambda p: p["client"].update(mode="cli")),
    ("client.platform", lambda p: p["client"].update(platform="macos")),
    ("client.deviceFamily", lambda p: p["client"].update(deviceFamily="Mac")),
    ("role", lambda p: p.update(role="operator")),
    ("scopes", lambda p: p.update(scopes=["operator.read"])),
    ("auth.token", lambda p: p["auth"].update(token="tok-other-0123456789abcdef")),
    ("signedAt", lambda p: p["device"].update(signedAt=p["device"]["signedAt"] + 1)),
    ("signature", lambda p: p["device"].update(signature="A" + p["device"]["signature"][1:])),
]


@pytest.mark.parametrize(
    ("field", "change"), SIGNED_FIELD_CHANGES, ids=[f for f, _ in SIGNED_FIELD_CHANGES]
)
def test_official_fixture_fails_when_a_signed_field_changes(field: str, change: Any) -> None:
    challenge, raw = _official()
    raw = copy.deepcopy(raw)
    change(raw)
    got = devices.verify_proof(_params(raw), challenge["nonce"], challenge["ts"])
    assert got == devices.SIGNATURE_INVALID, field


def test_official_fixture_other_fields_are_not_signed() -> None:
    challenge, raw = _official()
    raw = copy.deepcopy(raw)
    raw["client"]["displayName"] = "renamed"
    raw["auth"]["password"] = "never-part-of-the-payload"
    raw["caps"] = []
    assert devices.verify_proof(_params(raw), challenge["nonce"], challenge["ts"]) is None


def test_official_fixture_nonce_and_identity_changes() -> None:
    challenge, raw = _official()
    params = _params(raw)
    # A socket with another challenge: the proof names a nonce this socket never issued.
    assert devices.verify_proof(params, "other-nonce", challenge["ts"]) == devices.NONCE_MISMATCH
    # Re-pointing the proof at another nonce breaks the signature instead.
    moved = copy.deepcopy(raw)
    moved["device"]["nonce"] = "other-nonce"
    got = devices.verify_proof(_params(moved), "other-nonce", challenge["ts"])
    assert got == devices.SIGNATURE_INVALID
    for key, value in (("id", "0" * 64), ("publicKey", KNOWN_KEY)):
        changed = copy.deepcopy(raw)
        changed["device"][key] = value
        got = devices.verify_proof(_params(changed), challenge["nonce"], challenge["ts"])
        assert got == devices.ID_MISMATCH


def _signed(dev: SigningDevice, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {"id": "cli", "version": "t", "platform": "Linux", "mode": "cli"},
        "role": "operator",
        "scopes": ["operator.read", "operator.write"],
        "auth": {"token": "t0k"},
    }
    params.update(overrides)
    params["device"] = dev.block(params, "nonce-1", 1_000_000)
    return params


def test_every_failure_code_in_the_official_order() -> None:
    dev = SigningDevice(b"order")
    good = _signed(dev)
    assert devices.verify_proof(_params(good), "nonce-1", 1_000_000) is None
    cases = {
        # id mismatch wins over everything after it (stale too)
        devices.ID_MISMATCH: ({"id": "f" * 64}, "nonce-1", 9_999_999),
        devices.EXPIRED: ({}, "other", 1_000_000 + 120_001),
        devices.NONCE_REQUIRED: ({"nonce": "   "}, "nonce-1", 1_000_000),
        devices.NONCE_MISMATCH: ({"nonce": "nonce-2"}, "nonce-1", 1_000_000),
        devices.SIGNATURE_INVALID: (
            {"signature": SigningDevice(b"x").sign("v3|x")},
            "nonce-1",
            1_000_000,
        ),
    }
    for failure, (change, nonce, now) in cases.items():
        raw = copy.deepcopy(good)
        raw["device"].update(change)
        assert devices.verify_proof(_params(raw), nonce, now) == failure
    assert [f.code for f in cases] == [
        "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        "DEVICE_AUTH_SIGNATURE_EXPIRED",
        "DEVICE_AUTH_NONCE_REQUIRED",
        "DEVICE_AUTH_NONCE_MISMATCH",
        "DEVICE_AUTH_SIGNATURE_INVALID",
    ]
    # Check 6 cannot fire after check 1 passed (an undecodable key has no id); its shape:
    assert devices.PUBLIC_KEY_INVALID.details() == {
        "code": "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        "reason": "device-public-key",
    }


def test_a_forged_signature_from_another_key_fails() -> None:
    owner, forger = SigningDevice(b"owner"), SigningDevice(b"forger")
    raw = _signed(owner)
    raw["device"]["signature"] = forger.sign(owner.payload(raw, 1_000_000, "nonce-1"))
    assert devices.verify_proof(_params(raw), "nonce-1", 1_000_000) == devices.SIGNATURE_INVALID


def test_v2_payload_is_accepted_and_signature_decodes_permissively() -> None:
    dev = SigningDevice(b"v2")
    raw = _signed(dev)
    v2 = dev.payload(raw, 1_000_000, "nonce-1", v=2)
    assert v2 == (f"v2|{dev.id}|cli|cli|operator|operator.read,operator.write|1000000|t0k|nonce-1")
    sig = dev.key.sign(v2.encode())
    raw["device"]["signature"] = base64.b64encode(sig).decode()  # standard, padded
    assert devices.verify_proof(_params(raw), "nonce-1", 1_000_000) is None


def test_token_field_falls_back_to_device_token_then_bootstrap() -> None:
    dev = SigningDevice(b"tok")
    for auth, expected in (
        ({"deviceToken": "dt"}, "dt"),
        ({"bootstrapToken": "bt"}, "bt"),
        ({"password": "pw"}, ""),
        ({"token": "t", "deviceToken": "dt"}, "t"),
    ):
        params = _params(_signed(dev, auth=auth))
        assert devices.signature_token(params) == expected
        assert devices.payload_v2(params, 1, "n").split("|")[7] == expected


def test_nonce_ledger_refuses_a_second_spend_and_stays_bounded() -> None:
    ledger = devices.NonceLedger(limit=3)
    assert ledger.spend("a")
    assert not ledger.spend("a")
    for n in "bcd":
        assert ledger.spend(n)
    assert "a" not in ledger  # the oldest is forgotten once over the bound
    assert "d" in ledger


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(max_size=80)
    | st.just("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
    sig=st.text(max_size=120),
)
def test_decoding_arbitrary_wire_text_never_raises(key: str, sig: str) -> None:
    devices.raw_public_key(key)
    devices.device_id_for(key)
    assert devices.verify_signature(key, "v3|x", sig) in (True, False)
