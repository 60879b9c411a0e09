"""The rate rows of scripts/bench (handshakes, `health`, `system-presence`, `status`), measured
with a raw client in a worker thread: WebSocket by hand (bench_scale's frames) on blocking
sockets (handshakes, c=1) or one epoll loop over non-blocking ones (c=10), a byte search for
the response's id.

Why not trio-websocket here (it was the rate client until issue 17's figures were taken on a
faster machine): at c=10 the floor server, ours and the official all landed at 11-14k req/s,
which was this process's CPU (a reader task, wsproto framing and `json.loads` of every frame),
not theirs. Raw frames on trio sockets still cost ~20-30 µs of wake-ups and task switches per
round trip; without an event loop the client costs a fraction of that, the same for every
server of a run, so the ratios are the servers'.

With the server's process id, each row also says the server's CPU (its process tree's
utime+stime) per handshake or request: that ratio does not depend on how fast the client is.

A request: one masked text frame out; in, bytes up to `"id":"<rid>"` and the `"ok"` that
follows it (pings answered on the way). A handshake: TCP connect, upgrade, challenge, connect,
hello-ok, then the close handshake to EOF — what a one-shot CLI call does — on a blocking
socket in a worker thread (the same key for every upgrade). Every wait is bounded.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from typing import Any

import trio
from bench_common import HOST, BenchError, connect_frame, summary
from bench_reader import pongs_owed
from bench_scale import client_frame, tree_cpu_s, upgrade_request

REPLY_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
CLOSE_1000 = bytes((0x88, 0x82)) + b"\0\0\0\0" + struct.pack("!H", 1000)  # masked, zero key
OK = b',"ok":true'  # what follows a successful response's id


def _with_cpu(
    result: dict[str, Any], pid: int | None, cpu0: float | None, count: int
) -> dict[str, Any]:
    if pid is not None and cpu0 is not None and count:
        result["server_cpu_us"] = round((tree_cpu_s(pid) - cpu0) / count * 1e6, 1)
    return result


def _one_handshake(port: int, upgrade: bytes, connect: bytes) -> None:
    """One whole handshake on a blocking socket (see `handshakes`)."""
    sock, _rest = _open_raw(port, upgrade, connect)
    _close_raw(sock)


def _recv_until(sock: socket.socket, buf: bytes, marker: bytes) -> bytes:
    """Read until `marker` has arrived; what follows it. A keepalive ping is answered."""
    while (at := buf.find(marker)) < 0:
        data = sock.recv(65_536)
        if not data:
            raise BenchError(f"closed before {marker!r}")
        if owed := pongs_owed(data):
            sock.sendall(owed)
        buf = buf[-len(marker) :] + data
    return buf[at + len(marker) :]


def _open_raw(port: int, upgrade: bytes, connect: bytes) -> tuple[socket.socket, bytes]:
    """A blocking socket through hello-ok; what came after it."""
    sock = socket.create_connection((HOST, port), timeout=REPLY_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(upgrade)
    buf = _recv_until(sock, b"", b"connect.challenge")
    sock.sendall(connect)
    return sock, _recv_until(sock, buf, b'"hello-ok"')


def _close_raw(sock: socket.socket) -> None:
    with sock:
        try:
            sock.setblocking(True)
            sock.settimeout(CLOSE_TIMEOUT_S)
            sock.sendall(CLOSE_1000)
            while sock.recv(65_536):  # to the server's EOF, after its close frame
                pass
        except OSError:
            pass


def _request(method: str, rid: str) -> tuple[bytes, bytes]:
    """The frame of one request and the marker its response carries."""
    frame = client_frame(json.dumps({"type": "req", "id": rid, "method": method, "params": {}}))
    return frame, b'"id":"%s"' % rid.encode()


def _answered(buf: bytes, marker: bytes, method: str) -> bytes | None:
    """What follows the response to `marker` in `buf` (None: not all there yet)."""
    at = buf.find(marker)
    if at < 0 or len(buf) < at + len(marker) + len(OK):
        return None
    rest = buf[at + len(marker) :]
    if not rest.startswith(OK):
        raise BenchError(f"{method} failed: {rest[:300]!r}")
    return rest[len(OK) :]


def _sequential_calls(
    sock: socket.socket, buf: bytes, method: str, total: int, cap_s: float
) -> list[float]:
    """`total` calls one after the other on one blocking socket (see `requests`)."""
    lat: list[float] = []
    deadline = time.perf_counter() + cap_s
    for n in range(total):
        frame, marker = _request(method, f"s{n}")
        if time.perf_counter() > deadline:
            break
        t = time.perf_counter()
        sock.sendall(frame)
        while (rest := _answered(buf, marker, method)) is None:
            data = sock.recv(65_536)
            if not data:
                raise BenchError(f"{method}: closed before its response")
            if owed := pongs_owed(data):
                sock.sendall(owed)
            buf += data
        buf = rest
        lat.append((time.perf_counter() - t) * 1000)
    return lat


def _concurrent_calls(
    conns: list[tuple[socket.socket, bytes]], method: str, total: int, cap_s: float
) -> list[float]:
    """`total` calls over several sockets, each sending its next call when its last one was
    answered, all driven by one epoll loop in this thread (see `requests`)."""
    lat: list[float] = []
    socks = [sock for sock, _buf in conns]
    bufs = [buf for _sock, buf in conns]
    markers: list[bytes] = [b""] * len(socks)
    sent_at = [0.0] * len(socks)
    issued = 0

    def send_next(i: int) -> None:
        nonlocal issued
        issued += 1
        frame, markers[i] = _request(method, f"{i}:{issued}")
        sent_at[i] = time.perf_counter()
        socks[i].sendall(frame)  # a small frame into an idle socket's buffer: never waits

    poller = select.epoll()
    by_fd = {sock.fileno(): i for i, sock in enumerate(socks)}
    try:
        for i, sock in enumerate(socks):
            sock.setblocking(False)
            poller.register(sock.fileno(), select.EPOLLIN)
            if issued < total:
                send_next(i)
        waiting = min(len(socks), total)
        deadline = time.perf_counter() + cap_s
        while waiting and time.perf_counter() < deadline:
            for fd, _events in poller.poll(REPLY_TIMEOUT_S):
                i = by_fd[fd]
                try:
                    data = socks[i].recv(65_536)
                except BlockingIOError:
                    continue
                if not data:
                    raise BenchError(f"{method}: closed before its response")
                if owed := pongs_owed(data):
                    socks[i].sendall(owed)
                bufs[i] += data
                rest = _answered(bufs[i], markers[i], method)
                if rest is None:
                    continue
                lat.append((time.perf_counter() - sent_at[i]) * 1000)
                bufs[i] = rest
                if issued < total and time.perf_counter() < deadline:
                    send_next(i)
                else:
                    waiting -= 1
    finally:
        poller.close()
    return lat


async def handshakes(
    port: int, token: str, count: int, cap_s: float, pid: int | None = None
) -> dict[str, Any]:
    """Sequential handshakes from blocking sockets in one thread: each step a plain syscall,
    no event loop in between. The trio client cost ~490 µs of CPU per handshake, close to our
    server's own (~560 µs): the rate measured the client as much as the servers."""
    upgrade = upgrade_request(port)
    connect = client_frame(connect_frame(token))

    def run() -> list[float]:
        lat: list[float] = []
        deadline = time.perf_counter() + cap_s
        while len(lat) < count and time.perf_counter() < deadline:
            t = time.perf_counter()
            _one_handshake(port, upgrade, connect)
            lat.append((time.perf_counter() - t) * 1000)
        return lat

    cpu0 = tree_cpu_s(pid) if pid is not None else None
    start = time.perf_counter()
    lat = await trio.to_thread.run_sync(run)
    return _with_cpu(summary(lat, time.perf_counter() - start), pid, cpu0, len(lat))


async def requests(
    port: int,
    token: str,
    method: str,
    concurrency: int,
    total: int,
    cap_s: float,
    pid: int | None = None,
) -> dict[str, Any]:
    """`total` calls of `method` from `concurrency` connections opened first (not timed).

    Driven from a worker thread on blocking sockets (one connection) or one epoll loop (more),
    as the handshakes: through this process's trio loop each round trip had paid ~20-30 µs of
    client wake-ups and task switches, the same for every server, and at c=10 the client was
    as busy as our server (2 cores): a fast server's rate was pulled towards a slow one's."""
    upgrade, connect = upgrade_request(port), client_frame(connect_frame(token))

    def run() -> dict[str, Any]:
        conns = [_open_raw(port, upgrade, connect) for _ in range(concurrency)]
        try:
            cpu0 = tree_cpu_s(pid) if pid is not None else None
            start = time.perf_counter()
            if concurrency == 1:
                ((sock, buf),) = conns
                lat = _sequential_calls(sock, buf, method, total, cap_s)
            else:
                lat = _concurrent_calls(conns, method, total, cap_s)
            return _with_cpu(summary(lat, time.perf_counter() - start), pid, cpu0, len(lat))
        finally:
            for sock, _buf in conns:
                _close_raw(sock)

    return await trio.to_thread.run_sync(run)
