"""The real `openai` package against our gateway, with a real SDK agent node behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import trio

from openclaw_gateway.client.agent import Turn
from openclaw_gateway.security.ratelimit import AuthRateLimitPolicy
from tests.helpers import TOKEN, RunningGateway, start_gateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import approved_agent

ADMIN = ["operator.admin"]


class Agent:
    """Streams its answer word by word and reports token usage; `hang` never finishes."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.hanging = trio.Event()
        self.aborted = trio.Event()

    async def __call__(self, turn: Turn) -> AsyncIterator[str]:
        self.turns.append(turn)
        turn.usage = {"input": 12, "output": 5, "cacheRead": 3, "total": 20}
        if turn.message.startswith("hang"):
            yield "partial "
            self.hanging.set()
            try:
                await trio.sleep_forever()
            finally:
                self.aborted.set()
        for word in f"you said: {turn.message}".split(" "):
            yield word + " "


@pytest.fixture
async def api(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[tuple[RunningGateway, Agent]]:
    gw = await start_gateway(nursery, tmp_path, openai_chat_completions=True, openai_responses=True)
    agent = Agent()
    async with (
        operator_client(gw.port, ADMIN) as op,
        approved_agent(gw.url, op, tmp_path / "agent", agent),
    ):
        yield gw, agent
    gw.settings.logger.close()


def sdk(gw: RunningGateway, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{gw.port}/v1", api_key=key, max_retries=0)


async def in_thread(fn: Any) -> Any:
    return await trio.to_thread.run_sync(fn)


async def test_non_streaming_reply_and_usage(api: tuple[RunningGateway, Agent]) -> None:
    gw, agent = api
    with trio.fail_after(20):
        completion = await in_thread(
            lambda: sdk(gw).chat.completions.create(
                model="openclaw/default",
                messages=[
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hello there"},
                ],
            )
        )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl_")
    assert completion.model == "openclaw/default"
    assert completion.choices[0].message.content == "you said: hello there "
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (15, 5, 20)
    assert usage.prompt_tokens_details.cached_tokens == 3
    turn = agent.turns[0]
    assert turn.message == "hello there"
    assert turn.extra_system_prompt == "be brief"
    assert turn.session_key.startswith("agent:main:openai:")  # a new session per request


async def test_streaming_chunks_and_done(api: tuple[RunningGateway, Agent]) -> None:
    gw, agent = api

    def run() -> list[Any]:
        stream = sdk(gw).chat.completions.create(
            model="openclaw",
            user="conv-1",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "stream me"}],
        )
        return list(stream)

    with trio.fail_after(20):
        chunks = await in_thread(run)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "you said: stream me "
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 20
    assert {c.id for c in chunks} == {chunks[0].id}
    assert agent.turns[0].session_key == "agent:main:openai-user:conv-1"


async def test_raw_sse_ends_with_done(api: tuple[RunningGateway, Agent]) -> None:
    gw, _agent = api
    body = {"model": "openclaw", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
        with trio.fail_after(20):
            res = await client.post(
                "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
            )
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert res.headers["x-content-type-options"] == "nosniff"
    events = [line for line in res.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)


async def test_wrong_key_is_authentication_error(api: tuple[RunningGateway, Agent]) -> None:
    gw, _agent = api
    with trio.fail_after(20), pytest.raises(openai.AuthenticationError) as caught:
        await in_thread(
            lambda: sdk(gw, "wrong").chat.completions.create(
                model="openclaw", messages=[{"role": "user", "content": "hi"}]
            )
        )
    assert caught.value.status_code == 401
    assert caught.value.body == {"message": "Unauthorized", "type": "unauthorized"}


async def test_models_list_and_detail(api: tuple[RunningGateway, Agent]) -> None:
    gw, _agent = api
    with trio.fail_after(20):
        listed = await in_thread(lambda: sdk(gw).models.list())
        one = await in_thread(lambda: sdk(gw).models.retrieve("openclaw/main"))
        with pytest.raises(openai.NotFoundError):
            await in_thread(lambda: sdk(gw).models.retrieve("openclaw/nobody"))
        with pytest.raises(openai.BadRequestError):
            await in_thread(lambda: sdk(gw).models.retrieve("gpt-4o"))
    assert [m.id for m in listed.data] == ["openclaw", "openclaw/default", "openclaw/main"]
    assert one.id == "openclaw/main" and one.owned_by == "openclaw"


async def test_bad_requests(api: tuple[RunningGateway, Agent]) -> None:
    gw, _agent = api
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", headers=auth) as client:
        with trio.fail_after(20):
            bad_model = await client.post(
                "/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
            )
            no_user = await client.post("/v1/chat/completions", json={"messages": []})
            reserved = await client.post(
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "x"}]},
                headers={"x-openclaw-session-key": "cron:job-1"},
            )
            too_big = await client.post(
                "/v1/chat/completions", content=b"{" + b" " * (20 * 1024 * 1024) + b"}"
            )
            get = await client.get("/v1/chat/completions")
    assert bad_model.status_code == 400
    assert bad_model.json()["error"] == {
        "message": "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`.",
        "type": "invalid_request_error",
    }
    assert no_user.json()["error"]["message"] == "Missing user message in `messages`."
    assert reserved.status_code == 400
    assert too_big.status_code == 413
    assert too_big.json()["error"] == {
        "message": "Payload too large",
        "type": "invalid_request_error",
    }
    assert get.status_code == 405 and get.headers["allow"] == "POST"


@pytest.mark.parametrize("streaming", [True, False])
async def test_client_disconnect_aborts_the_run(
    api: tuple[RunningGateway, Agent], streaming: bool
) -> None:
    gw, agent = api
    flag = b"true" if streaming else b"false"
    body = (
        b'{"model":"openclaw","stream":%s,"messages":[{"role":"user","content":"hang on"}]}' % flag
    )
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with trio.fail_after(20):
        stream = await trio.open_tcp_stream("127.0.0.1", gw.port)
        await stream.send_all(head + body)
        received = b""
        while streaming and b"partial" not in received:  # the SSE has begun
            received += await stream.receive_some(65536)
        await agent.hanging.wait()
        await stream.aclose()
        await agent.aborted.wait()


async def test_disabled_by_default(nursery: trio.Nursery, tmp_path: Path) -> None:
    gw = await start_gateway(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
        res = await client.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
    gw.settings.logger.close()
    assert res.status_code == 404


async def test_responses_non_streaming(api: tuple[RunningGateway, Agent]) -> None:
    gw, agent = api
    with trio.fail_after(20):
        response = await in_thread(
            lambda: sdk(gw).responses.create(
                model="openclaw/main", instructions="be kind", input="what now"
            )
        )
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == "you said: what now "
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (15, 5, 20)
    assert usage.input_tokens_details.cached_tokens == 3
    assert agent.turns[0].extra_system_prompt == "be kind"
    assert agent.turns[0].session_key.startswith("agent:main:openresponses:")


async def test_responses_streaming_events(api: tuple[RunningGateway, Agent]) -> None:
    gw, _agent = api

    def run() -> list[Any]:
        items = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
        ]
        return list(sdk(gw).responses.create(model="openclaw", input=items, stream=True))

    with trio.fail_after(20):
        events = await in_thread(run)
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "you said: a "
    assert events[-1].response.output_text == "you said: a "


async def test_failed_auth_is_rate_limited(nursery: trio.Nursery, tmp_path: Path) -> None:
    policy = AuthRateLimitPolicy(max_attempts=2, exempt_loopback=False)
    gw = await start_gateway(
        nursery, tmp_path, openai_chat_completions=True, auth_rate_limit=policy
    )
    wrong = {"Authorization": "Bearer wrong"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
        with trio.fail_after(20):
            first = [(await client.get("/v1/models", headers=wrong)).status_code for _ in range(2)]
            limited = await client.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
    gw.settings.logger.close()
    assert first == [401, 401]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"]["type"] == "rate_limited"
