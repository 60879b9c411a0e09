"""The rate rows of scripts/bench (handshakes, `health`, `system-presence`, `status`), measured
with a raw client: WebSocket by hand (bench_scale's frames; blocking sockets in a worker thread
for handshakes and c=1, trio sockets for c=10), a byte search for the response's id.

Why not trio-websocket here (it was the rate client until issue 17's figures were taken on a
faster machine): at c=10 the floor server, ours and the official all landed at 11-14k req/s,
which was this process's CPU (a reader task, wsproto framing and `json.loads` of every frame),
not theirs. The raw client costs a fraction of that per request, the same for every server of
a run, so the ratios are the servers'.

With the server's process id, each row also says the server's CPU (its process tree's
utime+stime) per handshake or request: that ratio does not depend on how fast the client is.

A request: one masked text frame out; in, bytes up to `"id":"<rid>"` and the `"ok"` that
follows it (pings answered on the way). A handshake: TCP connect, upgrade, challenge, connect,
hello-ok, then the close handshake to EOF — what a one-shot CLI call does — on a blocking
socket in a worker thread (the same key for every upgrade). Every wait is bounded.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

import trio
from bench_common import HOST, BenchError, connect_frame, summary
from bench_scale import RawListener, client_frame, open_listener, tree_cpu_s, upgrade_request

REPLY_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
CLOSE_1000 = bytes((0x88, 0x82)) + b"\0\0\0\0" + struct.pack("!H", 1000)  # masked, zero key
PING = b"\x89\x00"  # the servers' keepalive: an empty, unmasked ping
PONG = b"\x8a\x80\x00\x00\x00\x00"  # an empty pong, masked with a zero key
OK = b',"ok":true'  # what follows a successful response's id


async def close(listener: RawListener) -> None:
    """Our close frame, then read to the server's EOF (bounded), then the TCP close."""
    try:
        with trio.move_on_after(CLOSE_TIMEOUT_S):
            await listener.stream.send_all(CLOSE_1000)
            while await listener.receive():
                pass
    except (trio.BrokenResourceError, OSError):
        pass
    finally:
        await trio.aclose_forcefully(listener.stream)


async def call(listener: RawListener, rid: str, method: str, params: Any = None) -> None:
    """One request; returns once its response arrived, BenchError if it failed."""
    frame = {"type": "req", "id": rid, "method": method, "params": params or {}}
    await listener.stream.send_all(client_frame(json.dumps(frame)))
    marker = b'"id":"%s"' % rid.encode()
    with trio.fail_after(REPLY_TIMEOUT_S):
        await listener.read_until(marker)
        while len(listener.buf) < 12:
            data = await listener.receive()
            if not data:
                raise BenchError(f"{method}: closed before its response")
            listener.buf += data
    if not listener.buf.startswith(OK):
        raise BenchError(f"{method} failed: {listener.buf[:300]!r}")


def _with_cpu(
    result: dict[str, Any], pid: int | None, cpu0: float | None, count: int
) -> dict[str, Any]:
    if pid is not None and cpu0 is not None and count:
        result["server_cpu_us"] = round((tree_cpu_s(pid) - cpu0) / count * 1e6, 1)
    return result


def _one_handshake(port: int, upgrade: bytes, connect: bytes) -> None:
    """One whole handshake on a blocking socket (see `handshakes`)."""
    with socket.create_connection((HOST, port), timeout=REPLY_TIMEOUT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(upgrade)
        buf = _recv_until(sock, b"", b"connect.challenge")
        sock.sendall(connect)
        _recv_until(sock, buf, b'"hello-ok"')
        sock.sendall(CLOSE_1000)
        sock.settimeout(CLOSE_TIMEOUT_S)
        while sock.recv(65_536):  # to the server's EOF, after its close frame
            pass


def _recv_until(sock: socket.socket, buf: bytes, marker: bytes) -> bytes:
    """Read until `marker` has arrived; what follows it. A keepalive ping is answered."""
    while (at := buf.find(marker)) < 0:
        data = sock.recv(65_536)
        if not data:
            raise BenchError(f"closed before {marker!r}")
        if PING in data:  # no 0x00 byte in JSON text: this is the server's empty ping
            sock.sendall(PONG * data.count(PING))
        buf = buf[-len(marker) :] + data
    return buf[at + len(marker) :]


def _sequential_calls(
    port: int, upgrade: bytes, connect: bytes, method: str, total: int, cap_s: float
) -> list[float]:
    """`total` calls one after the other on one blocking socket (see `requests`)."""
    lat: list[float] = []
    with socket.create_connection((HOST, port), timeout=REPLY_TIMEOUT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(upgrade)
        buf = _recv_until(sock, b"", b"connect.challenge")
        sock.sendall(connect)
        buf = _recv_until(sock, buf, b'"hello-ok"')
        deadline = time.perf_counter() + cap_s
        for n in range(total):
            rid = f"s{n}"
            request = {"type": "req", "id": rid, "method": method, "params": {}}
            frame = client_frame(json.dumps(request))
            marker = b'"id":"%s"' % rid.encode()
            if time.perf_counter() > deadline:
                break
            t = time.perf_counter()
            sock.sendall(frame)
            buf = _recv_until(sock, buf, marker)
            while len(buf) < len(OK):
                more = sock.recv(65_536)
                if not more:
                    raise BenchError(f"{method}: closed before its response")
                buf += more
            lat.append((time.perf_counter() - t) * 1000)
            if not buf.startswith(OK):
                raise BenchError(f"{method} failed: {buf[:300]!r}")
        sock.sendall(CLOSE_1000)
        sock.settimeout(CLOSE_TIMEOUT_S)
        while sock.recv(65_536):
            pass
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

    One connection (c=1, what a CLI or a script does) is driven from a blocking socket in a
    worker thread, as the handshakes: through this process's trio loop each round trip paid
    ~20-30 µs of client wake-ups, the same for every server, which pulled a fast server's rate
    towards a slow one's. More connections are trio tasks over raw sockets."""
    lat: list[float]
    if concurrency == 1:
        upgrade, connect = upgrade_request(port), client_frame(connect_frame(token))
        cpu0 = tree_cpu_s(pid) if pid is not None else None
        start = time.perf_counter()
        lat = await trio.to_thread.run_sync(
            _sequential_calls, port, upgrade, connect, method, total, cap_s
        )
        return _with_cpu(summary(lat, time.perf_counter() - start), pid, cpu0, len(lat))
    lat = []
    issued = 0
    with trio.fail_after(30):
        conns = [await open_listener(port, token) for _ in range(concurrency)]

    async def worker(listener: RawListener, wid: int) -> None:
        nonlocal issued
        n = 0
        while issued < total:
            issued += 1
            n += 1
            t = time.perf_counter()
            await call(listener, f"{wid}:{n}", method)
            lat.append((time.perf_counter() - t) * 1000)

    cpu0 = tree_cpu_s(pid) if pid is not None else None
    start = time.perf_counter()
    try:
        with trio.move_on_after(cap_s):
            async with trio.open_nursery() as workers:
                for wid, listener in enumerate(conns):
                    workers.start_soon(worker, listener, wid)
        elapsed = time.perf_counter() - start
        result = _with_cpu(summary(lat, elapsed), pid, cpu0, len(lat))
    finally:
        for listener in conns:
            await close(listener)
    return result
