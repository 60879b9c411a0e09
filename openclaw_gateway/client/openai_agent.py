"""A ready agent node for any OpenAI-compatible chat-completions server (Ollama, llama.cpp
server, vLLM, OpenAI): each turn is one streamed `POST <base-url>/chat/completions`, the
transcript the gateway sends becomes the `messages`, and every SSE delta is streamed on to
the gateway. Needs the `agent` extra (httpx): `pip install 'openclaw-gateway[agent]'`.

The API key comes from an environment variable (`--api-key-env`, default OPENAI_API_KEY);
it is sent only as the Authorization header and never appears in logs, errors or reprs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from openclaw_gateway.client.agent import AgentNode, Turn
from openclaw_gateway.client.identity import IdentityStore

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0  # a slow local model may think for minutes before the first token
MAX_ERROR_BODY = 300
ROLES = {"user": "user", "assistant": "assistant", "system": "system"}


class ModelServerError(Exception):
    """The model server refused or broke the request (status and a bounded body excerpt)."""


def chat_messages(turn: Turn, system_prompt: str | None = None) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    system = "\n\n".join(p for p in (system_prompt, turn.extra_system_prompt) if p)
    if system:
        messages.append({"role": "system", "content": system})
    for entry in turn.history:
        role = ROLES.get(str(entry.get("role")))
        text = entry.get("text")
        if role is not None and isinstance(text, str) and text:
            messages.append({"role": role, "content": text})
    messages.append({"role": "user", "content": turn.message})
    return messages


def sse_delta(line: str) -> str | None:
    """The text of one SSE `data:` line of a chat-completions stream ("" for none); None at
    the end of the stream (`data: [DONE]`)."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except ValueError:
        return ""
    if isinstance(event, dict) and isinstance(event.get("error"), dict | str):
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise ModelServerError(f"model server error: {str(message)[:MAX_ERROR_BODY]}")
    choices = event.get("choices") if isinstance(event, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


class ChatCompletions:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        system_prompt: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.system_prompt = system_prompt
        self._transport = transport

    def __repr__(self) -> str:  # never the key
        return f"ChatCompletions(url={self.url!r}, model={self.model!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def stream(self, turn: Turn) -> AsyncIterator[str]:
        body: dict[str, Any] = {
            "model": turn.model or self.model,
            "messages": chat_messages(turn, self.system_prompt),
            "stream": True,
        }
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        async with (
            httpx.AsyncClient(timeout=timeout, transport=self._transport) as http,
            http.stream("POST", self.url, json=body, headers=self._headers()) as response,
        ):
            if response.status_code != 200:
                excerpt = (await response.aread()).decode("utf-8", "replace")[:MAX_ERROR_BODY]
                raise ModelServerError(f"model server answered {response.status_code}: {excerpt}")
            finished = False
            # Read to the end of the body even after [DONE] (servers close right after it):
            # leaving httpx's stream half-read would leak its generators.
            async for line in response.aiter_lines():
                piece = None if finished else sse_delta(line)
                if piece is None:
                    finished = True
                elif piece:
                    yield piece


def build_agent_node(
    url: str,
    *,
    base_url: str,
    model: str,
    device_store: IdentityStore,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    display_name: str | None = None,
    agents: tuple[str, ...] = (),
    system_prompt: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AgentNode:
    api_key = (env or {}).get(api_key_env) or None
    llm = ChatCompletions(
        base_url, model, api_key=api_key, system_prompt=system_prompt, transport=transport
    )
    node = AgentNode(
        url,
        device_store=device_store,
        token=token,
        display_name=display_name or f"agent-node ({model})",
        agents=agents,
        models=(model,),
    )

    @node.turn
    async def reply(turn: Turn) -> AsyncIterator[str]:
        async with contextlib.aclosing(llm.stream(turn)) as pieces:  # type: ignore[type-var]
            async for piece in pieces:
                yield piece

    return node
