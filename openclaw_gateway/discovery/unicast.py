"""Unicast DNS-SD messages, sans-IO: build a recursive query, read the answer (RFC 6763 over
RFC 1035). zeroconf's DNSOutgoing/DNSIncoming do the wire format (name compression included),
so no second DNS library is needed for three record types.

The official `gateway discover` on Linux asks avahi for the wide-area domain (avahi then asks
the unicast resolver); this build asks the system resolver itself: PTR
`_openclaw-gw._tcp.<domain>`, then SRV and TXT of each instance.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from zeroconf import const
from zeroconf._dns import DNSPointer, DNSQuestion, DNSService, DNSText
from zeroconf._protocol.incoming import DNSIncoming
from zeroconf._protocol.outgoing import DNSOutgoing

TYPE_PTR = const._TYPE_PTR
TYPE_SRV = const._TYPE_SRV
TYPE_TXT = const._TYPE_TXT
_FLAGS_QUERY_RD = 0x0100  # standard query, recursion desired
_FLAG_RESPONSE = 0x8000
_RCODE_MASK = 0x000F
DNS_PORT = 53


class BadResponse(ValueError):
    """Not an answer to our question (wrong id, not a response, malformed, error rcode)."""


def build_query(name: str, qtype: int, qid: int) -> bytes:
    out = DNSOutgoing(_FLAGS_QUERY_RD, False, qid)
    out.add_question(DNSQuestion(_fqdn(name), qtype, const._CLASS_IN))
    packets = out.packets()
    return packets[0]


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


@attrs.frozen
class Srv:
    host: str  # without the trailing dot
    port: int


@attrs.frozen
class Answer:
    ptrs: tuple[str, ...] = ()
    srv: Srv | None = None
    txt: tuple[str, ...] = ()
    truncated: bool = False
    rcode: int = 0


def txt_strings(rdata: bytes) -> list[str]:
    """TXT rdata (length-prefixed character strings) -> strings (UTF-8, invalid bytes kept
    as U+FFFD). A length running past the end is malformed."""
    out: list[str] = []
    i = 0
    while i < len(rdata):
        n = rdata[i]
        if i + 1 + n > len(rdata):
            raise BadResponse("truncated TXT string")
        chunk = rdata[i + 1 : i + 1 + n]
        if chunk:
            out.append(chunk.decode("utf-8", errors="replace"))
        i += 1 + n
    return out


def parse_answer(data: bytes, qid: int, name: str, qtype: int) -> Answer:
    """The records of `name`/`qtype` in a response to query `qid` (any section)."""
    msg = DNSIncoming(data)
    if not msg.valid:
        raise BadResponse("malformed DNS message")
    if msg.id != qid:
        raise BadResponse("response id does not match the query")
    if not msg.flags & _FLAG_RESPONSE:
        raise BadResponse("not a response")
    rcode = msg.flags & _RCODE_MASK
    wanted = _fqdn(name).lower()
    ptrs: list[str] = []
    srv: Srv | None = None
    txt: list[str] = []
    for record in _records(msg.answers()):
        if record.name.lower() != wanted or record.type != qtype:
            continue
        if isinstance(record, DNSPointer):
            ptrs.append(record.alias)
        elif isinstance(record, DNSService) and srv is None:
            srv = Srv(record.server.rstrip("."), record.port)
        elif isinstance(record, DNSText):
            txt.extend(txt_strings(record.text))
    return Answer(tuple(ptrs), srv, tuple(txt), msg.truncated, rcode)


def _records(records: Iterable[object]) -> Iterable[DNSPointer | DNSService | DNSText]:
    for record in records:
        if isinstance(record, DNSPointer | DNSService | DNSText):
            yield record


def instance_from_ptr(ptr: str) -> str:
    """`studio-gateway._openclaw-gw._tcp.example.` -> `studio-gateway` (official regex)."""
    name = ptr.strip().rstrip(".")
    marker = "._openclaw-gw._tcp."
    idx = name.find(marker)
    if idx >= 0:
        return name[:idx]
    if name.startswith("_openclaw-gw._tcp."):
        return ""
    return name


def resolv_conf_nameservers(text: str) -> list[str]:
    """`nameserver` lines of resolv.conf (comments ignored), in order; IPv6 zone ids kept."""
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1])
    return out
