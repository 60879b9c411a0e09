"""The ready OpenAI-compatible agent node against a local recording server that streams SSE
the way Ollama / llama.cpp / vLLM / OpenAI do (the one fake here: no model runs on this
machine). Checks the exact request, the streamed reply, and that the key is never shown."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.client.openai_agent import ChatCompletions, build_agent_node, sse_delta
from tests.helpers import TOKEN, RunningGateway
from tests.server.nodes.support import operator_client
from tests.server.runs.support import chat_until_terminal, send_params

SECRET = "sk-test-never-shown-4242"
PIECES = ["Hel", "lo", " from", " the model"]


class Recorder(ThreadingHTTPServer):
    requests: list[dict[str, Any]]
    status: int = 200


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if self.server.status != 200:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error":{"message":"model not found"}}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in PIECES:
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture(name="model_server")
def _model_server() -> Iterator[Recorder]:
    server = Recorder(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_sse_lines() -> None:
    assert sse_delta('data: {"choices":[{"delta":{"content":"x"}}]}') == "x"
    assert sse_delta(": keep-alive") == ""
    assert sse_delta("data: [DONE]") is None


async def test_agent_node_streams_the_model_reply(
    gateway: RunningGateway, tmp_path: Path, model_server: Recorder
) -> None:
    base = f"http://127.0.0.1:{model_server.server_address[1]}/v1"
    node = build_agent_node(
        gateway.url,
        base_url=base,
        model="tiny-model",
        device_store=IdentityStore(tmp_path / "agent"),
        token=TOKEN,
        env={"MY_KEY": SECRET},
        api_key_env="MY_KEY",
        system_prompt="Be brief.",
    )
    assert SECRET not in repr(ChatCompletions(base, "m", api_key=SECRET))
    with trio.fail_after(15):
        async with operator_client(gateway.port, ["operator.admin"]) as op, node.running():
            ev = await op.next_event("node.pair.requested")
            assert ev["payload"]["caps"] == ["model:tiny-model"]
            await op.call("node.pair.approve", {"requestId": ev["payload"]["requestId"]})
            models = (await op.call("models.list", {}))["payload"]["models"]
            assert models == [{"id": "tiny-model", "name": "tiny-model", "provider": "agent-node"}]
            assert (await op.call("chat.send", send_params("hi", "oa-1")))["ok"]
            events = await chat_until_terminal(op, "oa-1")
            deltas = events[:-1]  # paced: chunks within 75 ms of the last delta go together
            assert deltas[0]["deltaText"] == "Hel"
            assert "".join(e["deltaText"] for e in deltas) == "Hello from the model"
            assert deltas[-1]["message"]["content"][0]["text"] == "Hello from the model"
            assert events[-1]["message"]["content"][0]["text"] == "Hello from the model"
            assert (await op.call("chat.send", send_params("again", "oa-2")))["ok"]
            await chat_until_terminal(op, "oa-2")
            model_server.status = 404
            assert (await op.call("chat.send", send_params("third", "oa-3")))["ok"]
            failed = await chat_until_terminal(op, "oa-3")
    assert failed[-1]["state"] == "error"
    assert "model server answered 404" in failed[-1]["errorMessage"]
    first, second = model_server.requests[0], model_server.requests[1]
    assert first["path"] == "/v1/chat/completions"
    assert first["auth"] == f"Bearer {SECRET}"
    assert first["body"] == {
        "model": "tiny-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "stream": True,
    }
    assert second["body"]["messages"][1:] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello from the model"},
        {"role": "user", "content": "again"},
    ]
    assert SECRET not in gateway.stdout.getvalue() + gateway.stderr.getvalue()
