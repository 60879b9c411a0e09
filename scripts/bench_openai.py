"""The openai scenario of scripts/bench: what `/v1/chat/completions` streaming adds to a turn.

One gateway subprocess (gateway.http.endpoints.chatCompletions on), the chat scenario's SDK
agent node subprocess (it answers at once and stamps CLOCK_MONOTONIC into its one chunk:
handler start, chunk sent), and in the bench process a minimal hand-written HTTP/1.1 client
(one connection per request, as the gateway closes after each response) sending N sequential
`stream: true` requests. Per request: time to the first content chunk (time-to-first-chunk),
that minus the agent's own time (the gateway's overhead: auth, body, prompt, run start,
agent.turn invoke, progress -> SSE), and time to `data: [DONE]`. The same turn over the
WebSocket (`chat.send` -> first `chat` delta) is measured beside it for comparison.

Every loop is bounded in count and time; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import trio
from bench_chat import ADMIN, AGENT_SCRIPT, timed_turn
from bench_common import (
    BenchError,
    approved_agent,
    handshake,
    ms,
    stats,
    stats_row,
    wait_ready,
    with_gateway,
    ws_open,
)

REQUEST_TIMEOUT_S = 10.0


@dataclasses.dataclass(frozen=True)
class OpenAiPlan:
    requests: int = 300
    cap_s: float = 20.0


def _request(port: int, token: str) -> bytes:
    body = json.dumps(
        {
            "model": "openclaw",
            "user": "bench",
            "stream": True,
            "messages": [{"role": "user", "content": "turn"}],
        }
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def one_stream(port: int, payload: bytes) -> tuple[int, int, int, int]:
    """(sent ns, first content chunk ns, [DONE] ns, agent's own ns) for one request."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        sent = time.monotonic_ns()
        await stream.send_all(payload)
        buffer = b""
        first_at = agent_ns = 0
        with trio.fail_after(REQUEST_TIMEOUT_S):
            while b"data: [DONE]" not in buffer:
                data = await stream.receive_some(65536)
                if not data:
                    raise BenchError(f"stream ended early: {buffer[-500:]!r}")
                now = time.monotonic_ns()
                buffer += data
                if not first_at and b'"content"' in buffer:
                    first_at = now
                    for line in buffer.split(b"\n\n"):
                        if b'"content"' in line:
                            delta = json.loads(line[6:])["choices"][0]["delta"]["content"]
                            start, chunk = (int(x) for x in delta.split(","))
                            agent_ns = chunk - start
                            break
            done_at = time.monotonic_ns()
    if not buffer.startswith(b"HTTP/1.1 200"):
        raise BenchError(f"unexpected answer: {buffer[:300]!r}")
    return sent, first_at, done_at, agent_ns


async def bench_streams(port: int, token: str, plan: OpenAiPlan) -> dict[str, Any]:
    payload = _request(port, token)
    first: list[float] = []
    overhead: list[float] = []
    done: list[float] = []
    await one_stream(port, payload)  # warm-up: the session row and the DB paths
    with trio.move_on_after(plan.cap_s):
        for _ in range(plan.requests):
            sent, first_at, done_at, agent_ns = await one_stream(port, payload)
            first.append(ms(first_at - sent))
            overhead.append(ms(first_at - sent - agent_ns))
            done.append(ms(done_at - sent))
    return {
        "to_first_chunk": stats(first),
        "overhead_to_first_chunk": stats(overhead),
        "to_done": stats(done),
    }


async def bench_ws_first_delta(admin: Any, turns: int, cap_s: float) -> dict[str, Any]:
    overhead: list[float] = []
    with trio.move_on_after(cap_s):
        for i in range(turns):
            sent, delta_at, _final_at, agent_ns = await timed_turn(admin, f"ws-{i}")
            overhead.append(ms(delta_at - sent - agent_ns))
    return stats(overhead)


async def run_openai(port: int, token: str, base: Path, plan: OpenAiPlan) -> dict[str, Any]:
    await wait_ready(port, token)
    async with ws_open(port) as admin:
        await handshake(admin, token, ADMIN)
        async with approved_agent(admin, AGENT_SCRIPT, port, token, base):
            res = await bench_streams(port, token, plan)
            res["ws_overhead_to_first_delta"] = await bench_ws_first_delta(
                admin, plan.requests, plan.cap_s
            )
            return res


def measure_openai(plan: OpenAiPlan) -> dict[str, Any]:
    def body(port: int, token: str, base: Path, _proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        return trio.run(run_openai, port, token, base, plan)

    endpoints = {"http": {"endpoints": {"chatCompletions": {"enabled": True}}}}
    return with_gateway("openai", body, endpoints)


def render_openai(res: dict[str, Any]) -> str:
    def row(label: str, s: dict[str, Any]) -> str:
        return stats_row(label, s, 52)

    return "\n".join(
        [
            "openai scenario (POST /v1/chat/completions stream:true, agent answers at once)",
            row("request -> first content chunk (TTFC)", res["to_first_chunk"]),
            row("  minus the agent's own time (gateway overhead)", res["overhead_to_first_chunk"]),
            row("request -> data: [DONE]", res["to_done"]),
            row(
                "same turn over WS: chat.send -> first delta overhead",
                res["ws_overhead_to_first_delta"],
            ),
            f"gateway exit code on SIGTERM: {res['exit_code']}",
        ]
    )
