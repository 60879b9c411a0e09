"""TLS facts, pure: certificate fingerprints as the official writes and reads them, and where the
gateway's certificate pair lives.

A fingerprint is the SHA-256 of the certificate's DER bytes. The official accepts 64 hex digits,
or 32 colon-separated hex pairs (`AB:CD:…`, what `openssl x509 -fingerprint -sha256` and Node's
`fingerprint256` print), either optionally after `sha256:` (any case); it stores and compares
the canonical form, 64 lower-case hex digits (normalizeTlsFingerprint). Anything else is "not a
fingerprint": `require_fingerprint` raises the official message.

Files (loadGatewayTlsServerRuntime): `gateway.tls.certPath` / `keyPath`, else
`<stateDir>/gateway/tls/gateway-cert.pem` and `gateway-key.pem`; `caPath` has no default. A
leading `~` is the user's home, as for every configured path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from openclaw_gateway.core.config import TlsConfig
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.paths import user_path

_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_COLONS = re.compile(r"^(?:[0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$")
_PREFIX = re.compile(r"^sha256:", re.IGNORECASE)
INVALID_FINGERPRINT = "Invalid TLS fingerprint; expected a SHA-256 certificate fingerprint."
PREFIX_CHARS = 16  # how much of a fingerprint an error shows (enough to tell two apart)
TLS_DIR = ("gateway", "tls")
CERT_FILENAME = "gateway-cert.pem"
KEY_FILENAME = "gateway-key.pem"


def normalize_fingerprint(value: str | None) -> str:
    """The canonical form (64 lower-case hex digits), or "" when `value` is no fingerprint."""
    text = _PREFIX.sub("", (value or "").strip())
    if _HEX.match(text):
        return text.lower()
    if _COLONS.match(text):
        return text.replace(":", "").lower()
    return ""


def require_fingerprint(value: str) -> str:
    """The canonical form; ConfigError with the official wording when it is none."""
    canonical = normalize_fingerprint(value)
    if not canonical:
        raise ConfigError(INVALID_FINGERPRINT)
    return canonical


def fingerprint_of(der: bytes) -> str:
    """The canonical fingerprint of a DER-encoded certificate."""
    return hashlib.sha256(der).hexdigest()


def colon_form(fingerprint: str) -> str:
    """`AB:CD:…` (upper case), the form openssl and the official's X509Certificate print."""
    canonical = normalize_fingerprint(fingerprint)
    return ":".join(canonical[i : i + 2] for i in range(0, len(canonical), 2)).upper()


def short(fingerprint: str) -> str:
    """The first PREFIX_CHARS hex digits and an ellipsis, for error messages."""
    canonical = normalize_fingerprint(fingerprint) or fingerprint
    return canonical[:PREFIX_CHARS] + "…"


@attrs.frozen
class TlsFiles:
    """Where the gateway's certificate, key and optional CA bundle live."""

    cert: Path
    key: Path
    ca: Path | None = None


def tls_files(tls: TlsConfig, state_dir: Path, env: Mapping[str, str]) -> TlsFiles:
    """The configured paths (`~` expanded), else the defaults under the state dir."""
    base = state_dir.joinpath(*TLS_DIR)

    def configured(raw: str | None, default: Path) -> Path:
        return user_path(raw, env) if raw and raw.strip() else default

    ca = user_path(tls.ca_path, env) if tls.ca_path and tls.ca_path.strip() else None
    return TlsFiles(
        configured(tls.cert_path, base / CERT_FILENAME),
        configured(tls.key_path, base / KEY_FILENAME),
        ca,
    )
