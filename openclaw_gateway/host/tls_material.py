"""The gateway's TLS certificate pair on disk: generated once, validated on every load.

Generation (official generateSelfSignedCert, without its `openssl` binary): only when both files
are missing and gateway.tls.autoGenerate is not false; RSA 2048, SHA-256, `CN=openclaw-gateway`,
3650 days, a CA:TRUE basic constraint as `openssl req -x509` writes. Both files are 0600 and
published with core/atomicfile.publish_new, so an existing file is never overwritten (a partial
pair stays as it is and the start fails). Loading reads at most 64 KiB of the certificate and
the key (MAX_TLS_LEAF_FILE_BYTES), checks that the key belongs to the certificate, and gives the
canonical fingerprint and expiry. Every failure is a TlsError: a StartupError, exit 78, with
the path in its message. Synchronous (file I/O): the server calls it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from openclaw_gateway.core.atomicfile import publish_new
from openclaw_gateway.core.errors import EXIT_CONFIG, StartupError
from openclaw_gateway.core.tls import TlsFiles, fingerprint_of

# cryptography's x509 layer is imported by the functions that parse or build a certificate:
# a gateway without TLS never pays for it at start-up.
if TYPE_CHECKING:
    from cryptography import x509

COMMON_NAME = "openclaw-gateway"
VALIDITY_DAYS = 3650
RSA_BITS = 2048
MAX_LEAF_FILE_BYTES = 65_536
MAX_CA_FILE_BYTES = 1_048_576
FILE_MODE = 0o600


class TlsError(StartupError):
    """The pair cannot be generated or served; never a plaintext fallback."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=EXIT_CONFIG)


# (device, inode, mtime ns, size) of each file: a replaced or rewritten file changes it.
FileIdentity = tuple[tuple[int, int, int, int] | None, ...]


@attrs.frozen
class CertificateInfo:
    """The public facts of a certificate (what status, probe and doctor show)."""

    fingerprint: str  # canonical: 64 lower-case hex digits
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime


@attrs.frozen
class TlsMaterial:
    """A validated pair, as read: what the server builds its SSL context from."""

    files: TlsFiles
    certificate: CertificateInfo
    identity: FileIdentity


def file_identity(files: TlsFiles) -> FileIdentity:
    """Cheap (one stat per file): compared before and after a load, and by the reload check."""
    out: list[tuple[int, int, int, int] | None] = []
    for path in (files.cert, files.key, files.ca):
        if path is None:
            continue
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise TlsError(f"gateway tls: failed to load {what} ({path}: not a regular file)")
            data = fh.read(limit + 1)
    except TlsError:
        raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TlsError(f"gateway tls: failed to load {what} ({path}: {reason})") from None
    if len(data) > limit:
        raise TlsError(f"gateway tls: failed to load {what} ({path}: larger than {limit} bytes)")
    return data


def _info(cert: x509.Certificate) -> CertificateInfo:
    from cryptography.hazmat.primitives import serialization

    return CertificateInfo(
        fingerprint=fingerprint_of(cert.public_bytes(serialization.Encoding.DER)),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def _parse_certificate(data: bytes, path: Path) -> x509.Certificate:
    from cryptography import x509

    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsError(
            f"gateway tls: failed to load cert ({path}: no PEM certificate in the file)"
        ) from None
    return chain[0]  # the leaf; intermediates may follow it


def inspect_certificate(path: Path) -> CertificateInfo:
    """The public facts of the certificate at `path` (never reads the key; never generates)."""
    return _info(_parse_certificate(_read(path, MAX_LEAF_FILE_BYTES, "cert"), path))


def load_material(files: TlsFiles) -> TlsMaterial:
    """Read and check the pair (and the CA bundle, if any): TlsError on any problem."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    identity = file_identity(files)
    for path, what in ((files.cert, "cert"), (files.key, "key")):
        if not path.exists():
            raise TlsError(f"gateway tls: cert/key missing ({what} {path} does not exist)")
    cert = _parse_certificate(_read(files.cert, MAX_LEAF_FILE_BYTES, "cert"), files.cert)
    key_pem = _read(files.key, MAX_LEAF_FILE_BYTES, "key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # TypeError: the key is encrypted (the gateway has no passphrase to give).
        reason = "encrypted key" if isinstance(exc, TypeError) else "no usable PEM private key"
        raise TlsError(f"gateway tls: failed to load key ({files.key}: {reason})") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(der, public):
        raise TlsError(
            f"gateway tls: failed to load cert (key {files.key} does not match cert {files.cert})"
        )
    if files.ca is not None:
        ca_pem = _read(files.ca, MAX_CA_FILE_BYTES, "ca")
        try:
            x509.load_pem_x509_certificates(ca_pem)
        except ValueError:
            raise TlsError(
                f"gateway tls: failed to load ca ({files.ca}: no PEM certificate in the file)"
            ) from None
    return TlsMaterial(files, _info(cert), identity)


def generate_pair(files: TlsFiles, now: dt.datetime | None = None) -> CertificateInfo:
    """Make a self-signed pair and publish it; FileExistsError if either file appeared."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = now or dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The official order: the certificate, then the key.
    publish_new(files.cert, cert.public_bytes(serialization.Encoding.PEM), FILE_MODE)
    publish_new(files.key, key_pem, FILE_MODE)
    return _info(cert)


def ensure_pair(files: TlsFiles, *, auto_generate: bool) -> CertificateInfo | None:
    """Generate the pair when both files are missing and generation is on; the new
    certificate's facts, or None when nothing was generated. A partial pair is left alone (the
    load that follows names the missing file)."""
    if not auto_generate or files.cert.exists() or files.key.exists():
        return None
    try:
        return generate_pair(files)
    except FileExistsError as exc:
        raise TlsError(
            f"gateway tls: failed to generate cert ({exc.filename} appeared meanwhile)"
        ) from None
    except OSError as exc:
        where = exc.filename or files.cert.parent
        reason = exc.strerror or type(exc).__name__
        raise TlsError(f"gateway tls: failed to generate cert ({where}: {reason})") from None
