"""A raw mDNS observer for the netns tests (run with `ip netns exec`): joins 224.0.0.251 on
one interface address and appends one JSON list per gateway PTR record it sees to a log:
["MDNS", "announce"|"goodbye", <instance>, "listener=open|closed|-"]. The listener field is a
TCP connect to 127.0.0.1:<port> made the moment the record arrives (the shutdown-order test
runs this in the gateway's namespace), "-" without a port.

argv: <interface IPv4> <log path> [<port>]
"""

from __future__ import annotations

import json
import socket
import sys

from zeroconf._protocol.incoming import DNSIncoming

SERVICE = "_openclaw-gw._tcp.local."
TYPE_PTR = 12


def listener_state(port: int | None) -> str:
    if port is None:
        return "-"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return "open"
    except OSError:
        return "closed"


def main() -> None:
    iface, log_path = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", 5353))
    mreq = socket.inet_aton("224.0.0.251") + socket.inet_aton(iface)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    print("listening", flush=True)
    while True:  # ends when the test terminates it
        data, _ = sock.recvfrom(9000)
        msg = DNSIncoming(data)
        if not msg.valid or not msg.flags & 0x8000:
            continue
        for record in msg.answers():
            if record.type != TYPE_PTR or record.name.lower() != SERVICE:
                continue
            event = "goodbye" if record.ttl == 0 else "announce"
            alias = getattr(record, "alias", "")
            entry = ["MDNS", event, alias, "listener=" + listener_state(port)]
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
