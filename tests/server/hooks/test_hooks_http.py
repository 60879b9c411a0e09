"""Hooks with plain HTTP requests (httpx, as curl would send them) against a real gateway with
a real SDK agent node: wake into the main session, agent runs (wait, replay), mappings, and
every refusal (401, 400 query token, 405, 413, 429, policy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from openclaw_gateway.client.agent import Turn
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.server.hooks.config import load_hooks
from tests.helpers import TOKEN, RunningGateway, start_gateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent

HOOK_TOKEN = "hook-secret-0123456789"
RAW = {
    "hooks": {
        "enabled": True,
        "token": HOOK_TOKEN,
        "allowRequestSessionKey": True,
        "mappings": [
            {"match": {"path": "build"}, "action": "wake", "textTemplate": "build {{status}}"},
            {
                "match": {"path": "github", "source": "gh"},
                "messageTemplate": "PR {{pull.number}}: {{pull.title}} ({{headers.x-event}})",
                "deliver": False,
            },
        ],
    }
}


class Agent:
    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.turned = trio.Event()
        self.messages_tx, self.messages = trio.open_memory_channel[str](100)

    async def __call__(self, turn: Turn) -> str:
        self.turns.append(turn)
        self.turned.set()
        self.messages_tx.send_nowait(turn.message)
        return f"done: {turn.message}"


@pytest.fixture
async def hooked(
    nursery: trio.Nursery, tmp_path: Path
) -> AsyncIterator[tuple[RunningGateway, Agent, Any]]:
    hooks = load_hooks(RAW, (TOKEN, None))
    gw = await start_gateway(nursery, tmp_path, hooks=hooks)
    agent = Agent()
    async with (
        operator_client(gw.port, ["operator.admin"]) as op,
        approved_agent(gw.url, op, tmp_path / "agent", agent),
    ):
        yield gw, agent, op
    gw.settings.logger.close()


def client(gw: RunningGateway, token: str | None = HOOK_TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", headers=headers)


async def test_wake_lands_in_the_main_session_and_wakes_the_agent(
    hooked: tuple[RunningGateway, Agent, Any],
) -> None:
    gw, agent, op = hooked
    with trio.fail_after(20):
        async with client(gw) as c:
            res = await c.post("/hooks/wake", json={"text": "deploy finished", "mode": "now"})
        assert res.status_code == 200
        assert res.json() == {"ok": True, "mode": "now", "eventOutcome": "queued"}
        await agent.turned.wait()
        history = await op.call("chat.history", {"sessionKey": "main"})
    assert agent.turns[0].session_key == "agent:main:main"
    texts = [m["content"][0]["text"] for m in history["payload"]["messages"]]
    assert "deploy finished" in texts


async def test_agent_run_with_wait(hooked: tuple[RunningGateway, Agent, Any]) -> None:
    gw, agent, op = hooked
    with trio.fail_after(20):
        async with client(gw) as c:
            res = await c.post(
                "/hooks/agent",
                json={"message": "summarize", "waitForCompletion": True, "deliver": False},
            )
        body = res.json()
        assert res.status_code == 200, body
        assert body["ok"] is True and body["runId"].startswith("hook_")
        assert body["completion"] == {"status": "ok", "replyDisposition": "visible"}
        key = agent.turns[0].session_key
        history = await op.call("chat.history", {"sessionKey": key})
    assert key.startswith("agent:main:hook:")
    assert agent.turns[0].message == "summarize"
    reply = history["payload"]["messages"][-1]
    assert reply["role"] == "assistant" and reply["content"][0]["text"] == "done: summarize"


async def test_idempotency_key_replays_the_run(hooked: tuple[RunningGateway, Agent, Any]) -> None:
    gw, agent, _op = hooked
    payload = {
        "message": "once",
        "deliver": False,
        "sessionKey": "hook:ci",
        "waitForCompletion": True,
    }
    with trio.fail_after(20):
        async with client(gw) as c:
            first = await c.post("/hooks/agent", json=payload, headers={"Idempotency-Key": "k1"})
            second = await c.post("/hooks/agent", json=payload, headers={"Idempotency-Key": "k1"})
    assert first.json()["runId"] == second.json()["runId"]
    assert len(agent.turns) == 1


async def test_mappings(hooked: tuple[RunningGateway, Agent, Any]) -> None:
    gw, agent, op = hooked
    with trio.fail_after(20):
        async with client(gw) as c:
            wake = await c.post("/hooks/build", json={"status": "green"})
            mapped = await c.post(
                "/hooks/github",
                json={"source": "gh", "pull": {"number": 7, "title": "fix"}},
                headers={"x-event": "opened"},
            )
            unmatched = await c.post("/hooks/github", json={"source": "other"})
        assert wake.json()["ok"] is True
        assert mapped.status_code == 200 and mapped.json()["ok"] is True
        async for message in agent.messages:
            if message.startswith("PR 7"):
                break
        history = await op.call("chat.history", {"sessionKey": "main"})
    assert unmatched.status_code == 404
    assert any(t.message == "PR 7: fix (opened)" for t in agent.turns)
    texts = [m["content"][0]["text"] for m in history["payload"]["messages"]]
    assert "build green" in texts


async def test_refusals(hooked: tuple[RunningGateway, Agent, Any]) -> None:
    gw, _agent, _op = hooked
    with trio.fail_after(20):
        async with (
            client(gw, "wrong") as bad,
            client(gw) as good,
            client(gw, None) as anon,
            client(gw, TOKEN) as operator,
        ):
            wrong = await bad.post("/hooks/wake", json={"text": "x"})
            query = await good.post(f"/hooks/wake?token={HOOK_TOKEN}", json={"text": "x"})
            get = await good.get("/hooks/wake")
            big = await good.post("/hooks/agent", content=b"{" + b" " * (256 * 1024) + b"}")
            no_text = await good.post("/hooks/wake", json={})
            unknown = await good.post("/hooks/agent", json={"message": "m", "agentId": "ghost"})
            header_token = await anon.post(
                "/hooks/wake", json={"text": "x"}, headers={"x-openclaw-token": HOOK_TOKEN}
            )
            gateway_token = await operator.post("/hooks/wake", json={"text": "x"})
    assert (wrong.status_code, wrong.text) == (401, "Unauthorized")
    assert query.status_code == 400 and "query parameters are not allowed" in query.text
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    assert big.status_code == 413 and big.json() == {"ok": False, "error": "payload too large"}
    assert no_text.json() == {"ok": False, "error": "text required"}
    assert unknown.status_code == 400 and unknown.json()["error"] == 'unknown agentId "ghost"'
    assert header_token.status_code == 200
    assert gateway_token.status_code == 401  # the gateway token is not a hook token


async def test_failures_are_rate_limited(hooked: tuple[RunningGateway, Agent, Any]) -> None:
    gw, _agent, _op = hooked
    with trio.fail_after(30):
        async with client(gw, "wrong") as bad, client(gw) as good:
            codes = [
                (await bad.post("/hooks/wake", json={"text": "x"})).status_code for _ in range(21)
            ]
            limited = await bad.post("/hooks/wake", json={"text": "x"})
            ok = await good.post("/hooks/wake", json={"text": "x", "mode": "next-heartbeat"})
    assert codes[:20] == [401] * 20 and codes[20] == 429
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert ok.status_code == 200  # a valid token is never throttled


def test_config_refusals_at_start() -> None:
    same = {"hooks": {"enabled": True, "token": TOKEN}}
    with pytest.raises(ConfigError, match=r"hooks\.token must differ from the gateway"):
        load_hooks(same, (TOKEN, None))
    with pytest.raises(ConfigError, match=r"hooks\.enabled requires hooks\.token"):
        load_hooks({"hooks": {"enabled": True}}, (TOKEN, None))
    transform = {
        "hooks": {
            "enabled": True,
            "token": "t" * 20,
            "mappings": [{"transform": {"module": "x.js"}}],
        }
    }
    with pytest.raises(
        ConfigError, match=r"hooks.mappings\[0\].transform: transforms run user code"
    ):
        load_hooks(transform, (TOKEN, None))
    with pytest.raises(ConfigError, match=r'hooks\.path: must not be "/"'):
        load_hooks({"hooks": {"enabled": True, "token": "t" * 20, "path": "/"}}, (TOKEN, None))
    assert load_hooks({"hooks": {"enabled": False, "token": TOKEN}}, (TOKEN, None)) is None
