"""What the bench scenarios share: the gateway subprocess (bench_procs, which the tests share
too), a minimal hand-written protocol client, and the statistics. Imported by scripts/bench
and scripts/bench_*.py (the script's own folder is first on sys.path)."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
from bench_procs import HOST, spawn_gateway, stop
from bench_procs import free_port as free_port  # re-exported for the scenarios
from trio_websocket import WebSocketConnection, open_websocket

READY_TIMEOUT_S = 30.0
FRAME_TIMEOUT_S = 10.0


class BenchError(Exception):
    pass


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[k]


def read_rss_mb(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def connect_frame(
    token: str, scopes: Sequence[str] = ("operator.read",), caps: Sequence[str] = ()
) -> str:
    return json.dumps(
        {
            "type": "req",
            "id": "1",
            "method": "connect",
            "params": {
                "minProtocol": 4,
                "maxProtocol": 4,
                "client": {
                    "id": "gateway-client",
                    "version": "bench",
                    "platform": "linux",
                    "mode": "backend",
                },
                "role": "operator",
                "scopes": list(scopes),
                "caps": list(caps),
                "auth": {"token": token},
            },
        }
    )


async def recv_json(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(FRAME_TIMEOUT_S):
        value = json.loads(await ws.get_message())
    if not isinstance(value, dict):
        raise BenchError(f"non-object frame: {value!r}")
    return value


async def handshake(
    ws: WebSocketConnection,
    token: str,
    scopes: Sequence[str] = ("operator.read",),
    caps: Sequence[str] = (),
) -> dict[str, Any]:
    """challenge -> connect -> hello-ok; returns the hello-ok payload."""
    first = await recv_json(ws)
    if first.get("event") != "connect.challenge":
        raise BenchError(f"expected connect.challenge, got {first!r}")
    await ws.send_message(connect_frame(token, scopes, caps))
    for _ in range(100):  # skip any event that might precede the response
        frame = await recv_json(ws)
        if frame.get("type") == "res" and frame.get("id") == "1":
            if not frame.get("ok"):
                raise BenchError(f"connect refused: {frame.get('error')!r}")
            payload: dict[str, Any] = frame["payload"]
            return payload
    raise BenchError("no connect response within 100 frames")


async def request(
    ws: WebSocketConnection, rid: str, method: str, params: dict[str, Any] | None = None
) -> Any:
    """Send one request and return its payload; events in between are skipped (bounded)."""
    frame_out = {"type": "req", "id": rid, "method": method, "params": params or {}}
    await ws.send_message(json.dumps(frame_out))
    for _ in range(1000):  # events (tick, presence) may interleave; bounded
        frame = await recv_json(ws)
        if frame.get("type") == "res" and frame.get("id") == rid:
            if not frame.get("ok"):
                raise BenchError(f"{method} failed: {frame.get('error')!r}")
            return frame.get("payload")
    raise BenchError(f"no response to {method} within 1000 frames")


def ws_open(port: int) -> Any:
    return open_websocket(HOST, port, "/", use_ssl=False, connect_timeout=20, disconnect_timeout=5)


def summary(lat: list[float], elapsed: float) -> dict[str, Any]:
    return {
        "count": len(lat),
        "seconds": round(elapsed, 3),
        "per_s": round(len(lat) / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": round(percentile(lat, 50), 3),
        "p99_ms": round(percentile(lat, 99), 3),
    }


def start_gateway(
    base: Path, port: int, token: str, gateway_config: dict[str, Any] | None = None
) -> tuple[subprocess.Popen[bytes], float]:
    """Our gateway (token auth, `gateway_config` merged in); (process, perf_counter at start)."""
    config = {
        "gateway": {"mode": "local", **(gateway_config or {})},
        "logging": {"file": str(base / "gateway-file.log")},
    }
    args = ["--allow-unconfigured", "--token", token]
    spawned = spawn_gateway(base, port, config, args)
    return spawned.proc, spawned.started


stop_gateway = stop  # SIGTERM, bounded wait, SIGKILL; the exit code
