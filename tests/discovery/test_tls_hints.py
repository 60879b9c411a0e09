"""TLS hints in discovery: the served fingerprint goes into the TXT (gatewayTls=1,
gatewayTlsSha256=<canonical>, as the official), and `discover` turns it back into a wss:// URL
and a `tls: sha256 …` line that pastes into gateway.remote.tlsFingerprint."""

from __future__ import annotations

from pathlib import Path

from openclaw_gateway.cli.probe_targets import tunnel_tls
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.tls import normalize_fingerprint
from openclaw_gateway.discovery import beacons
from openclaw_gateway.discovery.runtime import DiscoveryPlan, plan_discovery
from openclaw_gateway.discovery.txt import build_txt
from tests.helpers import LOOPBACK_ONLY

FP = "e9f2254c6bee763204171caddb27246f80a61388cf5e531c3a1a4b41c7274b89"


def _plan(tmp_path: Path, fingerprint: str | None) -> DiscoveryPlan:
    return plan_discovery(
        {},
        {},
        port=18789,
        bind=LOOPBACK_ONLY,
        state_dir=tmp_path,
        config_path=tmp_path / "openclaw.json",
        container=False,
        platform="linux",
        hostname="studio",
        tls_fingerprint=fingerprint,
    )


def test_the_txt_carries_tls_only_when_it_is_served(tmp_path: Path) -> None:
    plain = build_txt(_plan(tmp_path, None).ctx)
    assert "gatewayTls" not in plain and "gatewayTlsSha256" not in plain
    txt = build_txt(_plan(tmp_path, FP).ctx)
    assert (txt["gatewayTls"], txt["gatewayTlsSha256"]) == ("1", FP)
    keys = list(txt)
    assert keys.index("gatewayTls") == keys.index("displayName") + 1  # the official order


def test_discover_output_builds_wss_and_a_pasteable_pin(tmp_path: Path) -> None:
    txt = build_txt(_plan(tmp_path, FP).ctx)
    beacon = beacons.make_beacon("studio", "local.", "10.0.0.5", 18789, txt)
    lines = beacons.render_lines(beacon)
    assert "  ws: wss://10.0.0.5:18789" in lines
    shown = next(line for line in lines if line.startswith("  tls: "))
    assert shown == f"  tls: sha256 {FP}"
    assert normalize_fingerprint(shown.split("sha256 ", 1)[1]) == FP


def test_probe_json_beacons_carry_the_tls_hint(tmp_path: Path) -> None:
    txt = build_txt(_plan(tmp_path, FP).ctx)
    view = beacons.probe_view(beacons.make_beacon("studio", "local.", "10.0.0.5", 18789, txt))
    assert view["wsUrl"] == "wss://10.0.0.5:18789"
    assert (view["gatewayTls"], view["gatewayTlsFingerprintSha256"]) == (True, FP)
    plain = beacons.probe_view(beacons.make_beacon("studio", "local.", "10.0.0.5", 18789, {}))
    assert "gatewayTls" not in plain


def test_the_ssh_tunnel_to_a_tls_gateway_is_probed_as_pinned_wss() -> None:
    txt = build_txt(_plan(Path("/nonexistent"), FP).ctx)
    beacon = beacons.make_beacon("studio", "local.", "10.0.0.5", 18789, txt)
    plain_gw = cfg.GatewayConfig()
    assert tunnel_tls(plain_gw, beacon) == ("wss", FP)  # the TXT hint when nothing is stored
    stored = "ab" * 32
    pinned = cfg.GatewayConfig(remote=cfg.RemoteConfig(tls_fingerprint=stored.upper()))
    assert tunnel_tls(pinned, beacon) == ("wss", stored)  # a stored pin wins over the TXT
    no_tls = beacons.make_beacon("studio", "local.", "10.0.0.5", 18789, {"role": "gateway"})
    assert tunnel_tls(pinned, no_tls) == ("ws", None)
    remote = cfg.GatewayConfig(remote=cfg.RemoteConfig(url="wss://10.0.0.5:18789"))
    assert tunnel_tls(remote, None) == ("wss", None)
    assert tunnel_tls(plain_gw, None) == ("ws", None)
