"""Certificate pairs for the TLS tests: generated once per session with the gateway's own
generator (host/tls_material.generate_pair), copied where a test needs them."""

from __future__ import annotations

import shutil
from pathlib import Path

from openclaw_gateway.core.tls import TlsFiles
from openclaw_gateway.host.tls_material import generate_pair


def make_pair(directory: Path) -> TlsFiles:
    files = TlsFiles(directory / "gateway-cert.pem", directory / "gateway-key.pem")
    generate_pair(files)
    return files


def copy_pair(source: TlsFiles, directory: Path) -> TlsFiles:
    """The pair's bytes at the default file names under `directory` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = TlsFiles(directory / "gateway-cert.pem", directory / "gateway-key.pem")
    shutil.copyfile(source.cert, target.cert)
    shutil.copyfile(source.key, target.key)
    target.key.chmod(0o600)
    return target
