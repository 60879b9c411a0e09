"""scripts/bench as a tiny smoke: every scenario runs end to end (a real gateway process, a
real SDK agent node process, real sockets on 127.0.0.1) and reports figures that add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "scripts" / "bench"
TIMEOUT_S = 120


def test_bench_smoke_all_scenarios() -> None:
    argv = [
        sys.executable, str(BENCH), "--json", "--scenario", "all", "--no-floor",
        "--handshakes", "3", "--requests", "5", "--settle", "0", "--time-cap", "10",
        "--turns", "3", "--subscribers", "3", "--deltas", "3", "--delta-gap", "0.1",
        "--openai-requests", "3",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    out = json.loads(done.stdout)
    base = out["gateway"]
    assert base["exit_code"] == 0
    assert base["handshake"]["count"] == 3
    assert base["health_c1"]["count"] == 5
    chat = out["chat"]
    assert chat["exit_code"] == 0
    turns = chat["turns"]
    for phase in ("to_first_delta", "to_final", "overhead_to_final"):
        assert turns[phase]["count"] == 3, phase
    assert 0 < turns["to_first_delta"]["p50_ms"] <= turns["to_final"]["p50_ms"]
    assert turns["gateway_cpu_per_turn_ms"] > 0
    fanout = chat["fanout"]
    assert (fanout["subscribers"], fanout["deltas_sent"], fanout["deltas_reaching_all"]) == (
        3,
        3,
        3,
    )
    assert fanout["to_last_subscriber"]["count"] == 3
    openai = out["openai"]
    assert openai["exit_code"] == 0
    assert openai["to_first_chunk"]["count"] == 3
    assert 0 < openai["overhead_to_first_chunk"]["p50_ms"] <= openai["to_first_chunk"]["p50_ms"]
    assert openai["to_first_chunk"]["p50_ms"] <= openai["to_done"]["p50_ms"]


def test_bench_smoke_scale_scenario() -> None:
    """Fan-out and the idle ladder, tiny: every listener got every round, every socket held."""
    argv = [
        sys.executable, str(BENCH), "--json", "--scenario", "scale", "--no-floor",
        "--handshakes", "3", "--requests", "5", "--settle", "0", "--time-cap", "10",
        "--fanout", "3", "--fanout-rounds", "2", "--ladder", "4", "--delta-gap", "0.01",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    out = json.loads(done.stdout)
    ours = out["gateway"]
    assert "errors" not in ours, ours["errors"]
    assert ours["exit_code"] == 0
    (kernel,) = out["kernel_fanout"]  # the bare-write floor of the same rounds
    assert (kernel["listeners"], kernel["rounds"]) == (3, 2)
    assert 0 < kernel["last_receipt_p50_ms"] <= kernel["last_receipt_p99_ms"]
    (fanout,) = ours["fanout"]
    assert (fanout["listeners"], fanout["rounds"]) == (3, 2)
    assert 0 < fanout["last_receipt_p50_ms"] <= fanout["last_receipt_p99_ms"]
    (rung,) = ours["ladder"]["rungs"]
    assert (rung["connections"], rung["still_open"]) == (4, 4)
