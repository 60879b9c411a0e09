"""core/tls: the fingerprint formats the official accepts, and where the pair lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_gateway.core.config import TlsConfig
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.tls import (
    INVALID_FINGERPRINT,
    colon_form,
    fingerprint_of,
    normalize_fingerprint,
    require_fingerprint,
    short,
    tls_files,
)

HEX = "e9f2254c6bee763204171caddb27246f80a61388cf5e531c3a1a4b41c7274b89"
COLONS = ":".join(HEX[i : i + 2] for i in range(0, 64, 2)).upper()


@pytest.mark.parametrize(
    "value",
    [
        HEX,
        HEX.upper(),
        COLONS,  # openssl x509 -fingerprint -sha256 / Node fingerprint256
        COLONS.lower(),
        f"sha256:{HEX}",
        f"SHA256:{COLONS}",
        f"  sha256:{HEX}\n",
    ],
)
def test_accepted_fingerprint_forms_normalize_to_lower_hex(value: str) -> None:
    assert normalize_fingerprint(value) == HEX
    assert require_fingerprint(value) == HEX


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nothex",
        HEX[:-2],  # 31 bytes
        HEX + "00",
        COLONS[:-3],
        HEX[:10] + ":" + HEX[10:],  # a stray colon
        f"sha1:{HEX}",
        f"sha256: {HEX}",
        "g" * 64,
    ],
)
def test_anything_else_is_no_fingerprint(value: str) -> None:
    assert normalize_fingerprint(value) == ""
    with pytest.raises(ConfigError) as caught:
        require_fingerprint(value)
    assert str(caught.value) == INVALID_FINGERPRINT


def test_display_forms() -> None:
    assert colon_form(HEX) == COLONS
    assert short(COLONS) == HEX[:16] + "…"
    assert (
        fingerprint_of(b"x") == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    )


def test_default_files_live_under_the_state_dir(tmp_path: Path) -> None:
    files = tls_files(TlsConfig(enabled=True), tmp_path, {})
    assert files.cert == tmp_path / "gateway" / "tls" / "gateway-cert.pem"
    assert files.key == tmp_path / "gateway" / "tls" / "gateway-key.pem"
    assert files.ca is None


def test_configured_paths_expand_the_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home")}
    tls = TlsConfig(enabled=True, cert_path="~/c.pem", key_path=" /k.pem ", ca_path="~/ca.pem")
    files = tls_files(tls, tmp_path, env)
    assert files.cert == tmp_path / "home" / "c.pem"
    assert files.key == Path("/k.pem")
    assert files.ca == tmp_path / "home" / "ca.pem"


def test_config_keys_parse_from_the_official_spelling() -> None:
    from openclaw_gateway.core.config import structure

    config = structure(
        {
            "gateway": {
                "tls": {"enabled": True, "autoGenerate": False, "certPath": "/c", "keyPath": "/k"},
                "remote": {"url": "wss://h:1", "tlsFingerprint": HEX},
            }
        }
    )
    assert config.gateway.tls == TlsConfig(True, False, "/c", "/k", None)
    assert config.gateway.remote.tls_fingerprint == HEX
    with pytest.raises(ConfigError, match=r"gateway.tls.enabled: Invalid input: expected boolean"):
        structure({"gateway": {"tls": {"enabled": "yes"}}})
