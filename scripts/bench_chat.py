"""The chat scenario of scripts/bench: what the gateway adds to an agent turn.

One gateway subprocess, one SDK agent node subprocess (client.agent.AgentNode, approved by
the bench's admin operator) that answers at once, and in the bench process the operators:

- turns: one operator sends `chat.send`, N times in sequence; per turn the time to the first
  `chat` delta and to `final`, and the gateway's share of it: the end-to-end time minus the
  agent's own time (its handler stamps CLOCK_MONOTONIC, which every process on the machine
  shares, into its one chunk: handler start and chunk sent);
- fan-out: S operators with the `session-scoped-events` cap subscribed to the session
  (sessions.messages.subscribe) while the agent streams D timestamped chunks; per delta the
  time from the agent sending the chunk to the LAST subscriber receiving it. The subscribers
  are read by one epoll thread (bench_reader.ReceiptReader) that stamps the arrival of the
  bytes: a WebSocket library in this one process, then a trio task per subscriber, were the
  bottleneck (p99 41.8 ms, then 19.9 ms, against the same gateway).

Every loop is bounded in count and time; everything stays on 127.0.0.1. Run it through
scripts/bench (`--scenario chat`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import trio
from bench_common import (
    BenchError,
    approved_agent,
    handshake,
    ms,
    recv_json,
    request,
    stats,
    stats_row,
    wait_ready,
    with_gateway,
    ws_open,
)
from bench_reader import ReceiptReader
from bench_scale import RawListener, open_listener, send_request
from trio_websocket import WebSocketConnection

# A chat delta as the gateway encodes it (server/runs/frames.chat_delta); its deltaText is
# the chunks added since the previous delta, each "|<the agent's stamp>" (two chunks the
# gateway's pacing sent together are two stamps).
CHAT_DELTA = re.compile(
    rb'"event":"chat","payload":\{"runId":"[^"]*","sessionKey":"[^"]*","seq":\d+,'
    rb'"state":"delta","deltaText":"((?:\|\d+)+)"'
)

ADMIN = ("operator.admin",)
SESSION = "bench"
# The fan-out run has a session of its own: the sending operator (session-scoped, subscribed
# only to SESSION) does not receive its stream, so this process reads nothing but the
# subscribers while they are measured.
FANOUT_SESSION = "bench-fanout"
SCOPED = ("session-scoped-events",)
TURN_TIMEOUT_S = 10.0
TARGET = {"turn_overhead_p50_ms": 2.0, "fanout_p99_ms": 5.0}

AGENT_SCRIPT = """
import pathlib, sys, time, trio
from openclaw_gateway.client.agent import AgentNode
from openclaw_gateway.client.identity import IdentityStore

node = AgentNode(sys.argv[1], token=sys.argv[2], device_store=IdentityStore(pathlib.Path(sys.argv[3])),
                 display_name="bench-agent", reconnect=False)

@node.turn
async def reply(turn):
    if turn.message.startswith("fanout:"):
        count, gap = turn.message.split(":")[1:]
        for _ in range(int(count)):
            yield f"|{time.monotonic_ns()}"
            await trio.sleep(float(gap))
        return
    start = time.monotonic_ns()
    yield f"{start},{time.monotonic_ns()}"

trio.run(node.serve)
"""


@dataclasses.dataclass(frozen=True)
class ChatPlan:
    turns: int = 500
    subscribers: int = 100
    deltas: int = 100
    # Between the agent's fan-out chunks: over the gateway's 75 ms pacing of streamed text
    # (server/runs/live_text.py), so each chunk is sent at once and on its own: its latency is
    # the fan-out's, not the pacing's nor a queue behind the previous one.
    gap_s: float = 0.1
    cap_s: float = 20.0
    profile: Path | None = None  # py-spy raw samples of the gateway, for `flamegraph.pl`


async def send_turn(
    ws: WebSocketConnection,
    rid: str,
    message: str,
    seen: list[tuple[int, dict[str, Any]]],
    session: str = SESSION,
) -> int:
    """chat.send; returns the monotonic ns just before sending. `chat` events of this run
    that arrive meanwhile are kept in `seen` as (receive ns, payload)."""
    params = {"sessionKey": session, "message": message, "idempotencyKey": rid}
    sent = time.monotonic_ns()
    await ws.send_message(
        json.dumps({"type": "req", "id": rid, "method": "chat.send", "params": params})
    )
    while True:
        frame = await recv_json(ws)
        now = time.monotonic_ns()
        if frame.get("type") == "res" and frame.get("id") == rid:
            if not frame.get("ok"):
                raise BenchError(f"chat.send failed: {frame.get('error')!r}")
            return sent
        if frame.get("event") == "chat" and frame["payload"].get("runId") == rid:
            seen.append((now, frame["payload"]))


async def until_final(
    ws: WebSocketConnection,
    rid: str,
    seen: list[tuple[int, dict[str, Any]]],
    timeout_s: float = TURN_TIMEOUT_S,
) -> list[tuple[int, dict[str, Any]]]:
    with trio.fail_after(timeout_s):
        while not seen or seen[-1][1]["state"] == "delta":
            frame = await recv_json(ws)
            now = time.monotonic_ns()
            if frame.get("event") == "chat" and frame["payload"].get("runId") == rid:
                seen.append((now, frame["payload"]))
    if seen[-1][1]["state"] != "final":
        raise BenchError(f"turn {rid} ended {seen[-1][1]!r}")
    return seen


async def timed_turn(ws: WebSocketConnection, rid: str) -> tuple[int, int, int, int]:
    """One `turn` to the agent that answers at once: monotonic ns of (sent, first delta,
    final) and the agent handler's own ns until its chunk left (stamped in the chunk)."""
    seen: list[tuple[int, dict[str, Any]]] = []
    sent = await send_turn(ws, rid, "turn", seen)
    events = await until_final(ws, rid, seen)
    delta_at, delta = next((t, p) for t, p in events if p["state"] == "delta")
    start, chunk = (int(x) for x in delta["deltaText"].split(","))
    return sent, delta_at, events[-1][0], chunk - start


async def bench_turns(ws: WebSocketConnection, turns: int, cap_s: float) -> dict[str, Any]:
    first: list[float] = []
    final: list[float] = []
    overhead_first: list[float] = []
    overhead_final: list[float] = []
    with trio.move_on_after(cap_s):
        for i in range(turns):
            sent, delta_at, final_at, agent_ns = await timed_turn(ws, f"turn-{i}")
            first.append(ms(delta_at - sent))
            final.append(ms(final_at - sent))
            overhead_first.append(ms(delta_at - sent - agent_ns))
            overhead_final.append(ms(final_at - sent - agent_ns))
    return {
        "to_first_delta": stats(first),
        "to_final": stats(final),
        "overhead_to_first_delta": stats(overhead_first),
        "overhead_to_final": stats(overhead_final),
    }


async def bench_fanout(
    port: int, token: str, sender: WebSocketConnection, plan: ChatPlan, gateway_pid: int
) -> dict[str, Any]:
    subscribers, deltas, gap = plan.subscribers, plan.deltas, plan.gap_s
    arrivals: dict[int, list[int]] = {}  # chunk sent ns -> receive ns at each subscriber
    received = [0]
    all_arrived = threading.Event()

    def on_delta(stamps: bytes, _index: int, now: int) -> None:  # in the reader thread
        for stamp in stamps.split(b"|")[1:]:
            arrivals.setdefault(int(stamp), []).append(now)
            received[0] += 1
        if received[0] == subscribers * deltas:
            all_arrived.set()

    listeners: list[RawListener] = []
    try:
        with trio.fail_after(30):  # one at a time: the gateway bounds unauthenticated sockets
            for _ in range(subscribers):
                listener = await open_listener(port, token, ("operator.read",), SCOPED)
                listeners.append(listener)
                params = {"key": FANOUT_SESSION}
                await send_request(listener, "sub", "sessions.messages.subscribe", params)
                await listener.read_until(b'"id":"sub"')
        # From here one thread reads every subscriber (bench_reader: trio tasks reading 100
        # sockets in this process were the figure, not the gateway).
        fds = [listener.stream.socket.fileno() for listener in listeners]
        with ReceiptReader(fds, CHAT_DELTA, on_delta, [lis.buf for lis in listeners]) as reader:
            cpu = cpu_seconds(gateway_pid)
            seen: list[tuple[int, dict[str, Any]]] = []
            await send_turn(sender, "fanout", f"fanout:{deltas}:{gap}", seen, FANOUT_SESSION)
            # Every delta reaches every subscriber (bounded).
            await trio.to_thread.run_sync(all_arrived.wait, TURN_TIMEOUT_S + deltas * gap)
            cpu = cpu_seconds(gateway_pid) - cpu
        if reader.closed:
            raise BenchError(f"the gateway closed {reader.closed} subscribers during the fan-out")
    finally:
        for listener in listeners:
            await trio.aclose_forcefully(listener.stream)
    whole = {stamp: v for stamp, v in arrivals.items() if len(v) == subscribers}
    complete = [ms(max(v) - stamp) for stamp, v in whole.items()]
    # The first subscriber's time is the agent's send and the gateway's receive; the rest of
    # the last one's is the fan-out itself.
    first = [ms(min(v) - stamp) for stamp, v in whole.items()]
    return {
        "subscribers": subscribers,
        "deltas_sent": deltas,
        "deltas_reaching_all": len(complete),
        "chunk_gap_s": gap,
        "gateway_cpu_per_delta_ms": round(1000 * cpu / max(1, deltas), 3),
        "to_last_subscriber": stats(complete),
        "to_first_subscriber": stats(first),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time of all of a process's threads so far, in ns resolution (Linux schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a worker thread that just ended
    return total / 1e9


async def run_chat(
    port: int, token: str, base: Path, plan: ChatPlan, gateway_pid: int
) -> dict[str, Any]:
    await wait_ready(port, token)
    async with ws_open(port) as admin:
        await handshake(admin, token, ADMIN, SCOPED)
        await request(admin, "sub-turns", "sessions.messages.subscribe", {"key": SESSION})
        async with approved_agent(admin, AGENT_SCRIPT, port, token, base):
            seen: list[tuple[int, dict[str, Any]]] = []
            await send_turn(admin, "warm-up", "turn", seen)  # the first turn opens the DB paths
            await until_final(admin, "warm-up", seen)
            cpu = cpu_seconds(gateway_pid)
            res = {"turns": await bench_turns(admin, plan.turns, plan.cap_s)}
            per_turn = (cpu_seconds(gateway_pid) - cpu) / max(1, res["turns"]["to_final"]["count"])
            res["turns"]["gateway_cpu_per_turn_ms"] = round(1000 * per_turn, 3)
            res["fanout"] = await bench_fanout(port, token, admin, plan, gateway_pid)
            return res


def measure_chat(plan: ChatPlan) -> dict[str, Any]:
    """Start a gateway, measure, stop it (also when the measuring fails)."""

    def body(port: int, token: str, base: Path, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        spy = profile_gateway(proc.pid, plan.profile) if plan.profile else None
        try:
            return trio.run(run_chat, port, token, base, plan, proc.pid)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its samples when interrupted
                spy.wait(timeout=30)

    return with_gateway("chat", body)


def profile_gateway(pid: int, out: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        raise BenchError(f"--profile needs py-spy next to {sys.executable} (pip install py-spy)")
    argv = [str(exe), "record", "-p", str(pid), "-o", str(out), "-f", "raw", "-r", "500"]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def render_chat(res: dict[str, Any]) -> str:
    t, f = res["turns"], res["fanout"]

    def row(label: str, s: dict[str, Any], target: str = "") -> str:
        return f"{stats_row(label, s, 44)} {target}"

    lines = [
        "chat scenario (agent node answers at once; times from chat.send, bench process clock)",
        row("chat.send -> first chat delta", t["to_first_delta"]),
        row("chat.send -> chat final", t["to_final"]),
        row("  minus the agent's own time, to first delta", t["overhead_to_first_delta"]),
        row(
            "  minus the agent's own time, to final",
            t["overhead_to_final"],
            f"target p50 <= {TARGET['turn_overhead_p50_ms']} ms",
        ),
        row(f"delta -> first of {f['subscribers']} subscribers", f["to_first_subscriber"]),
        row(
            f"delta -> last of {f['subscribers']} subscribers",
            f["to_last_subscriber"],
            f"target p99 <= {TARGET['fanout_p99_ms']} ms",
        ),
        f"gateway CPU: {t['gateway_cpu_per_turn_ms']} ms per turn, "
        f"{f['gateway_cpu_per_delta_ms']} ms per delta to {f['subscribers']} subscribers "
        "(CPU time of the gateway process over the phase, divided)",
        f"deltas reaching every subscriber: {f['deltas_reaching_all']}/{f['deltas_sent']}; "
        f"gateway exit code on SIGTERM: {res['exit_code']}",
    ]
    return "\n".join(lines)
