"""Ed25519 device identity and connect proofs (protocol.md §4.1-§4.3). Pure: time comes in.

Mirrors the official `connect-device-proof.ts` / `ed25519-signature.ts`: the device id is the
hex SHA-256 of the raw 32-byte public key; keys and signatures decode permissively (base64url
or standard base64, padding optional; PEM SPKI for keys); the signed payload is tried as v3
then v2. The six checks run in the official order and fail with the official message, detail
code and reason, so clients can tell what went wrong.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import re

import attrs

from openclaw_gateway.protocol.frames import ConnectParams

# cryptography (~25 ms to import) is loaded by the functions that need it, on the first PEM
# key or signature: a gateway reaches its first hello-ok without it (issue 17).

SIGNATURE_SKEW_MS = 120_000
MAX_DECODE_INPUT = 4096
USED_NONCES_MAX = 4096
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_NON_B64 = re.compile(r"[^A-Za-z0-9+/]")


@attrs.frozen
class ProofFailure:
    """One failed check: the error message, its detail code and the machine reason."""

    message: str
    code: str
    reason: str

    def details(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


ID_MISMATCH = ProofFailure(
    "device identity mismatch", "DEVICE_AUTH_DEVICE_ID_MISMATCH", "device-id-mismatch"
)
EXPIRED = ProofFailure(
    "device signature expired", "DEVICE_AUTH_SIGNATURE_EXPIRED", "device-signature-stale"
)
NONCE_REQUIRED = ProofFailure(
    "device nonce required", "DEVICE_AUTH_NONCE_REQUIRED", "device-nonce-missing"
)
NONCE_MISMATCH = ProofFailure(
    "device nonce mismatch", "DEVICE_AUTH_NONCE_MISMATCH", "device-nonce-mismatch"
)
SIGNATURE_INVALID = ProofFailure(
    "device signature invalid", "DEVICE_AUTH_SIGNATURE_INVALID", "device-signature"
)
PUBLIC_KEY_INVALID = ProofFailure(
    "device public key invalid", "DEVICE_AUTH_PUBLIC_KEY_INVALID", "device-public-key"
)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64_decode_permissive(text: str) -> bytes:
    """Node's lenient `Buffer.from(x, "base64")` after mapping `-_` to `+/`: characters outside
    the alphabet are skipped and padding is optional. Bounded like the official decoder."""
    if len(text) > MAX_DECODE_INPUT:
        raise ValueError("base64 input too long")
    cleaned = _NON_B64.sub("", text.replace("-", "+").replace("_", "/").split("=", 1)[0])
    cleaned = cleaned[: len(cleaned) - (len(cleaned) % 4 == 1)]  # a lone sextet carries no byte
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def raw_public_key(public_key: str) -> bytes | None:
    """The raw key bytes of a wire public key (raw base64/base64url, or PEM SPKI)."""
    if "BEGIN" in public_key:
        return _pem_public_key(public_key)
    try:
        raw = b64_decode_permissive(public_key)
    except (ValueError, TypeError):
        return None
    return raw or None


def _pem_public_key(public_key: str) -> bytes | None:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(public_key.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, Ed25519PublicKey):
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def normalize_public_key(public_key: str) -> str | None:
    """Canonical raw base64url form (what the store keeps and compares), or None."""
    raw = raw_public_key(public_key)
    return b64url(raw) if raw is not None else None


def device_id_for(public_key: str) -> str | None:
    raw = raw_public_key(public_key)
    return hashlib.sha256(raw).hexdigest() if raw is not None else None


def _metadata(value: str | None) -> str:
    # Official normalizeDeviceMetadataForAuth: trim, lower-case ASCII A-Z only.
    text = (value or "").strip()
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def signature_token(params: ConnectParams) -> str:
    # `auth.token ?? auth.deviceToken ?? auth.bootstrapToken ?? ""`; the password never counts.
    a = params.auth
    for value in (a.token, a.device_token, a.bootstrap_token):
        if value is not None:
            return value
    return ""


def payload_v2(params: ConnectParams, signed_at: int, nonce: str) -> str:
    assert params.device is not None
    c = params.client
    fields = [
        "v2",
        params.device.id,
        c.id,
        c.mode,
        params.role,
        ",".join(params.scopes),
        str(signed_at),
        signature_token(params),
        nonce,
    ]
    return "|".join(fields)


def payload_v3(params: ConnectParams, signed_at: int, nonce: str) -> str:
    c = params.client
    base = payload_v2(params, signed_at, nonce)
    return "v3" + base[2:] + f"|{_metadata(c.platform)}|{_metadata(c.device_family)}"


def verify_signature(public_key: str, payload: str, signature: str) -> bool:
    raw = raw_public_key(public_key)
    if raw is None or len(raw) != 32:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        sig = b64_decode_permissive(signature)
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, payload.encode("utf-8"))
    except (ValueError, InvalidSignature):
        return False
    return True


def verify_proof(params: ConnectParams, nonce: str, now_ms: int) -> ProofFailure | None:
    """Checks 1-6 of protocol.md §4.3 in order. `nonce` is this socket's challenge nonce."""
    device = params.device
    assert device is not None
    if device_id_for(device.public_key) != device.id:
        return ID_MISMATCH
    if abs(now_ms - device.signed_at) > SIGNATURE_SKEW_MS:
        return EXPIRED
    provided = device.nonce.strip()
    if not provided:
        return NONCE_REQUIRED
    if provided != nonce:
        return NONCE_MISMATCH
    signed_at = device.signed_at
    if not (
        verify_signature(
            device.public_key, payload_v3(params, signed_at, provided), device.signature
        )
        or verify_signature(
            device.public_key, payload_v2(params, signed_at, provided), device.signature
        )
    ):
        return SIGNATURE_INVALID
    if normalize_public_key(device.public_key) is None:
        # Unreachable after check 1 in practice (a key that does not decode has no id), kept
        # because the official order has it.
        return PUBLIC_KEY_INVALID
    return None


class NonceLedger:
    """Nonces already spent on a successful proof, so one can never be accepted twice.

    The per-socket challenge already binds a proof to one socket; this is the belt to that
    brace, bounded (oldest forgotten first) so it cannot grow without limit.
    """

    def __init__(self, limit: int = USED_NONCES_MAX) -> None:
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._limit = limit

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._seen

    def spend(self, nonce: str) -> bool:
        """Record `nonce`; False if it was already spent."""
        if nonce in self._seen:
            return False
        self._seen[nonce] = None
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True
