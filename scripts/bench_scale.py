"""Scale scenarios of scripts/bench (issue 17): fan-out of one event to many listeners, and the
idle ladder (memory per held connection).

The listeners are raw sockets with a hand-made WebSocket client (an unmasked-by-zero-key text
frame out, a byte search for a per-round marker in): the client must cost far less per socket
than the servers it measures, and it is the same client for every server of a run.

- fan-out: N authenticated listeners; an admin client sends `system-event` with a unique text
  per round; every server answers it with a `presence` broadcast that carries the text. Per
  round: time from the send to the LAST listener's receipt; p50/p99 over the rounds, and the
  server's CPU (the process tree's utime+stime) per recipient.
- idle ladder: authenticated connections held open, RSS of the server's process tree read at
  each rung; KB per connection over the baseline, and whether every socket is still open.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
import trio.lowlevel
from bench_common import HOST, BenchError, connect_frame
from bench_reader import ReceiptReader, RoundReceipts, pongs_owed

HANDSHAKE_TIMEOUT_S = 20.0
ROUND_TIMEOUT_S = 20.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (the official runs more than one process)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                continue
    return out


def tree_rss_kb(pid: int) -> int:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def tree_cpu_s(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def client_frame(text: str) -> bytes:
    """A masked text frame with an all-zero mask key (the payload goes as it is)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x81, 0x80 | size))
    elif size < 65_536:
        head = bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class RawListener:
    """One authenticated WebSocket, read as a byte stream; pings are answered (an idle
    listener that never pongs is rightly dropped by a keepalive)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""
        self.open = True

    async def receive(self) -> bytes:
        """The next bytes from the server, its pings answered; b"" once it closed."""
        data = await self.stream.receive_some(65_536)
        if owed := pongs_owed(data):
            await self.stream.send_all(owed)
        return data

    async def read_until(self, marker: bytes) -> None:
        while marker not in self.buf:
            data = await self.receive()
            if not data:
                raise BenchError("listener closed by the server")
            self.buf = self.buf[-4096:] + data
        self.buf = self.buf[self.buf.index(marker) + len(marker) :]

    def drain_and_pong(self) -> None:
        """Without waiting: read what arrived, answer its pings, note an EOF."""
        import socket

        fd = self.stream.socket.fileno()
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as dup:
            while self.open:
                try:
                    data = dup.recv(65_536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return
                except OSError:
                    self.open = False
                    return
                if not data:
                    self.open = False
                    return
                if owed := pongs_owed(data):
                    dup.send(owed)


def upgrade_request(port: int) -> bytes:
    """The client's upgrade request, with a fresh Sec-WebSocket-Key."""
    key = base64.b64encode(os.urandom(16))
    return (
        b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (HOST.encode(), port, key)
    )


async def open_listener(
    port: int, token: str, scopes: Sequence[str] = ("operator.read",), caps: Sequence[str] = ()
) -> RawListener:
    stream = await trio.open_tcp_stream(HOST, port)
    await stream.send_all(upgrade_request(port))
    listener = RawListener(stream)
    await listener.read_until(b"\r\n\r\n")
    await listener.read_until(b"connect.challenge")
    await stream.send_all(client_frame(connect_frame(token, scopes, caps)))
    await listener.read_until(b'"hello-ok"')
    return listener


async def send_request(listener: RawListener, rid: str, method: str, params: Any) -> None:
    frame = {"type": "req", "id": rid, "method": method, "params": params}
    await listener.stream.send_all(client_frame(json.dumps(frame)))


async def send_timed(listener: RawListener, rid: str, method: str, params: Any) -> int:
    """Send a request; CLOCK_MONOTONIC (ns) right before its bytes went to the kernel. The
    frame is built first and written straight to the descriptor (a small frame always fits an
    idle socket's buffer): through trio's send_all after an idle gap, this process's own
    wake-up and framing had been ~0.13 ms of every round, for every server."""
    frame = {"type": "req", "id": rid, "method": method, "params": params}
    data = client_frame(json.dumps(frame))
    fd = listener.stream.socket.fileno()
    started = time.monotonic_ns()
    try:
        written = os.write(fd, data)
    except BlockingIOError:
        written = 0
    if written < len(data):
        await listener.stream.send_all(data[written:])
    return started


async def measure_fanout(
    port: int, token: str, pid: int | None, listeners: int, rounds: int, gap_s: float
) -> dict[str, Any]:
    held: list[RawListener] = []
    with trio.fail_after(HANDSHAKE_TIMEOUT_S + listeners / 10):
        for _ in range(listeners):
            held.append(await open_listener(port, token))
        trigger = await open_listener(port, token, ("operator.admin",))
    # Receipt times from one epoll thread (bench_reader): a trio task per listener here
    # measured this process's scheduler, not the gateway.
    rounds_seen = RoundReceipts(listeners, rounds)
    cpu0 = tree_cpu_s(pid) if pid else None
    try:
        fds = [listener.stream.socket.fileno() for listener in held]
        bufs = [lis.buf for lis in held]
        with ReceiptReader(fds, rounds_seen.pattern, rounds_seen.on_match, bufs):
            for r in range(rounds):
                # One presence row, replaced each round (one source's events, as a node's):
                # keyed by its text, every round would add a row and the frame would grow to
                # the 200-row table, the old markers in it costing the reader, not the server.
                source = f"bench-fanout-{rounds_seen.nonce}"
                event = {"text": rounds_seen.marker(r), "instanceId": source}
                started = await send_timed(trigger, f"f{r}", "system-event", event)
                await trio.to_thread.run_sync(
                    rounds_seen.finish, r, started, ROUND_TIMEOUT_S, "fan-out"
                )
                await trio.sleep(gap_s)
        cpu = (tree_cpu_s(pid) - cpu0) if pid and cpu0 is not None else None
    finally:
        for listener in [*held, trigger]:
            await trio.aclose_forcefully(listener.stream)
    return rounds_seen.summary(cpu)


async def measure_ladder(
    port: int, token: str, pid: int | None, rungs: Sequence[int]
) -> dict[str, Any]:
    if pid is None:
        return {"rungs": [], "note": "no process to read (a --compare URL)"}
    await trio.sleep(0.5)
    base_kb = tree_rss_kb(pid)
    held: list[RawListener] = []
    out = []
    try:
        for rung in sorted(rungs):
            with trio.fail_after(HANDSHAKE_TIMEOUT_S + rung / 10):
                while len(held) < rung:
                    held.append(await open_listener(port, token))
                    if len(held) % 100 == 0:  # pong well within a keepalive round
                        for h in held:
                            h.drain_and_pong()
            await trio.sleep(1.0)  # let allocations settle
            rss = tree_rss_kb(pid)
            for h in held:
                h.drain_and_pong()
            alive = sum(1 for h in held if h.open)
            out.append(
                {
                    "connections": rung,
                    "kb_per_connection": round((rss - base_kb) / rung, 1),
                    "still_open": alive,
                }
            )
    finally:
        for listener in held:
            await trio.aclose_forcefully(listener.stream)
    return {"baseline_mb": round(base_kb / 1024, 1), "rungs": out}


# --------------------------------------------------------------------------- targets and ratios


def start_official(base: Path, port: int, token: str) -> Any:
    """The official gateway from OPENCLAW_REFERENCE_BIN, throwaway HOME, its own session (so
    its whole process group is stopped by our pid)."""
    import subprocess

    ref = os.environ.get("OPENCLAW_REFERENCE_BIN")
    if not ref:
        raise BenchError(
            "--compare official needs OPENCLAW_REFERENCE_BIN (scripts/reference-openclaw)"
        )
    home = base / "home"
    (home / ".openclaw").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env |= {"HOME": str(home), "PATH": ref + os.pathsep + env.get("PATH", "")}
    argv = ["openclaw", "gateway", "run", "--port", str(port), "--bind", "loopback"]
    argv += ["--allow-unconfigured", "--token", token]
    with (base / "stdout.txt").open("wb") as out, (base / "stderr.txt").open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=base,
            start_new_session=True,
        )  # fmt: skip
    return proc, t0


def stop_group(proc: Any, timeout_s: float = 10.0) -> int:
    """SIGTERM to the process group we started (its leader is `proc`), then SIGKILL."""
    import signal
    import subprocess

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return int(proc.wait(timeout=timeout_s))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    code = int(proc.wait(timeout=timeout_s))
    try:  # children that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return code


IDLE_KB_TARGET = 12.0  # KB per idle connection over the baseline


def _rate(r: dict[str, Any] | None) -> float | None:
    return r.get("per_s") if r else None


def _cpu(r: dict[str, Any] | None) -> float | None:
    return r.get("server_cpu_us") if r else None


def scale_rows(res: dict[str, Any]) -> list[tuple[str, float | None, str, bool]]:
    """(label, value, unit, higher_is_better) for one target's results."""
    rows: list[tuple[str, float | None, str, bool]] = [
        ("handshakes/s, sequential", _rate(res.get("handshake")), "/s", True),
        ("health c=1", _rate(res.get("health_c1")), "/s", True),
        ("health c=10", _rate(res.get("health_c10")), "/s", True),
        ("system-presence c=1", _rate(res.get("system-presence_c1")), "/s", True),
        ("system-presence c=10", _rate(res.get("system-presence_c10")), "/s", True),
        ("status c=1", _rate(res.get("status_c1")), "/s", True),
        ("status c=10", _rate(res.get("status_c10")), "/s", True),
        # The server's own CPU per unit of work: independent of the client's speed.
        ("server CPU/handshake", _cpu(res.get("handshake")), "µs", False),
        ("server CPU/health (c=10)", _cpu(res.get("health_c10")), "µs", False),
        ("server CPU/system-presence (c=10)", _cpu(res.get("system-presence_c10")), "µs", False),
        ("server CPU/status (c=10)", _cpu(res.get("status_c10")), "µs", False),
    ]
    for f in res.get("fanout", []):
        n = f["listeners"]
        rows.append((f"fan-out {n}: last receipt p50", f["last_receipt_p50_ms"], "ms", False))
        rows.append((f"fan-out {n}: last receipt p99", f["last_receipt_p99_ms"], "ms", False))
        rows.append((f"fan-out {n}: server CPU/recipient", f["cpu_per_recipient_us"], "µs", False))
    for rung in (res.get("ladder") or {}).get("rungs", []):
        n = rung["connections"]
        rows.append((f"idle {n}: KB per connection", rung["kb_per_connection"], "KB", False))
        rows.append((f"idle {n}: still open", rung["still_open"], "", True))
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:g} {unit}".strip()


def render_compare(ours: dict[str, Any], floor: dict[str, Any] | None, other: dict[str, Any],
                   other_name: str) -> str:  # fmt: skip
    """One table; the ratio says how many times better ours is (>1 = ours ahead)."""
    theirs = {label: value for label, value, _u, _h in scale_rows(other)}
    floors = {label: value for label, value, _u, _h in scale_rows(floor)} if floor else {}
    header = (
        "figure (all up at once, 3 blocks)",
        "ours",
        other_name,
        "ours vs " + other_name,
        "floor",
    )
    rows = [header]
    for label, value, unit, higher in scale_rows(ours):
        them = theirs.get(label)
        ratio = ""
        if label.endswith("KB per connection"):
            # An absolute target (issue 17): the official's figure is its V8 heap's noise
            # (0.4-46 KB a connection between runs of one afternoon), not a ratio to read.
            if value is not None:
                verdict = "met" if value <= IDLE_KB_TARGET else "not met"
                ratio = f"target ≤ {IDLE_KB_TARGET:g} KB: {verdict}"
        elif value and them:
            times = value / them if higher else them / value
            ratio = f"{times:.2f} × {'ahead' if times >= 1 else 'behind'}"
        rows.append((label, _fmt(value, unit), _fmt(them, unit), ratio,
                     _fmt(floors.get(label), unit) if floor else ""))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
