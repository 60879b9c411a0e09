"""The kernel's floor for fan-out (issue 17): what one round of N loopback writes costs here.

A plain Python process (no event loop, no WebSocket, no JSON) accepts N TCP connections from
this one and, per round, writes one pre-built ~470-byte text frame (the size of the gateway's
`presence` event in the fan-out scenario) to each with `os.write`, back to back. The listeners
are read by the same ReceiptReader as the servers' rounds. What the gateway's fan-out costs
above this is Python and protocol work; what this costs is the kernel's loopback path and the
reader, which no server on this machine can go below.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

from bench_common import HOST, BenchError
from bench_reader import ReceiptReader, RoundReceipts
from bench_scale import ROUND_TIMEOUT_S, tree_cpu_s

FRAME_BYTES = 470
ACCEPT_TIMEOUT_S = 30.0

# The writer: port on stdout, then per line on stdin one frame carrying that line to every
# connection. Its stdin is read with os.read (a line is one round's marker, written at once).
WRITER = r"""
import os, socket, struct, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.bind((sys.argv[3], 0))
ls.listen(n + 16)
print(ls.getsockname()[1], flush=True)
conns = [ls.accept()[0] for _ in range(n)]
fds = [c.fileno() for c in conns]
while True:
    line = os.read(0, 4096)
    if not line:
        break
    text = b'{"type":"event","event":"presence","payload":{"text":"' + line.strip() + b'"'
    body = text + b',"pad":"' + b"x" * max(0, size - len(text) - 12) + b'"}}'
    frame = struct.pack("!BBH", 0x81, 126, len(body)) + body
    for fd in fds:
        os.write(fd, frame)
"""


def measure_kernel_fanout(listeners: int, rounds: int, gap_s: float) -> dict[str, Any]:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(listeners), str(FRAME_BYTES), HOST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    socks: list[socket.socket] = []
    try:
        assert writer.stdout is not None and writer.stdin is not None
        port = int(writer.stdout.readline() or b"0")
        if not port:
            raise BenchError("kernel floor: the writer did not start")
        for _ in range(listeners):
            socks.append(socket.create_connection((HOST, port), timeout=ACCEPT_TIMEOUT_S))
        rounds_seen = RoundReceipts(listeners, rounds)
        time.sleep(0.2)  # every accept done on the writer's side
        cpu0 = tree_cpu_s(writer.pid)
        fds = [s.fileno() for s in socks]
        with ReceiptReader(fds, rounds_seen.pattern, rounds_seen.on_match):
            for r in range(rounds):
                started = time.monotonic_ns()
                os.write(writer.stdin.fileno(), f"{rounds_seen.marker(r)}\n".encode())
                rounds_seen.finish(r, started, ROUND_TIMEOUT_S, "kernel floor")
                time.sleep(gap_s)
        cpu = tree_cpu_s(writer.pid) - cpu0
    finally:
        for sock in socks:
            sock.close()
        if writer.stdin is not None:
            writer.stdin.close()
        try:
            writer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
    return rounds_seen.summary(cpu)


if __name__ == "__main__":  # a quick look: bench_kernel.py N ROUNDS
    print(measure_kernel_fanout(int(sys.argv[1]), int(sys.argv[2]), 0.1))
