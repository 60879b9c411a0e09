"""Pure parts of discovery: naming, TXT, the announce gate, the zone file, beacons and their
output, DNS messages. Expected zone texts were rendered by the official
`renderWideAreaGatewayZoneText` (openclaw 2026.9.6) from the same inputs."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import pytest

from openclaw_gateway.discovery import beacons as bc
from openclaw_gateway.discovery import unicast
from openclaw_gateway.discovery import wide_area as wa
from openclaw_gateway.discovery.txt import (
    AdvertiseContext,
    advertise_timeout_s,
    announce_gate,
    build_txt,
    format_instance_name,
    instance_name,
    mdns_host_label,
    mdns_mode,
    parse_tcp_port,
    prettify_instance_name,
    safe_service_name,
    tailnet_dns_hint,
)

ENABLED = {"plugins": {"entries": {"bonjour": {"enabled": True}}}}


def _ctx(**changes: object) -> AdvertiseContext:
    base: dict[str, object] = {
        "port": 18789,
        "machine_display_name": "studio",
        "host_label": "studio",
        "minimal": True,
        "direct_reachable": False,
    }
    base.update(changes)
    return AdvertiseContext(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("env", "hostname", "label"),
    [
        ({}, "studio.example.com", "studio"),
        ({}, "Studio.local", "Studio"),
        ({}, "bad_name", "openclaw"),  # not a DNS label
        ({}, "", "openclaw"),
        ({"OPENCLAW_MDNS_HOSTNAME": " My.Host.local "}, "studio", "My"),
        ({"OPENCLAW_MDNS_HOSTNAME": "gw.local"}, "studio", "gw"),
        ({"OPENCLAW_MDNS_HOSTNAME": "x" * 70}, "studio", "x" * 63),
    ],
)
def test_mdns_host_label(env: dict[str, str], hostname: str, label: str) -> None:
    assert mdns_host_label(env, hostname) == label


def test_instance_names() -> None:
    assert format_instance_name("studio") == "studio (OpenClaw)"
    assert format_instance_name("  ") == "OpenClaw"
    assert format_instance_name("My OpenClaw box") == "My OpenClaw box"  # already says it
    assert prettify_instance_name("studio   (OpenClaw) ") == "studio"
    assert prettify_instance_name("OpenClaw") == "OpenClaw"
    # 63 UTF-8 bytes at most, cut on a character boundary (é is 2 bytes).
    long = "é" * 40
    assert safe_service_name(long) == "é" * 31
    assert len(safe_service_name(long).encode()) <= 63


def test_txt_minimal_and_full_in_official_order() -> None:
    minimal = build_txt(_ctx(tailnet_dns="studio.ts.net"))
    assert list(minimal.items()) == [
        ("role", "gateway"),
        ("gatewayPort", "18789"),
        ("lanHost", "studio.local"),
        ("displayName", "studio"),
        ("transport", "gateway"),
    ]
    full = build_txt(
        _ctx(
            minimal=False,
            direct_reachable=True,
            tailnet_dns="studio.ts.net",
            cli_path="/usr/bin/openclaw",
        )
    )
    assert list(full) == [
        "role",
        "gatewayPort",
        "lanHost",
        "displayName",
        "gatewayDirectReachable",
        "tailnetDns",
        "cliPath",
        "transport",
        "sshPort",
    ]
    assert full["sshPort"] == "22"  # OPENCLAW_SSH_PORT unset
    assert build_txt(_ctx(minimal=False, ssh_port=2222))["sshPort"] == "2222"
    tls = build_txt(_ctx(tls_enabled=True, tls_fingerprint_sha256="ab:cd"))
    assert tls["gatewayTls"] == "1" and tls["gatewayTlsSha256"] == "ab:cd"
    assert instance_name(_ctx()) == "studio (OpenClaw)"


@pytest.mark.parametrize(
    ("raw", "env", "platform", "container", "announce"),
    [
        ({}, {}, "linux", False, False),  # the plugin is darwin-only by default
        ({}, {}, "darwin", False, True),
        (ENABLED, {}, "linux", False, True),
        (ENABLED, {}, "linux", True, False),  # containers: off...
        (ENABLED, {"OPENCLAW_DISABLE_BONJOUR": "0"}, "linux", True, True),  # ...unless opted in
        (ENABLED, {"OPENCLAW_DISABLE_BONJOUR": "off"}, "linux", True, True),
        (ENABLED, {"OPENCLAW_DISABLE_BONJOUR": "maybe"}, "linux", True, False),
        (ENABLED, {"OPENCLAW_DISABLE_BONJOUR": "yes"}, "linux", False, False),
        ({**ENABLED, "discovery": {"mdns": {"mode": "off"}}}, {}, "linux", False, False),
        ({"plugins": {"enabled": False}}, {}, "darwin", False, False),
        ({"plugins": {"deny": ["bonjour"]}}, {}, "darwin", False, False),
        ({"plugins": {"entries": {"bonjour": {"enabled": False}}}}, {}, "darwin", False, False),
    ],
)
def test_announce_gate(
    raw: dict[str, object], env: dict[str, str], platform: str, container: bool, announce: bool
) -> None:
    assert announce_gate(raw, env, platform=platform, container=container).announce is announce


def test_small_settings() -> None:
    assert mdns_mode({}) == "minimal"
    assert mdns_mode({"discovery": {"mdns": {"mode": "full"}}}) == "full"
    assert advertise_timeout_s({}) == 5.0
    assert advertise_timeout_s({"OPENCLAW_GATEWAY_DISCOVERY_ADVERTISE_TIMEOUT_MS": "250"}) == 0.25
    assert advertise_timeout_s({"OPENCLAW_GATEWAY_DISCOVERY_ADVERTISE_TIMEOUT_MS": "-1"}) == 5.0
    assert [parse_tcp_port(v) for v in ("22", " 80 ", "0", "65536", "1.5", "x", True)] == [
        22,
        80,
        None,
        None,
        None,
        None,
        None,
    ]
    assert tailnet_dns_hint({"OPENCLAW_TAILNET_DNS": "a.ts.net."}, None) == "a.ts.net"
    assert tailnet_dns_hint({}, "https://host.tail1.ts.net/") == "host.tail1.ts.net"
    assert tailnet_dns_hint({}, None) is None


# ------------------------------------------------------------------------------------ zone

OFFICIAL_FULL = (
    "; openclaw-content-hash: 786a17af\n$ORIGIN openclaw.example.\n$TTL 60\n"
    "@ IN SOA ns1 hostmaster 2026112501 7200 3600 1209600 60\n@ IN NS ns1\n"
    "ns1 IN A 100.101.102.103\nstudio IN A 100.101.102.103\nstudio IN AAAA fd7a:115c:a1e0::1\n"
    "_openclaw-gw._tcp IN PTR studio-gateway._openclaw-gw._tcp\n"
    "studio-gateway._openclaw-gw._tcp IN SRV 0 0 18789 studio\n"
    'studio-gateway._openclaw-gw._tcp IN TXT "displayName=studio (OpenClaw)" "role=gateway" '
    '"transport=gateway" "gatewayPort=18789" "gatewayDirectReachable=1" '
    '"tailnetDns=studio.tail1234.ts.net" "sshPort=2222" "cliPath=/usr/local/bin/openclaw"\n'
)
OFFICIAL_QUOTED = (
    "; openclaw-content-hash: ed96bef9\n$ORIGIN openclaw.example.\n$TTL 60\n"
    "@ IN SOA ns1 hostmaster 7 7200 3600 1209600 60\n@ IN NS ns1\n"
    "ns1 IN A 100.101.102.103\nstudio IN A 100.101.102.103\n"
    "_openclaw-gw._tcp IN PTR studio-gateway._openclaw-gw._tcp\n"
    "studio-gateway._openclaw-gw._tcp IN SRV 0 0 18789 studio\n"
    'studio-gateway._openclaw-gw._tcp IN TXT "displayName=Café \\"quoted\\" (OpenClaw)" '
    '"role=gateway" "transport=gateway" "gatewayPort=18789"\n'
)


def _zone(**ctx: object) -> wa.ZoneInput:
    ipv6 = ctx.pop("ipv6", None)
    return wa.ZoneInput(
        "openclaw.example.",
        _ctx(**ctx),
        "studio",
        "100.101.102.103",
        ipv6,  # type: ignore[arg-type]
    )


def test_zone_text_matches_the_official_renderer() -> None:
    full = _zone(
        direct_reachable=True,
        tailnet_dns="studio.tail1234.ts.net",
        ssh_port=2222,
        cli_path="/usr/local/bin/openclaw",
        minimal=False,
        ipv6="fd7a:115c:a1e0::1",
    )
    assert wa.render_zone(full, 2026112501) == OFFICIAL_FULL
    assert wa.render_zone(_zone(machine_display_name='Café "quoted"'), 7) == OFFICIAL_QUOTED


def test_zone_written_atomically_only_when_it_changes(tmp_path: Path) -> None:
    day = dt.date(2026, 11, 25)
    first = wa.write_zone(tmp_path, _zone(), lambda: day)
    path = tmp_path / "dns" / "openclaw.example.db"
    assert first == wa.ZoneResult(path, True)
    assert wa.extract_serial(path.read_text()) == 2026112501
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o644, 0o700)
    before = path.read_text()
    assert wa.write_zone(tmp_path, _zone(), lambda: day) == wa.ZoneResult(path, False)
    assert path.read_text() == before
    assert wa.write_zone(tmp_path, _zone(port=18790), lambda: day).changed
    assert wa.extract_serial(path.read_text()) == 2026112502  # same day: +1
    later = dt.date(2026, 11, 26)
    assert wa.write_zone(tmp_path, _zone(port=18791), lambda: later).changed
    assert wa.extract_serial(path.read_text()) == 2026112601
    assert [p.name for p in path.parent.iterdir()] == ["openclaw.example.db"]  # no temp left


def test_serial_and_domain_rules() -> None:
    day = dt.date(2026, 11, 25)
    assert wa.next_serial(None, day) == 2026112501
    assert wa.next_serial(2026112599, day) == 2026112600  # never goes back
    assert wa.next_serial(2026112401, day) == 2026112501
    assert wa.normalize_domain(" Example.COM ") == "Example.COM."
    assert wa.normalize_domain("") is None
    with pytest.raises(wa.InvalidDomain, match="valid DNS name"):
        wa.normalize_domain("bad_label.example")
    assert wa.resolve_domain(None, {"OPENCLAW_WIDE_AREA_DOMAIN": "x.test"}) == "x.test."
    assert wa.resolve_domain("a..b", {}) is None
    assert wa.content_hash("") == "811c9dc5"


# --------------------------------------------------------------------------------- beacons


def test_dnssd_escapes() -> None:
    assert bc.decode_dnssd_escapes("studio\\032(OpenClaw)") == "studio (OpenClaw)"
    assert bc.decode_dnssd_escapes("Caf\\195\\169") == "Café"
    assert bc.decode_dnssd_escapes("no escapes \\x") == "no escapes \\x"
    assert bc.decode_dnssd_escapes("big\\999") == "big\\999"
    assert bc.parse_txt_tokens(["a=b=c", "=x", "noeq", " k = v "]) == {"a": "b=c", "k": "v"}


def _beacon(
    name: str, host: str | None = "h.local", port: int | None = 18789, **txt: str
) -> bc.Beacon:
    return bc.make_beacon(name, "local.", host, port, txt)


def test_beacon_shape_dedupe_and_sort() -> None:
    b = _beacon("studio\\032(OpenClaw)", displayName="studio", sshPort="22", gatewayPort="x")
    assert b == {
        "instanceName": "studio (OpenClaw)",
        "displayName": "studio",
        "host": "h.local",
        "port": 18789,
        "txt": {"displayName": "studio", "sshPort": "22", "gatewayPort": "x"},
        "sshPort": 22,
        "domain": "local.",
    }
    items = [_beacon("zeta"), _beacon("Alpha"), _beacon("zeta"), _beacon("beta", port=1)]
    assert [x["instanceName"] for x in bc.dedupe_and_sort(items)] == ["Alpha", "beta", "zeta"]


def test_ws_url_and_ssh_target_come_from_srv_only() -> None:
    txt_only = _beacon("x", host=None, port=None, lanHost="x.local", gatewayPort="18789")
    assert bc.ws_url(txt_only) is None and bc.ssh_target(txt_only, "me") is None
    tls = _beacon("x", gatewayTls="1", sshPort="2222")
    assert bc.ws_url(tls) == "wss://h.local:18789"
    assert bc.ssh_target(tls, "me") == "me@h.local:2222"
    assert bc.ssh_target(_beacon("x", sshPort="22"), "me") == "me@h.local"
    assert bc.ssh_target(_beacon("x"), "") == "h.local"


def test_render_lines_and_probe_view() -> None:
    b = _beacon(
        "studio (OpenClaw)",
        displayName="studio",
        tailnetDns="studio.ts.net",
        lanHost="studio.local",
        role="gateway",
        transport="gateway",
        gatewayTls="true",
        gatewayTlsSha256="AB:CD",
        sshPort="22",
    )
    assert bc.render_lines(b) == [
        "- studio local.",
        "  tailnet: studio.ts.net",
        "  lan: studio.local",
        "  host: h.local",
        "  ws: wss://h.local:18789",
        "  role: gateway",
        "  transport: gateway",
        "  tls: sha256 AB:CD",
        "  ssh: ssh -N -L 18789:127.0.0.1:18789 <user>@h.local -p 22",
    ]
    assert bc.render_lines(_beacon("plain")) == [
        "- plain local.",
        "  host: h.local",
        "  ws: ws://h.local:18789",
    ]
    assert bc.discover_text(["local."], []) == [
        "Gateway Discovery",
        "Found 0 gateway(s) · domains: local.",
    ]
    assert bc.probe_view(_beacon("p")) == {
        "instanceName": "p",
        "displayName": "p",
        "domain": "local.",
        "host": "h.local",
        "lanHost": None,
        "tailnetDns": None,
        "gatewayPort": None,
        "sshPort": None,
        "wsUrl": "ws://h.local:18789",
    }
    assert bc.discover_json(2000, ["local."], [b])["beacons"][0]["wsUrl"] == "wss://h.local:18789"


# ------------------------------------------------------------------------------------- DNS


def _name(*labels: str) -> bytes:
    return b"".join(bytes([len(x)]) + x.encode() for x in labels) + b"\x00"


def test_query_bytes() -> None:
    packet = unicast.build_query("_openclaw-gw._tcp.example", unicast.TYPE_PTR, 0x1234)
    assert packet == (
        struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
        + _name("_openclaw-gw", "_tcp", "example")
        + struct.pack("!HH", 12, 1)
    )


def test_parse_a_hand_built_response_with_compression() -> None:
    qname = _name("_openclaw-gw", "_tcp", "example")
    header = struct.pack("!HHHHHH", 7, 0x8180, 1, 2, 0, 0)
    question = qname + struct.pack("!HH", 12, 1)
    # Answer names point back at the question name (offset 12).
    target = b"\x06studio\xc0\x0c"
    ptr = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(target)) + target
    other = b"\x05other\xc0\x0c"
    ptr2 = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(other)) + other
    data = header + question + ptr + ptr2
    answer = unicast.parse_answer(data, 7, "_openclaw-gw._tcp.example.", unicast.TYPE_PTR)
    assert answer.ptrs == ("studio._openclaw-gw._tcp.example.", "other._openclaw-gw._tcp.example.")
    assert answer.rcode == 0 and not answer.truncated
    with pytest.raises(unicast.BadResponse, match="id"):
        unicast.parse_answer(data, 8, "_openclaw-gw._tcp.example.", unicast.TYPE_PTR)
    query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + question
    with pytest.raises(unicast.BadResponse, match="not a response"):
        unicast.parse_answer(query, 7, "_openclaw-gw._tcp.example.", unicast.TYPE_PTR)
    with pytest.raises(unicast.BadResponse, match="malformed"):
        unicast.parse_answer(b"\x00\x07\x81", 7, "x.", unicast.TYPE_PTR)
    nx = struct.pack("!HHHHHH", 7, 0x8183, 1, 0, 0, 0) + question
    assert unicast.parse_answer(nx, 7, "_openclaw-gw._tcp.example.", 12).rcode == 3


def test_txt_and_small_helpers() -> None:
    assert unicast.txt_strings(b"\x03a=b\x00\x02\xc3\xa9") == ["a=b", "é"]
    with pytest.raises(unicast.BadResponse):
        unicast.txt_strings(b"\x05ab")
    assert (
        unicast.instance_from_ptr("studio-gateway._openclaw-gw._tcp.example.") == "studio-gateway"
    )
    assert unicast.instance_from_ptr("_openclaw-gw._tcp.example.") == ""
    conf = "# c\nnameserver 10.0.0.1\nsearch x\nnameserver fe80::1%eth0 ; note\nnameserver\n"
    assert unicast.resolv_conf_nameservers(conf) == ["10.0.0.1", "fe80::1%eth0"]


def test_conflict_names_follow_ciao() -> None:
    from openclaw_gateway.discovery.announcer import numbered_name

    assert numbered_name("studio (OpenClaw)", 1) == "studio (OpenClaw)"
    assert numbered_name("studio (OpenClaw)", 2) == "studio (OpenClaw) (2)"
    long = "é" * 31  # 62 bytes
    renamed = numbered_name(long, 10)
    assert renamed.endswith(" (10)") and len(renamed.encode()) <= 63


def test_pick_auto_ssh_target_skips_beacons_without_a_usable_endpoint() -> None:
    from openclaw_gateway.cli.probe_cmd import pick_auto_ssh_target

    found = [
        _beacon("txt-only", host=None, port=None, lanHost="x.local", sshPort="22"),
        _beacon("bad", host="-oProxyCommand=x"),  # never handed to ssh as an option
        _beacon("good", host="studio.local", sshPort="2222"),
    ]
    assert pick_auto_ssh_target(found, "me") == "me@studio.local:2222"
    assert pick_auto_ssh_target(found[:2], "me") is None
