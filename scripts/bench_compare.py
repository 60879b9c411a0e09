"""The scale scenario against every target at once, interleaved (issue 17).

Run one target after the other and the machine's state moves between them: on this 2-core VM
the official's handshake rate moved 459 -> 737/s between runs and ours 1264 -> 1918/s, so a
ratio from one run said as much about the minute it ran in as about the servers. Here every
target (ours, the floor server, the other gateway) is started and ready first, then each
phase runs in REPEATS blocks, in turn against each target (the order rotated per block), so a
slow minute lands on all of them. A rate row reports the median of its blocks; a fan-out row
pools every round of every block into one p50/p99. The idle ladder runs once per target, last
(it holds 10 000 sockets).
"""

from __future__ import annotations

import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import bench_rates
import trio
from bench_common import BenchError, free_port, percentile
from bench_scale import measure_fanout, measure_ladder

REPEATS = 3  # blocks per phase and target
READY_S = 180.0  # the official takes ~16 s to its first hello-ok on a quiet machine

Starter = Callable[[Path, int, str], tuple[Any, float]]
Stopper = Callable[[Any], int]
WaitReady = Callable[[int, str, float, Callable[[], bool], float], Awaitable[Any]]


@dataclass
class Target:
    name: str
    port: int
    token: str
    proc: Any = None  # None: a gateway someone else runs (a --compare URL)
    stop: Stopper | None = None
    base: Path | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def tails(self) -> str:
        if self.base is None:
            return ""
        out = []
        for name in ("stdout.txt", "stderr.txt"):
            path = self.base / name
            if path.exists():
                out.append(
                    f"--- {self.name} {name} ---\n{path.read_text(errors='replace')[-2000:]}"
                )
        return "\n".join(out)


@contextlib.contextmanager
def started(plan: Sequence[tuple[str, Starter, Stopper]], urls: Sequence[tuple[str, int, str]]
            ) -> Iterator[list[Target]]:  # fmt: skip
    """Every planned target started in its own temp dir (and stopped after, exit code kept in
    its result), plus the gateways given by URL (name, port, token)."""
    targets: list[Target] = []
    with contextlib.ExitStack() as stack:
        for name, start, stop in plan:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{name}-")))
            token, port = secrets.token_hex(16), free_port()
            proc, _t0 = start(base, port, token)
            target = Target(name, port, token, proc, stop, base)
            targets.append(target)
            stack.callback(_stop, target)
        targets += [Target(name, port, token) for name, port, token in urls]
        yield targets


def _stop(target: Target) -> None:
    if target.proc is not None and target.stop is not None:
        target.result["exit_code"] = target.stop(target.proc)


def _share(total: int, block: int) -> int:
    """Block `block`'s part of `total` (the parts add up to it; a part may be 0)."""
    return total // REPEATS + (1 if block < total % REPEATS else 0)


Run = Callable[[Target, int], Awaitable[Any]]  # (target, this block's count) -> result


def _phases(args: Any) -> list[tuple[str, int, Run]]:
    """(name, the row's whole count, run): each block runs its share of the count."""
    out: list[tuple[str, int, Run]] = [
        ("handshake", args.handshakes, partial(_handshakes, args.time_cap))
    ]
    for method in ("health", "system-presence", "status"):
        for conc in (1, 10):
            run = partial(_requests, method, conc, args.time_cap)
            out.append((f"{method}_c{conc}", args.requests, run))
    for n in args.fanout:
        out.append((f"fanout_{n}", args.fanout_rounds, partial(_fanout, n, args.delta_gap)))
    return out


async def _handshakes(cap: float, t: Target, count: int) -> Any:
    return await bench_rates.handshakes(t.port, t.token, count, cap, t.pid)


async def _requests(method: str, conc: int, cap: float, t: Target, count: int) -> Any:
    return await bench_rates.requests(t.port, t.token, method, conc, count, cap, t.pid)


async def _fanout(n: int, gap: float, t: Target, rounds: int) -> Any:
    return await measure_fanout(t.port, t.token, t.pid, n, rounds, gap)


async def run_interleaved(args: Any, targets: list[Target], wait_ready: WaitReady) -> None:
    for t in targets:
        await wait_ready(t.port, t.token, time.perf_counter(), t.alive, READY_S)
    await trio.sleep(args.settle)
    blocks: dict[str, dict[str, list[Any]]] = {t.name: {} for t in targets}
    for phase, total, run in _phases(args):
        for block in range(REPEATS):
            count = _share(total, block)
            if not count:
                continue
            shift = block % len(targets)
            for t in targets[shift:] + targets[:shift]:
                try:
                    blocks[t.name].setdefault(phase, []).append(await run(t, count))
                except Exception as exc:  # one failure must not lose the whole table
                    t.result.setdefault("errors", {})[phase] = repr(exc)[:300]
                if not t.alive():
                    raise BenchError(f"{t.name} exited during {phase}\n{t.tails()}")
    for t in targets:
        res = t.result
        for phase, results in blocks[t.name].items():
            if phase.startswith("fanout_"):
                res.setdefault("fanout", []).append(_pooled(results))
            else:
                res[phase] = _median(results)
        res["blocks"] = REPEATS
    for t in targets:  # last: it holds up to 10 000 sockets on one target at a time
        try:
            t.result["ladder"] = await measure_ladder(t.port, t.token, t.pid, args.ladder)
        except Exception as exc:
            t.result.setdefault("errors", {})["ladder"] = repr(exc)[:300]


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A rate row: the median block for each figure (and every block's rate, to see spread)."""
    out: dict[str, Any] = {"count": sum(r["count"] for r in results)}
    for key in ("per_s", "p50_ms", "p99_ms", "server_cpu_us"):
        values = [r[key] for r in results if r.get(key) is not None]
        if values:
            out[key] = round(statistics.median(values), 3)
    out["per_s_blocks"] = [r.get("per_s") for r in results]
    return out


def _pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A fan-out row: every round of every block in one distribution."""
    last = [ms for r in results for ms in r["last_receipt_ms"]]
    cpus = [r["cpu_per_recipient_us"] for r in results if r.get("cpu_per_recipient_us")]
    return {
        "listeners": results[0]["listeners"],
        "rounds": len(last),
        "last_receipt_p50_ms": round(percentile(last, 50), 2),
        "last_receipt_p99_ms": round(percentile(last, 99), 2),
        "cpu_per_recipient_us": round(statistics.median(cpus), 1) if cpus else None,
    }


def measure_all(args: Any, plan: Sequence[tuple[str, Starter, Stopper]],
                urls: Sequence[tuple[str, int, str]], wait_ready: WaitReady
                ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Start every target, run the interleaved phases, stop them; results by target name."""
    with started(plan, urls) as targets:
        try:
            trio.run(run_interleaved, args, targets, wait_ready)
        except (BenchError, trio.TooSlowError, OSError) as exc:
            tails = "\n".join(t.tails() for t in targets)
            raise BenchError(f"{exc!r}\n{tails}") from exc
    return {t.name: t.result for t in targets}
