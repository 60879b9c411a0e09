"""A client's own device identity and the device tokens gateways issued to it.

Kept in the state dir: `identity/device.json` (ed25519 key pair; the format is ours) and
`identity/device-auth.json` (device tokens by gateway URL and role), both mode 0600 and written
atomically. The identity is created on first use; signing follows protocol.md §4.2 (v3 payload,
`signedAt` = the challenge `ts`, so a client whose clock is off still connects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from openclaw_gateway.core.atomicfile import write_atomic
from openclaw_gateway.protocol.frames import ConnectParams
from openclaw_gateway.security import devices

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# cryptography (~25 ms to import) is loaded once a key is read, made or used: a one-shot
# `gateway call` on loopback with a shared secret never needs it (issue 17).

IDENTITY_FILE = "device.json"
AUTH_FILE = "device-auth.json"


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """JSON readable only by the owner, replaced atomically."""
    write_atomic(path, json.dumps(data, indent=2), mode=0o600)


@attrs.frozen
class DeviceIdentity:
    private_key: Ed25519PrivateKey = attrs.field(repr=False)
    public_key: str  # raw 32 bytes, base64url without padding
    device_id: str  # hex sha256 of the raw public key

    @classmethod
    def generate(cls) -> DeviceIdentity:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls.from_private(Ed25519PrivateKey.generate())

    @classmethod
    def from_private(cls, key: Ed25519PrivateKey) -> DeviceIdentity:
        from cryptography.hazmat.primitives import serialization

        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        public = devices.b64url(raw)
        device_id = devices.device_id_for(public)
        assert device_id is not None
        return cls(key, public, device_id)

    def sign(self, payload: str) -> str:
        return devices.b64url(self.private_key.sign(payload.encode("utf-8")))

    def device_block(self, params: dict[str, Any], nonce: str, ts: int) -> dict[str, Any]:
        """The connect `device` block for `params`, signed over this socket's challenge."""
        block = {
            "id": self.device_id,
            "publicKey": self.public_key,
            "signature": "-",
            "signedAt": ts,
            "nonce": nonce,
        }
        parsed = ConnectParams.from_validated({**params, "device": block})
        block["signature"] = self.sign(devices.payload_v3(parsed, ts, nonce))
        return block


class IdentityStore:
    """The identity and device tokens of one client installation (a directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def identity_path(self) -> Path:
        return self.directory / IDENTITY_FILE

    @property
    def auth_path(self) -> Path:
        return self.directory / AUTH_FILE

    def load(self) -> DeviceIdentity | None:
        try:
            data = json.loads(self.identity_path.read_text(encoding="utf-8"))
            pem = data["privateKeyPem"].encode("ascii")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(key, Ed25519PrivateKey):
            return None
        return DeviceIdentity.from_private(key)

    def load_or_create(self) -> DeviceIdentity:
        found = self.load()
        if found is not None:
            return found
        from cryptography.hazmat.primitives import serialization

        identity = DeviceIdentity.generate()
        pem = identity.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        _write_private(
            self.identity_path,
            {
                "version": 1,
                "deviceId": identity.device_id,
                "publicKey": identity.public_key,
                "privateKeyPem": pem,
            },
        )
        return identity

    def _tokens(self) -> dict[str, Any]:
        try:
            data = json.loads(self.auth_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def device_token(self, gateway_url: str, role: str) -> str | None:
        entry = self._tokens().get(gateway_url, {}).get(role)
        token = entry.get("token") if isinstance(entry, dict) else None
        return token if isinstance(token, str) and token else None

    def save_device_token(
        self, gateway_url: str, role: str, token: str, scopes: list[str], issued_at_ms: int | None
    ) -> None:
        data = self._tokens()
        data.setdefault(gateway_url, {})[role] = {
            "token": token,
            "scopes": scopes,
            "issuedAtMs": issued_at_ms,
        }
        _write_private(self.auth_path, data)

    def remember_issued(self, gateway_url: str, role: str, hello: dict[str, Any]) -> None:
        """Keep the device token a hello-ok issued (if any) for the next connect."""
        auth = hello.get("auth") or {}
        token = auth.get("deviceToken")
        if isinstance(token, str) and token:
            self.save_device_token(
                gateway_url, role, token, list(auth.get("scopes") or []), auth.get("issuedAtMs")
            )

    def forget_device_token(self, gateway_url: str, role: str) -> None:
        data = self._tokens()
        if data.get(gateway_url, {}).pop(role, None) is not None:
            _write_private(self.auth_path, data)
