"""The local gateway's certificate as one-shot commands see it: read from the public
certificate file only (never the key, never generated or repaired), as the official
inspectGatewayTlsCertificate. `gateway status`, `gateway probe` and `doctor` show it; the
connect paths pin it (cli/target.tls_pin)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.tls import tls_files

if TYPE_CHECKING:
    from openclaw_gateway.host.tls_material import CertificateInfo


def local_certificate(
    config: cfg.Config, state_dir: Path, env: Mapping[str, str]
) -> CertificateInfo | None:
    """The configured (or default) certificate's facts when gateway.tls is on and the file
    reads; else None (no implicit pin; normal trust applies)."""
    if not config.gateway.tls.enabled:
        return None
    from openclaw_gateway.host.tls_material import TlsError, inspect_certificate

    try:
        return inspect_certificate(tls_files(config.gateway.tls, state_dir, env).cert)
    except TlsError:
        return None


def describe(info: CertificateInfo) -> str:
    """`sha256 <64 hex> (expires 2036-11-29)`: pasteable as gateway.remote.tlsFingerprint."""
    return f"sha256 {info.fingerprint} (expires {info.not_after.date().isoformat()})"


def json_fields(info: CertificateInfo) -> dict[str, Any]:
    return {
        "tlsFingerprintSha256": info.fingerprint,
        "tlsCertExpiresAt": info.not_after.isoformat().replace("+00:00", "Z"),
    }
