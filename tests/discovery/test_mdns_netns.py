"""Real mDNS between two network namespaces: `openclaw gateway run` announcing in A,
`openclaw gateway discover` and a raw mDNS sniffer in B (see netns.py for the safety rule)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from tests.discovery.netns import (
    TOKEN,
    Namespaces,
    announcing_config,
    clean_env,
    stop,
    wait_for_line,
    write_config,
)

PORT = 19631
DISCOVER_MS = "1500"


def _machine() -> str:
    return socket.gethostname().removesuffix(".local") or "openclaw"


def _sniffed(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def _discover(pair: Namespaces, home: Path) -> dict[str, object]:
    done = pair.openclaw(
        1, clean_env(home), "gateway", "discover", "--json", "--timeout", DISCOVER_MS
    )
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(done.stdout)
    assert isinstance(body, dict)
    return body


def test_discover_finds_the_gateway_then_its_goodbye_removes_it(
    pair: Namespaces, tmp_path: Path
) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    write_config(home_a, announcing_config(home_a))
    home_b.mkdir()
    label = f"gw{tmp_path.name[-6:].replace('_', '')}".lower()[:20]
    env_a = clean_env(home_a, OPENCLAW_MDNS_HOSTNAME=label, OPENCLAW_GATEWAY_TOKEN=TOKEN)
    gateway = pair.start_gateway(0, env_a, "--port", str(PORT), "--bind", "lan")
    lines = wait_for_line(gateway, "bonjour: advertised", 15)
    assert any("[gateway] ready" in line for line in lines), lines
    sniff_log = tmp_path / "sniff.jsonl"
    pair.start_sniffer(1, sniff_log)

    body = _discover(pair, home_b)
    instance = f"{_machine()} (OpenClaw)"
    assert body["timeoutMs"] == 1500 and body["domains"] == ["local."] and body["count"] == 1
    [beacon] = body["beacons"]  # type: ignore[misc]
    assert beacon == {
        "instanceName": instance,
        "displayName": _machine(),
        "host": f"{label}.local",
        "port": PORT,
        "txt": {
            "role": "gateway",
            "gatewayPort": str(PORT),
            "lanHost": f"{label}.local",
            "displayName": _machine(),
            "gatewayDirectReachable": "1",  # bind=lan is not loopback
            "transport": "gateway",
        },
        "lanHost": f"{label}.local",
        "role": "gateway",
        "transport": "gateway",
        "gatewayPort": PORT,
        "domain": "local.",
        "wsUrl": f"ws://{label}.local:{PORT}",
    }
    human = pair.openclaw(1, clean_env(home_b), "gateway", "discover", "--timeout", DISCOVER_MS)
    assert human.stdout.splitlines()[:3] == [
        "Gateway Discovery",
        "Found 1 gateway(s) · domains: local.",
        f"- {_machine()} local.",
    ]

    assert stop(gateway) == 0
    goodbye = ["MDNS", "goodbye", f"{instance}._openclaw-gw._tcp.local.", "listener=-"]
    deadline = time.monotonic() + 5
    while goodbye not in _sniffed(sniff_log) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert goodbye in _sniffed(sniff_log)
    assert _discover(pair, home_b)["count"] == 0


def test_mdns_mode_off_announces_nothing(pair: Namespaces, tmp_path: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    write_config(home_a, announcing_config(home_a, mdns={"mode": "off"}))
    home_b.mkdir()
    sniff_log = tmp_path / "sniff.jsonl"
    pair.start_sniffer(1, sniff_log)
    gateway = pair.start_gateway(
        0, clean_env(home_a, OPENCLAW_GATEWAY_TOKEN=TOKEN), "--port", str(PORT), "--bind", "lan"
    )
    wait_for_line(gateway, "[gateway] ready", 15)
    started = time.monotonic()
    assert _discover(pair, home_b)["count"] == 0
    # Longer than a registration takes (~1.7 s of probing): still nothing on the wire.
    time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))
    assert _sniffed(sniff_log) == []
    assert stop(gateway) == 0
    assert "bonjour" not in gateway.output()


def test_name_conflict_renames_the_second_gateway_like_ciao(
    pair: Namespaces, tmp_path: Path
) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    gateways = []
    for index, home in enumerate(homes):
        write_config(home, announcing_config(home))
        env = clean_env(home, OPENCLAW_MDNS_HOSTNAME=f"gwconf{index}", OPENCLAW_GATEWAY_TOKEN=TOKEN)
        gateway = pair.start_gateway(index, env, "--port", str(PORT), "--bind", "lan")
        # One after the other: the second one's probe meets the first one's answer.
        wait_for_line(gateway, "bonjour: advertised", 20)
        gateways.append(gateway)
    instance = f"{_machine()} (OpenClaw)"
    assert "name conflict resolved" not in gateways[0].output()
    assert f'bonjour: gateway name conflict resolved; newName="{instance} (2)"' in (
        gateways[1].output()
    )
    body = _discover(pair, homes[1])
    names = sorted(b["instanceName"] for b in body["beacons"])  # type: ignore[attr-defined]
    assert names == [instance, f"{instance} (2)"]
    hosts = sorted(b["host"] for b in body["beacons"])  # type: ignore[attr-defined]
    assert hosts == ["gwconf0.local", "gwconf1.local"]
    for gateway in gateways:
        assert stop(gateway) == 0
