"""The rate rows of scripts/bench (handshakes, `health`, `system-presence`, `status`), measured
with the raw client of bench_scale: WebSocket by hand on trio sockets, a byte search for the
response's id.

Why not trio-websocket here (it was the rate client until issue 17's figures were taken on a
faster machine): at c=10 the floor server, ours and the official all landed at 11-14k req/s,
which was this process's CPU (a reader task, wsproto framing and `json.loads` of every frame),
not theirs. The raw client costs a fraction of that per request, the same for every server of
a run, so the ratios are the servers'.

With the server's process id, each row also says the server's CPU (its process tree's
utime+stime) per handshake or request: that ratio does not depend on how fast the client is.

A request: one masked text frame out; in, bytes up to `"id":"<rid>"` and the `"ok"` that
follows it (pings answered on the way). A handshake: TCP connect, upgrade, challenge, connect,
hello-ok, then the close handshake to EOF — what a one-shot CLI call does. Every wait is
bounded.
"""

from __future__ import annotations

import json
import struct
import time
from typing import Any

import trio
from bench_common import BenchError, summary
from bench_scale import RawListener, client_frame, open_listener, tree_cpu_s

REPLY_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
CLOSE_1000 = bytes((0x88, 0x82)) + b"\0\0\0\0" + struct.pack("!H", 1000)  # masked, zero key


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
    if not listener.buf.startswith(b',"ok":true'):
        raise BenchError(f"{method} failed: {listener.buf[:300]!r}")


def _with_cpu(
    result: dict[str, Any], pid: int | None, cpu0: float | None, count: int
) -> dict[str, Any]:
    if pid is not None and cpu0 is not None and count:
        result["server_cpu_us"] = round((tree_cpu_s(pid) - cpu0) / count * 1e6, 1)
    return result


async def handshakes(
    port: int, token: str, count: int, cap_s: float, pid: int | None = None
) -> dict[str, Any]:
    lat: list[float] = []
    cpu0 = tree_cpu_s(pid) if pid is not None else None
    start = time.perf_counter()
    with trio.move_on_after(cap_s):
        for _ in range(count):
            t = time.perf_counter()
            await close(await open_listener(port, token))
            lat.append((time.perf_counter() - t) * 1000)
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
    """`total` calls of `method` from `concurrency` connections opened first (not timed)."""
    lat: list[float] = []
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
