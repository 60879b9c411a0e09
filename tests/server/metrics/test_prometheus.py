"""GET /api/diagnostics/prometheus parsed with prometheus_client's own parser: auth, and the
counters move with real traffic (RPCs, handshakes, events, an agent run)."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import TOKEN, RunningGateway, connected, raw_client
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent, chat_until_terminal, send_params

PATH = "/api/diagnostics/prometheus"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(gw: RunningGateway, token: str = TOKEN) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
        return await client.get(PATH, headers={"Authorization": f"Bearer {token}"})


async def samples(gw: RunningGateway) -> Samples:
    res = await scrape(gw)
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    out: Samples = {}
    for family in text_string_to_metric_families(res.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_auth(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        wrong = await scrape(gateway, "nope")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as client:
            anonymous = await client.get(PATH)
            post = await client.post(PATH, headers={"Authorization": f"Bearer {TOKEN}"})
    assert wrong.status_code == 401 and anonymous.status_code == 401
    assert wrong.json() == {"error": {"message": "Unauthorized", "type": "unauthorized"}}
    assert post.status_code == 405


async def test_counters_move_with_traffic(gateway: RunningGateway, tmp_path: Path) -> None:
    with trio.fail_after(20):
        before = await samples(gateway)
        async with connected(gateway.port) as client:
            assert (await client.call("health"))["ok"]
            assert not (await client.call("no.such.method"))["ok"]
            during = await samples(gateway)
        async with raw_client(gateway.port) as refused:
            assert not (await refused.connect(auth={"token": "wrong"}))["ok"]
        async with (
            operator_client(gateway.port, ["operator.admin"]) as op,
            approved_agent(gateway.url, op, tmp_path / "agent", lambda turn: "hi"),
        ):
            assert (await op.call("chat.send", send_params("hello", "run-m")))["ok"]
            await chat_until_terminal(op, "run-m")
            after = await samples(gateway)
    rpc = "openclaw_gateway_rpc_requests_total"
    assert (
        value(after, rpc, method="health", outcome="ok")
        == value(before, rpc, method="health", outcome="ok") + 1
    )
    assert value(after, rpc, method="unknown", outcome="error") >= 1  # never the client's name
    assert not any("no.such.method" in str(key) for key in after)
    assert value(after, "openclaw_gateway_rpc_handler_seconds_count", method="health") >= 1
    assert value(during, "openclaw_gateway_connections", role="operator") >= 1
    hs = "openclaw_gateway_handshakes_total"
    assert value(after, hs, outcome="ok", reason="") >= 3
    assert (
        sum(v for (n, labels), v in after.items() if n == hs and ("outcome", "failed") in labels)
        >= 1
    )
    runs = "openclaw_run_completed_total"
    assert value(after, runs, outcome="ok", trigger="chat") == 1
    assert value(after, "openclaw_run_duration_seconds_count", outcome="ok", trigger="chat") == 1
    assert value(after, "openclaw_gateway_events_total", event="chat") >= 1
    assert value(after, "openclaw_memory_bytes", kind="rss") > 1_000_000
    assert ("openclaw_gateway_event_loop_lag_seconds", ()) in after
    assert ("openclaw_gateway_outbox_bytes", ()) in after
    assert ("openclaw_gateway_events_dropped_total", ()) in after
    assert TOKEN not in (await scrape(gateway)).text
