"""A test device identity: an ed25519 key that signs connect params like the official client.

`SigningDevice` is a dict (so `NODE_CONNECT["device"]["id"]` keeps working) that
`RawClient.connect` recognises and turns into a real signed `device` block for the socket's
challenge (v3 payload, signedAt = challenge ts), exactly as the official GatewayClient does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openclaw_gateway.security.devices import b64url


def _meta(value: Any) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


class SigningDevice(dict[str, Any]):
    def __init__(self, seed: bytes | None = None) -> None:
        key = (
            Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
            if seed is not None
            else Ed25519PrivateKey.generate()
        )
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        super().__init__(id=hashlib.sha256(raw).hexdigest(), publicKey=b64url(raw))
        self.key = key

    @property
    def id(self) -> str:
        return str(self["id"])

    def payload(self, params: dict[str, Any], signed_at: int, nonce: str, v: int = 3) -> str:
        auth = params.get("auth") or {}
        token = auth.get("token") or auth.get("deviceToken") or auth.get("bootstrapToken") or ""
        c = params["client"]
        fields = [
            f"v{v}",
            self.id,
            c["id"],
            c["mode"],
            params.get("role", "operator"),
            ",".join(params.get("scopes") or []),
            str(signed_at),
            token,
            nonce,
        ]
        if v == 3:
            fields += [_meta(c.get("platform")), _meta(c.get("deviceFamily"))]
        return "|".join(fields)

    def sign(self, text: str) -> str:
        return b64url(self.key.sign(text.encode("utf-8")))

    def block(
        self, params: dict[str, Any], nonce: str, signed_at: int, **override: Any
    ) -> dict[str, Any]:
        """The wire `device` block for `params`, signed over (nonce, signed_at)."""
        block = {
            "id": self.id,
            "publicKey": self["publicKey"],
            "signature": self.sign(self.payload(params, signed_at, nonce)),
            "signedAt": signed_at,
            "nonce": nonce,
        }
        block.update(override)
        return block
