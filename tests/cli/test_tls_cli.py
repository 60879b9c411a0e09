"""gateway.tls on the CLI side: a bad pair stops `gateway run` with exit 78 and the path (never
a plaintext start); the connect target (wss:// URL and pin) for local and remote mode; status
and doctor show the fingerprint and expiry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from openclaw_gateway.cli.doctor.model import Context
from openclaw_gateway.cli.doctor.tls_check import check_tls
from openclaw_gateway.cli.target import CliFailure, resolve_target, tls_pin
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.paths import resolve_paths
from openclaw_gateway.core.tls import INVALID_FINGERPRINT, TlsFiles, colon_form
from openclaw_gateway.host.tls_material import inspect_certificate
from tests.cli.support import base_env, cli, free_port, local_config, write_config
from tests.tlskit import copy_pair

TOKEN = "tls-cli-token-0123456789abcdef"


@pytest.fixture(name="home")
def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_an_unreadable_key_stops_the_start_with_exit_78_and_its_path(
    home: Path, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    pair = copy_pair(tls_pairs[0], home / "pair")
    key = home / "pair" / "unreadable-key"
    key.mkdir()  # root reads any mode: a directory is what cannot be read as a file here
    tls = {"enabled": True, "certPath": str(pair.cert), "keyPath": str(key)}
    local_config(home, tls=tls, auth={"mode": "token", "token": TOKEN})
    r = cli(base_env(home), "gateway", "run", "--port", str(free_port()), "--bind", "loopback")
    assert r.returncode == 78, r.stderr
    assert f"Gateway failed to start: gateway tls: failed to load key ({key}: " in r.stderr
    assert "listening" not in r.stdout


def test_a_partial_pair_is_left_alone_and_refused(home: Path) -> None:
    tls_dir = home / ".openclaw" / "gateway" / "tls"
    tls_dir.mkdir(parents=True)
    (tls_dir / "gateway-cert.pem").write_text("placeholder\n")
    local_config(home, tls={"enabled": True}, auth={"mode": "token", "token": TOKEN})
    r = cli(base_env(home), "gateway", "run", "--port", str(free_port()), "--bind", "loopback")
    assert r.returncode == 78, r.stderr
    assert f"key {tls_dir / 'gateway-key.pem'} does not exist" in r.stderr
    assert sorted(p.name for p in tls_dir.iterdir()) == ["gateway-cert.pem"]
    assert (tls_dir / "gateway-cert.pem").read_text() == "placeholder\n"


def _target(home: Path, config: dict[str, object]) -> tuple[str, str | None]:
    write_config(home, config)
    env = base_env(home)
    paths = resolve_paths(env)
    target = resolve_target(
        method="health",
        url_flag=None,
        port_flag=None,
        token_flag=None,
        password_flag=None,
        env=env,
        paths=paths,
        loaded=cfg.load(paths.config_path),
    )
    return target.url, target.tls_fingerprint


def test_local_mode_with_tls_pins_the_local_certificate(
    home: Path, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    gateway = {"mode": "local", "port": 19999, "auth": {"token": TOKEN}, "tls": {"enabled": True}}
    # No certificate yet: wss:// with no implicit pin (normal trust applies).
    assert _target(home, {"gateway": gateway}) == ("wss://127.0.0.1:19999", None)
    copy_pair(tls_pairs[0], home / ".openclaw" / "gateway" / "tls")
    expected = inspect_certificate(tls_pairs[0].cert).fingerprint
    assert _target(home, {"gateway": gateway}) == ("wss://127.0.0.1:19999", expected)


def test_remote_mode_uses_the_configured_pin_in_any_accepted_form(home: Path) -> None:
    pin = "ab" * 32
    remote = {"url": "wss://10.1.2.3:18789", "token": TOKEN, "tlsFingerprint": colon_form(pin)}
    url, found = _target(home, {"gateway": {"mode": "remote", "remote": remote}})
    assert (url, found) == ("wss://10.1.2.3:18789", pin)
    remote["tlsFingerprint"] = "sha256:nope"
    with pytest.raises(CliFailure) as caught:
        _target(home, {"gateway": {"mode": "remote", "remote": remote}})
    assert caught.value.message == INVALID_FINGERPRINT


def test_a_url_override_never_inherits_the_configured_pin(home: Path) -> None:
    config = cfg.structure(
        {"gateway": {"mode": "remote", "remote": {"url": "wss://h:1", "tlsFingerprint": "ab" * 32}}}
    )
    assert tls_pin(config, "wss://other:1", "cli --url", home, {}) is None
    assert tls_pin(config, "wss://h:1", "env OPENCLAW_GATEWAY_URL", home, {}) == "ab" * 32


def test_status_shows_the_fingerprint_and_expiry(
    home: Path, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    copy_pair(tls_pairs[0], home / ".openclaw" / "gateway" / "tls")
    local_config(home, tls={"enabled": True}, port=free_port(), auth={"token": TOKEN})
    info = inspect_certificate(tls_pairs[0].cert)
    r = cli(base_env(home), "gateway", "status", "--json", "--no-probe")
    gateway = json.loads(r.stdout)["gateway"]
    assert gateway["tlsEnabled"] is True
    assert gateway["probeUrl"].startswith("wss://127.0.0.1:")
    assert gateway["tlsFingerprintSha256"] == info.fingerprint
    assert gateway["tlsCertExpiresAt"].startswith(info.not_after.date().isoformat())
    text = cli(base_env(home), "gateway", "status", "--no-probe").stdout
    expiry = info.not_after.date().isoformat()
    assert f"TLS: sha256 {info.fingerprint} (expires {expiry})" in text


def test_doctor_reports_the_pair(home: Path, tls_pairs: tuple[TlsFiles, TlsFiles]) -> None:
    local_config(home, tls={"enabled": True})
    env = base_env(home)
    assert check_tls(Context.from_env(env)).status == "ok"  # type: ignore[union-attr]
    files = copy_pair(tls_pairs[0], home / ".openclaw" / "gateway" / "tls")
    info = inspect_certificate(files.cert)
    ok = check_tls(Context.from_env(env))
    assert ok is not None and ok.status == "ok" and info.fingerprint in ok.message
    late = info.not_after.timestamp() - dt.timedelta(days=3).total_seconds()
    soon = check_tls(Context.from_env(env, clock=lambda: late))
    assert soon is not None and soon.status == "warn" and "expires soon" in soon.message
    files.key.write_bytes(tls_pairs[1].key.read_bytes())
    bad = check_tls(Context.from_env(env))
    assert bad is not None and bad.status == "fail" and "does not match" in bad.message
