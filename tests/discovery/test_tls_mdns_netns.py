"""Real mDNS between two network namespaces with gateway.tls on: the beacon carries
gatewayTls=1 and the served fingerprint, `discover` in B builds the wss:// URL, and a replaced
certificate pair re-announces the new fingerprint without a restart (official: discovery is
refreshed with the served fingerprint on renewal)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from openclaw_gateway.core.tls import TlsFiles
from openclaw_gateway.host.tls_material import inspect_certificate
from tests.discovery.netns import (
    TOKEN,
    Namespaces,
    announcing_config,
    clean_env,
    stop,
    wait_for_line,
    write_config,
)
from tests.interop.conftest import free_port

RENEWAL_WAIT_S = 15.0


def _beacon(pair: Namespaces, home: Path) -> dict[str, object]:
    done = pair.openclaw(1, clean_env(home), "gateway", "discover", "--json", "--timeout", "1500")
    assert done.returncode == 0, done.stdout + done.stderr
    [beacon] = json.loads(done.stdout)["beacons"]
    assert isinstance(beacon, dict)
    return beacon


def test_tls_beacon_and_its_renewal(
    pair: Namespaces, tmp_path: Path, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    config = announcing_config(home_a)
    config["gateway"]["tls"] = {"enabled": True}
    write_config(home_a, config)
    home_b.mkdir()
    label = f"tls{tmp_path.name[-6:].replace('_', '')}".lower()[:20]
    env_a = clean_env(home_a, OPENCLAW_MDNS_HOSTNAME=label, OPENCLAW_GATEWAY_TOKEN=TOKEN)
    port = free_port()
    gateway = pair.start_gateway(0, env_a, "--port", str(port), "--bind", "lan")
    try:
        wait_for_line(gateway, "bonjour: advertised", 20)
        cert = home_a / ".openclaw" / "gateway" / "tls" / "gateway-cert.pem"
        first = inspect_certificate(cert).fingerprint
        beacon = _beacon(pair, home_b)
        assert beacon["txt"]["gatewayTls"] == "1"  # type: ignore[index]
        assert beacon["gatewayTls"] is True
        assert beacon["gatewayTlsFingerprintSha256"] == first
        assert beacon["wsUrl"] == f"wss://{label}.local:{port}"

        # Replace the pair (key first, then the certificate, each by rename).
        for source, target in (
            (tls_pairs[1].key, cert.with_name("gateway-key.pem")),
            (tls_pairs[1].cert, cert),
        ):
            staged = target.with_name(target.name + ".new")
            staged.write_bytes(source.read_bytes())
            os.replace(staged, target)
        second = inspect_certificate(cert).fingerprint
        wait_for_line(gateway, "bonjour: updated", RENEWAL_WAIT_S)
        deadline = time.monotonic() + RENEWAL_WAIT_S
        while time.monotonic() < deadline:  # mDNS caches in B may answer the old TXT once
            if _beacon(pair, home_b).get("gatewayTlsFingerprintSha256") == second:
                break
        else:
            raise AssertionError("the renewed fingerprint was never announced")
        assert any("certificate renewed" in line for line in gateway.lines)
    finally:
        assert stop(gateway) == 0
