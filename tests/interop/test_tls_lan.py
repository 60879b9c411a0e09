"""wss:// across a real LAN: two network namespaces joined by a veth pair.

The gateway runs in namespace A bound to the LAN (`--bind lan`) with gateway.tls on and a
certificate it generates on first start; the clients run in namespace B with `gateway.mode:
remote`, `wss://<A's address>` and `gateway.remote.tlsFingerprint`. With the right pin
`gateway call health` answers; with a wrong one the connection is refused before any request.
The official CLI and ours are both checked.

Calibration: the same test runs against the OFFICIAL gateway too (the `official` case: npm
openclaw 2026.9.6 in namespace A, same config, its own openssl-made certificate). It passed on
2026-12-02 and is how the expectations were set (the pin forms accepted, the `gateway tls
fingerprint mismatch` refusal, exit 1); it takes ~40 s (the official gateway's start), so it
runs only with OPENCLAW_TLS_CALIBRATE=1. The `ours` case holds our gateway to it every run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_gateway.core.tls import colon_form
from openclaw_gateway.host.tls_material import inspect_certificate
from tests.discovery.netns import (
    Namespaces,
    clean_env,
    stop,
    veth_pair,
    wait_for_line,
    write_config,
)
from tests.interop.conftest import free_port

pytestmark = pytest.mark.interop
TOKEN = "tls-lan-token-0123456789abcdef"
WRONG = "sha256:" + "00" * 32
START_TIMEOUT = {"ours": 20.0, "official": 120.0}


@pytest.fixture(name="pair")
def _pair() -> Iterator[Namespaces]:
    """Namespaces A and B joined by a veth pair (skips loudly where they cannot be made)."""
    yield from veth_pair()


def _client_config(home: Path, url: str, pin: str) -> None:
    write_config(
        home,
        {
            "gateway": {
                "mode": "remote",
                "remote": {"url": url, "token": TOKEN, "tlsFingerprint": pin},
            }
        },
    )


CALIBRATE = pytest.mark.skipif(
    os.environ.get("OPENCLAW_TLS_CALIBRATE") != "1",
    reason="calibration against the official gateway: set OPENCLAW_TLS_CALIBRATE=1",
)


@pytest.mark.parametrize("implementation", ["ours", pytest.param("official", marks=CALIBRATE)])
def test_pinned_wss_across_two_namespaces(
    pair: Namespaces, official_path: str, tmp_path: Path, implementation: str
) -> None:
    path_env = {"PATH": official_path + os.pathsep + os.environ.get("PATH", "")}
    server_home = tmp_path / "server"
    write_config(
        server_home,
        {
            "gateway": {
                "mode": "local",
                "bind": "lan",
                "tls": {"enabled": True},
                "auth": {"mode": "token", "token": TOKEN},
            },
            "logging": {"file": str(tmp_path / "gateway.log")},
        },
    )
    port = free_port()
    env_a = clean_env(server_home, OPENCLAW_DISABLE_BONJOUR="1", TMPDIR=str(tmp_path), **path_env)
    if implementation == "ours":
        gateway = pair.start_gateway(0, env_a, "--port", str(port))
    else:
        argv = ["openclaw", "gateway", "run", "--port", str(port), "--bind", "lan"]
        gateway = pair.popen(0, argv, env_a)
    try:
        wait_for_line(gateway, "listening", START_TIMEOUT[implementation])
        cert = server_home / ".openclaw" / "gateway" / "tls" / "gateway-cert.pem"
        fingerprint = inspect_certificate(cert).fingerprint
        url = f"wss://{pair.addresses[0]}:{port}"
        client_home = tmp_path / "client"
        env_b = clean_env(
            client_home, OPENCLAW_DISABLE_BONJOUR="1", TMPDIR=str(tmp_path), **path_env
        )
        clients = {
            "official CLI": ["openclaw"],
            "our CLI": [sys.executable, "-m", "openclaw_gateway"],
        }
        for name, argv in clients.items():
            # The colon form (what openssl prints) for one, the sha256:-prefixed hex for the other.
            pin = colon_form(fingerprint) if name == "official CLI" else f"sha256:{fingerprint}"
            _client_config(client_home, url, pin)
            ok = pair.run(1, [*argv, "gateway", "call", "health", "--json"], env_b, timeout=90)
            assert ok.returncode == 0, (name, ok.stdout, ok.stderr)
            assert json.loads(ok.stdout)["ok"] is True, name
            _client_config(client_home, url, WRONG)
            refused = pair.run(1, [*argv, "gateway", "call", "health"], env_b, timeout=90)
            assert refused.returncode == 1, (name, refused.stdout, refused.stderr)
            assert "Gateway call failed: gateway tls fingerprint mismatch" in refused.stderr, name
            if name == "our CLI":  # ours also names both fingerprints' first digits
                assert f"(expected {'0' * 16}…, got {fingerprint[:16]}…)" in refused.stderr
    finally:
        stop(gateway, timeout=30)
