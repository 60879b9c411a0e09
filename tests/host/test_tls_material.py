"""host/tls_material: the generated pair (modes, no clobber, atomic publication) and the checks
a pair must pass before it is served (bad pairs are exit 78 with the path)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from openclaw_gateway.core.atomicfile import publish_new
from openclaw_gateway.core.errors import EXIT_CONFIG
from openclaw_gateway.core.tls import TlsFiles
from openclaw_gateway.host.tls_material import (
    TlsError,
    ensure_pair,
    file_identity,
    inspect_certificate,
    load_material,
)
from tests.tlskit import copy_pair


def _files(base: Path) -> TlsFiles:
    return TlsFiles(base / "tls" / "gateway-cert.pem", base / "tls" / "gateway-key.pem")


def test_generation_writes_a_0600_pair_in_a_0700_directory(tmp_path: Path) -> None:
    files = _files(tmp_path)
    info = ensure_pair(files, auto_generate=True)
    assert info is not None
    for path in (files.cert, files.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.cert.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in files.cert.parent.iterdir()) == [
        "gateway-cert.pem",
        "gateway-key.pem",
    ]  # no temporary file left behind
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert cert.subject.rfc4514_string() == "CN=openclaw-gateway"
    assert cert.issuer == cert.subject
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=3650)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).critical
    loaded = load_material(files)
    assert loaded.certificate == info
    assert info.fingerprint == inspect_certificate(files.cert).fingerprint
    assert len(info.fingerprint) == 64


def test_an_existing_or_partial_pair_is_never_overwritten(
    tmp_path: Path, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    files = copy_pair(tls_pairs[0], tmp_path / "tls")
    before = (files.cert.read_bytes(), files.key.read_bytes())
    assert ensure_pair(files, auto_generate=True) is None
    assert (files.cert.read_bytes(), files.key.read_bytes()) == before
    files.key.unlink()  # a partial pair: left as it is, and the load names what is missing
    assert ensure_pair(files, auto_generate=True) is None
    assert not files.key.exists()
    with pytest.raises(TlsError) as caught:
        load_material(files)
    assert str(files.key) in str(caught.value)
    assert caught.value.exit_code == EXIT_CONFIG


def test_auto_generate_off_generates_nothing(tmp_path: Path) -> None:
    files = _files(tmp_path)
    assert ensure_pair(files, auto_generate=False) is None
    assert not files.cert.parent.exists()
    with pytest.raises(TlsError, match="cert/key missing"):
        load_material(files)


def test_publish_new_refuses_an_existing_name_and_keeps_its_content(tmp_path: Path) -> None:
    target = tmp_path / "f.pem"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        publish_new(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.pem"]
    fresh = tmp_path / "sub" / "g.pem"
    publish_new(fresh, b"data", 0o600)
    assert fresh.read_bytes() == b"data"
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_publish_new_leaves_only_the_published_link(tmp_path: Path) -> None:
    """The bytes were written under a temporary name and hard-linked into place; the
    temporary name is gone afterwards (one link, no stray file)."""
    target = tmp_path / "k.pem"
    publish_new(target, b"x" * 10_000)
    assert target.stat().st_nlink == 1  # the temporary link is gone
    assert target.read_bytes() == b"x" * 10_000
    assert os.listdir(tmp_path) == ["k.pem"]


def test_a_generation_race_is_refused_not_clobbered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path)
    import openclaw_gateway.host.tls_material as material

    real = material.publish_new

    def racing(path: Path, data: bytes, mode: int = 0o600) -> None:
        if path == files.key:  # someone else's key appears between our check and our link
            path.write_bytes(b"theirs")
        real(path, data, mode)

    monkeypatch.setattr(material, "publish_new", racing)
    with pytest.raises(TlsError, match="appeared meanwhile"):
        ensure_pair(files, auto_generate=True)
    assert files.key.read_bytes() == b"theirs"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("garbage_key", "no usable PEM private key"),
        ("garbage_cert", "no PEM certificate"),
        ("other_key", "does not match cert"),
        ("encrypted_key", "encrypted key"),
        ("key_is_directory", "Is a directory"),
        ("huge_cert", "larger than"),
    ],
)
def test_bad_pairs_are_config_errors_naming_the_file(
    tmp_path: Path, tls_pairs: tuple[TlsFiles, TlsFiles], damage: str, message: str
) -> None:
    files = copy_pair(tls_pairs[0], tmp_path / "tls")
    if damage == "garbage_key":
        files.key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    elif damage == "garbage_cert":
        files.cert.write_text("not a certificate\n")
    elif damage == "other_key":
        files.key.write_bytes(tls_pairs[1].key.read_bytes())
    elif damage == "encrypted_key":
        key = ec.generate_private_key(ec.SECP256R1())
        files.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
    elif damage == "key_is_directory":
        files.key.unlink()
        files.key.mkdir()
    elif damage == "huge_cert":
        files.cert.write_bytes(files.cert.read_bytes() + b"#" * 70_000)
    with pytest.raises(TlsError) as caught:
        load_material(files)
    text = str(caught.value)
    assert message in text
    assert str(files.key if "key" in damage else files.cert) in text
    assert caught.value.exit_code == EXIT_CONFIG
    assert "BEGIN" not in text  # never the key material


def test_file_identity_changes_when_a_file_is_replaced(
    tmp_path: Path, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    files = copy_pair(tls_pairs[0], tmp_path / "tls")
    before = file_identity(files)
    replacement = tmp_path / "new.pem"
    replacement.write_bytes(tls_pairs[1].cert.read_bytes())
    os.replace(replacement, files.cert)
    assert file_identity(files) != before
