"""The client's own device identity: creation, permissions, signatures the gateway accepts."""

from __future__ import annotations

import stat
from pathlib import Path

from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.protocol.frames import ConnectParams
from openclaw_gateway.security import devices


def test_identity_is_created_once_private_and_stable(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "identity")
    first = store.load_or_create()
    mode = stat.S_IMODE(store.identity_path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(store.identity_path.parent.stat().st_mode) == 0o700
    again = IdentityStore(tmp_path / "identity").load_or_create()
    assert again.device_id == first.device_id
    assert first.device_id == devices.device_id_for(first.public_key)
    assert len(first.public_key) == 43  # raw 32 bytes, base64url, no padding


def test_device_block_verifies_as_v3_over_the_challenge(tmp_path: Path) -> None:
    identity = IdentityStore(tmp_path).load_or_create()
    params = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {
            "id": "cli",
            "version": "t",
            "platform": "Linux",
            "deviceFamily": "Linux",
            "mode": "cli",
        },
        "role": "operator",
        "scopes": ["operator.read"],
        "auth": {"token": "tok"},
    }
    block = identity.device_block(params, "nonce-1", 1_795_540_000_000)
    parsed = ConnectParams.from_validated({**params, "device": block})
    assert block["signedAt"] == 1_795_540_000_000
    assert devices.verify_proof(parsed, "nonce-1", 1_795_540_000_000) is None
    assert devices.verify_proof(parsed, "nonce-2", 1_795_540_000_000) is not None


def test_device_tokens_are_kept_per_gateway_and_role(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path)
    store.save_device_token("ws://a", "operator", "T1", ["operator.read"], 5)
    store.save_device_token("ws://b", "operator", "T2", [], None)
    assert store.device_token("ws://a", "operator") == "T1"
    assert store.device_token("ws://a", "node") is None
    assert stat.S_IMODE(store.auth_path.stat().st_mode) == 0o600
    store.forget_device_token("ws://a", "operator")
    assert store.device_token("ws://a", "operator") is None
    assert store.device_token("ws://b", "operator") == "T2"
