"""What the bench scenarios share: the gateway subprocess (bench_procs, which the tests share
too), a minimal hand-written protocol client, and the statistics. Imported by scripts/bench
and scripts/bench_*.py (the script's own folder is first on sys.path)."""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from bench_procs import HOST, spawn_gateway, stop
from bench_procs import free_port as free_port  # re-exported for the scenarios
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket

READY_TIMEOUT_S = 30.0
FRAME_TIMEOUT_S = 10.0
APPROVE_TIMEOUT_S = 20.0
AGENT_STOP_TIMEOUT_S = 10.0


class BenchError(Exception):
    pass


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[k]


def ms(ns: float) -> float:
    return ns / 1e6


def stats(values: list[float]) -> dict[str, Any]:
    """count, p50, p99 and max of latencies in ms."""
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 3),
        "p99_ms": round(percentile(values, 99), 3),
        "max_ms": round(max(values), 3) if values else None,
    }


def stats_row(label: str, s: dict[str, Any], width: int) -> str:
    """One line of a scenario's text report: `label  p50 … ms  p99 … ms  (n=…)`."""
    return (
        f"{label:<{width}} p50 {s['p50_ms']:7.3f} ms  p99 {s['p99_ms']:7.3f} ms  (n={s['count']})"
    )


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


# A scenario body: (port, token, base dir, gateway process) -> its results; runs in trio.run.
Body = Callable[[int, str, Path, "subprocess.Popen[bytes]"], dict[str, Any]]


def with_gateway(
    name: str, body: Body, gateway_config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Start a gateway in a fresh temp dir, run `body`, stop the gateway (also when `body`
    fails: BenchError then carries the tails of the gateway's stderr and `agent.log`)."""
    token = secrets.token_hex(16)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"openclaw-bench-{name}-") as tmp:
        base = Path(tmp)
        proc, _t0 = start_gateway(base, port, token, gateway_config)
        code: int | None = None
        try:
            res = body(port, token, base, proc)
        except Exception as exc:
            code = stop_gateway(proc)
            logs = [base / "stderr.txt", base / "agent.log"]
            tails = [f.read_text(errors="replace")[-2000:] for f in logs if f.exists()]
            raise BenchError(f"{name}: {exc!r} (exit {code})\n" + "\n---\n".join(tails)) from exc
        finally:
            if code is None:
                code = stop_gateway(proc)
        res["exit_code"] = code
    return res


async def wait_ready(port: int, token: str) -> None:
    """Until a full handshake succeeds (bounded by READY_TIMEOUT_S)."""
    with trio.fail_after(READY_TIMEOUT_S):
        while True:
            try:
                async with ws_open(port) as ws:
                    await handshake(ws, token)
                return
            except (OSError, HandshakeError, ConnectionClosed):
                await trio.sleep(0.05)


async def approve_agent(admin: WebSocketConnection) -> None:
    """Wait (bounded) for the agent node's pairing request and approve it."""
    with trio.fail_after(APPROVE_TIMEOUT_S):
        while True:
            frame = await recv_json(admin)
            if frame.get("event") == "node.pair.requested":
                request_id = frame["payload"]["requestId"]
                await request(admin, "approve", "node.pair.approve", {"requestId": request_id})
                return


@asynccontextmanager
async def approved_agent(
    admin: WebSocketConnection, script: str, port: int, token: str, base: Path
) -> AsyncIterator[trio.Process]:
    """The agent node `script` (argv: url, token, identity dir; output in `agent.log`) as a
    subprocess, approved by `admin`; terminated (bounded, then killed) on the way out."""
    path = base / "agent.py"
    path.write_text(script, encoding="utf-8")
    argv = [sys.executable, str(path), f"ws://{HOST}:{port}", token, str(base / "id")]
    with (base / "agent.log").open("wb") as log:
        agent = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        await approve_agent(admin)
        yield agent
    finally:
        agent.terminate()
        with trio.move_on_after(AGENT_STOP_TIMEOUT_S) as waited:
            await agent.wait()
        if waited.cancelled_caught:
            agent.kill()
            await agent.wait()
