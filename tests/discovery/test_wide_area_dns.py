"""Wide-area discovery against a tiny real DNS server on 127.0.0.1 (UDP, in this test): PTR ->
SRV + TXT through the resolver seam, then `gateway discover` output. The local mDNS browse is
off (OPENCLAW_DISABLE_BONJOUR=1): this runs in the host namespace."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
from zeroconf import const
from zeroconf._dns import DNSPointer, DNSRecord, DNSService, DNSText
from zeroconf._protocol.incoming import DNSIncoming
from zeroconf._protocol.outgoing import DNSOutgoing

from openclaw_gateway.cli.discover_cmd import discover_main
from openclaw_gateway.discovery.browse import browse_wide_area

DOMAIN = "openclaw.example."
SERVICE = f"_openclaw-gw._tcp.{DOMAIN}"
STUDIO = f"studio-gateway._openclaw-gw._tcp.{DOMAIN}"
ATTIC = f"attic-gateway._openclaw-gw._tcp.{DOMAIN}"
IN = const._CLASS_IN


def _txt(*items: str) -> bytes:
    return b"".join(bytes([len(i.encode())]) + i.encode() for i in items)


ZONE: dict[tuple[str, int], list[DNSRecord]] = {
    (SERVICE, const._TYPE_PTR): [
        DNSPointer(SERVICE, const._TYPE_PTR, IN, 60, STUDIO),
        DNSPointer(SERVICE, const._TYPE_PTR, IN, 60, ATTIC),
    ],
    (STUDIO, const._TYPE_SRV): [
        DNSService(STUDIO, const._TYPE_SRV, IN, 60, 0, 0, 18789, f"studio.{DOMAIN}")
    ],
    (STUDIO, const._TYPE_TXT): [
        DNSText(
            STUDIO,
            const._TYPE_TXT,
            IN,
            60,
            _txt(
                "displayName=Studio\\032East (OpenClaw)",
                "role=gateway",
                "transport=gateway",
                "gatewayPort=18789",
                "tailnetDns=studio.tail1234.ts.net",
                "sshPort=2222",
            ),
        )
    ],
    # attic has no SRV record: the official skips such an instance.
    (ATTIC, const._TYPE_TXT): [DNSText(ATTIC, const._TYPE_TXT, IN, 60, _txt("role=gateway"))],
}


async def _serve(sock: trio.socket.SocketType, asked: list[tuple[str, int]]) -> None:
    with sock:
        while True:  # cancelled with the test's nursery
            await _answer_one(sock, asked)


async def _answer_one(sock: trio.socket.SocketType, asked: list[tuple[str, int]]) -> None:
    data, peer = await sock.recvfrom(4096)
    query = DNSIncoming(data)
    question = query.questions[0]
    asked.append((question.name, question.type))
    records = ZONE.get((question.name.lower(), question.type), [])
    # A stray datagram first (wrong id): the client must keep waiting for its answer.
    stray = DNSOutgoing(0x8180, False, (query.id + 1) & 0xFFFF)
    stray.add_question(question)
    await sock.sendto(stray.packets()[0], peer)
    out = DNSOutgoing(0x8180 if records else 0x8183, False, query.id)  # 3 = NXDOMAIN
    out.add_question(question)
    for record in records:
        out.add_answer_at_time(record, 0)
    await sock.sendto(out.packets()[0], peer)


async def _dns_server(nursery: trio.Nursery, asked: list[tuple[str, int]]) -> int:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    nursery.start_soon(_serve, sock, asked)
    return int(sock.getsockname()[1])


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _with_server(body: Any) -> Any:
    asked: list[tuple[str, int]] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await _dns_server(nursery, asked)
            # The first nameserver refuses (nothing listens): the second one answers.
            servers: Sequence[tuple[str, int]] = [
                ("127.0.0.1", _closed_udp_port()),
                ("127.0.0.1", port),
            ]
            result = await body(servers)
            nursery.cancel_scope.cancel()
    return result, asked


async def test_browse_wide_area_ptr_srv_txt() -> None:
    found, asked = await _with_server(lambda servers: browse_wide_area(DOMAIN, 2.0, servers))
    assert found == [
        {
            "instanceName": "studio-gateway",
            "displayName": "Studio East (OpenClaw)",
            "host": "studio.openclaw.example",
            "port": 18789,
            "txt": {
                "displayName": "Studio East (OpenClaw)",
                "role": "gateway",
                "transport": "gateway",
                "gatewayPort": "18789",
                "tailnetDns": "studio.tail1234.ts.net",
                "sshPort": "2222",
            },
            "tailnetDns": "studio.tail1234.ts.net",
            "role": "gateway",
            "transport": "gateway",
            "gatewayPort": 18789,
            "sshPort": 2222,
            "domain": DOMAIN,
        }
    ]
    assert asked[0] == (SERVICE, const._TYPE_PTR)
    assert sorted(asked[1:]) == sorted(
        [
            (STUDIO, const._TYPE_SRV),
            (STUDIO, const._TYPE_TXT),
            (ATTIC, const._TYPE_SRV),
            (ATTIC, const._TYPE_TXT),
        ]
    )


async def test_discover_command_json_and_text(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "OPENCLAW_DISABLE_BONJOUR": "1",
        "OPENCLAW_WIDE_AREA_DOMAIN": "openclaw.example",
    }

    async def run(opts: dict[str, Any], servers: Sequence[tuple[str, int]]) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await discover_main(opts, env, out, err, nameservers=servers)
        assert err.getvalue() == ""
        return code, out.getvalue()

    (code, out), _ = await _with_server(lambda s: run({"json": True, "timeout": "1500"}, s))
    assert code == 0
    body = json.loads(out)
    assert body["timeoutMs"] == 1500 and body["count"] == 1
    assert body["domains"] == ["local.", DOMAIN]
    assert body["beacons"][0]["wsUrl"] == "ws://studio.openclaw.example:18789"
    (code, out), _ = await _with_server(lambda s: run({}, s))
    assert (code, out) == (
        0,
        "Gateway Discovery\n"
        f"Found 1 gateway(s) · domains: local., {DOMAIN}\n"
        f"- Studio East (OpenClaw) {DOMAIN}\n"
        "  tailnet: studio.tail1234.ts.net\n"
        "  host: studio.openclaw.example\n"
        "  ws: ws://studio.openclaw.example:18789\n"
        "  role: gateway\n"
        "  transport: gateway\n"
        "  ssh: ssh -N -L 18789:127.0.0.1:18789 <user>@studio.openclaw.example -p 2222\n",
    )


async def test_discover_with_an_unanswering_resolver_finds_nothing(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "OPENCLAW_DISABLE_BONJOUR": "1"}
    (tmp_path / ".openclaw").mkdir()
    (tmp_path / ".openclaw" / "openclaw.json").write_text(
        json.dumps({"discovery": {"wideArea": {"domain": "openclaw.example"}}})
    )
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(5):
        code = await discover_main(
            {"timeout": "300"}, env, out, err, nameservers=[("127.0.0.1", _closed_udp_port())]
        )
    assert (code, err.getvalue()) == (0, "")
    assert out.getvalue() == f"Gateway Discovery\nFound 0 gateway(s) · domains: local., {DOMAIN}\n"


async def test_invalid_timeout(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "OPENCLAW_DISABLE_BONJOUR": "1"}
    for opts, want_out, want_err in (
        (
            {"timeout": "abc"},
            "",
            "gateway discover failed: Invalid --timeout. Use a positive millisecond value, e.g. "
            '--timeout 30000. Received: "abc".\n',
        ),
        ({"timeout": "0", "json": True}, "error", ""),
    ):
        out, err = io.StringIO(), io.StringIO()
        code = await discover_main(opts, env, out, err)
        assert code == 1 and err.getvalue() == want_err
        if want_out:
            body = json.loads(out.getvalue())
            assert body["ok"] is False and body["error"]["type"] == "cli_error"
            assert 'Received: "0".' in body["error"]["message"]
        else:
            assert out.getvalue() == ""
