"""`POST /v1/responses` (official openresponses-http.ts): one agent run per request, answered
as an OpenResponses `response` object, or streamed as its events (`event: <type>` +
`data: <json>`): created, in_progress, output_item.added, content_part.added, output_text.delta
..., output_text.done, content_part.done, output_item.done, completed (or failed), `[DONE]`.

`input` is a string or message items (system/developer -> the extra system prompt, with
`instructions`); client tools, function-call items, files and images are refused (400):
agent nodes cannot run them. `previous_response_id` is refused too (no response store yet).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.http.messages import (
    HttpRequest,
    HttpResponse,
    Response,
    StreamingResponse,
    json_response,
)
from openclaw_gateway.server.http.router import RequestContext, Route
from openclaw_gateway.server.openai import replies
from openclaw_gateway.server.openai.http_auth import HttpGate
from openclaw_gateway.server.openai.intake import (
    NO_RESPONSE,
    SSE_HEADERS,
    post_json,
    submit_failure,
    until_done_or_gone,
)
from openclaw_gateway.server.openai.prompt import build_prompt
from openclaw_gateway.server.openai.turns import (
    RunTail,
    TargetError,
    resolve_agent,
    resolve_session,
    submit,
    usage_numbers,
)
from openclaw_gateway.server.runs.run import Run
from openclaw_gateway.server.runs.service import Conversations

PATH = "/v1/responses"
Record = dict[str, Any]
_TEXT_PARTS = ("input_text", "output_text", "text")


def responses_usage(run: Run | None) -> Record:
    """Official toOpenAiResponsesUsage: input = input + cacheRead + cacheWrite."""
    n = usage_numbers(run)
    inputs = n["input"] + n["cacheRead"] + n["cacheWrite"]
    return {
        "input_tokens": inputs,
        "input_tokens_details": {
            "cached_tokens": n["cacheRead"],
            "cache_write_tokens": n["cacheWrite"],
        },
        "output_tokens": n["output"],
        "output_tokens_details": {"reasoning_tokens": n["reasoningTokens"]},
        "total_tokens": max(inputs + n["output"], n["total"]),
    }


def _messages(input_value: Any) -> list[Record]:
    """OpenResponses input -> chat-style messages for build_prompt; TargetError when refused."""
    if isinstance(input_value, str):
        return [{"role": "user", "content": input_value}]
    if not isinstance(input_value, list):
        raise TargetError("input: Expected string or array")
    out: list[Record] = []
    for item in input_value:
        if not isinstance(item, dict):
            raise TargetError("input: Expected item objects")
        kind = item.get("type", "message")
        if kind in ("reasoning", "item_reference"):
            continue  # accepted for compatibility, not part of the prompt (official)
        if kind != "message":
            raise TargetError(f"input items of type {kind!r} are not supported by this gateway")
        content = item.get("content")
        if isinstance(content, list):
            texts = []
            for part in content:
                if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS:
                    raise TargetError("only text content parts are supported by this gateway")
                texts.append(str(part.get("text", "")))
            content = "\n".join(texts)
        out.append({"role": item.get("role"), "content": content})
    return out


def _resource(
    identity: Record, status: str, output: list[Record], usage: Record, **extra: Any
) -> Record:
    return {
        "id": identity["id"],
        "object": "response",
        "created_at": identity["created_at"],
        "status": status,
        "model": identity["model"],
        "output": output,
        "usage": usage,
        **extra,
    }


def _item(item_id: str, text: str, status: str, phase: str | None = None) -> Record:
    item: Record = {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    if phase:
        item["phase"] = phase
    item["status"] = status
    return item


def _event(value: Record) -> bytes:
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return f"event: {value['type']}\ndata: {data}\n\n".encode()


DONE = b"data: [DONE]\n\n"


def responses_route(gate: HttpGate, conversations: Callable[[], Conversations]) -> Route:
    async def route(request: HttpRequest, ctx: RequestContext) -> Response | None:
        p = await post_json(request, ctx, gate, PATH)
        if p is None or isinstance(p, HttpResponse):
            return p
        model = p["model"] if isinstance(p.get("model"), str) else "openclaw"
        user = p["user"] if isinstance(p.get("user"), str) else None
        if p.get("tools"):
            return replies.invalid_request("client tools are not supported by this gateway")
        if p.get("previous_response_id") is not None:
            return replies.invalid_request("previous_response_id is not supported by this gateway")
        conv = conversations()
        try:
            messages = _messages(p.get("input"))
            agent_id = resolve_agent(conv, request, model)
            key = resolve_session(conv, request, agent_id, user, "openresponses")
        except TargetError as exc:
            return replies.invalid_request(str(exc))
        message, extra_system = build_prompt(messages)
        instructions = p.get("instructions") if isinstance(p.get("instructions"), str) else None
        extra = "\n\n".join(x for x in (instructions, extra_system) if x) or None
        if not message:
            return replies.invalid_request("Missing user message in `input`.")
        stream_params: Record = {}
        for field, name in (
            ("max_output_tokens", "maxTokens"),
            ("temperature", "temperature"),
            ("top_p", "topP"),
        ):
            value = p.get(field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                stream_params[name] = value
        response_id = f"resp_{uuid.uuid4()}"
        identity = {"id": response_id, "created_at": int(time.time()), "model": model}
        try:
            run = await submit(
                conv,
                key,
                message,
                response_id,
                extra_system_prompt=extra,
                model_override=request.headers.get("x-openclaw-model", "").strip() or None,
                stream_params=stream_params,
            )
        except RpcError as exc:
            status, kind = submit_failure(exc)
            failed = _resource(
                identity,
                "failed",
                [],
                responses_usage(None),
                error={"code": kind, "message": exc.message},
            )
            return json_response(status, failed)
        item_id = f"msg_{uuid.uuid4()}"
        if p.get("stream"):
            return StreamingResponse(200, SSE_HEADERS, _events(conv, run, identity, item_id))
        if not await until_done_or_gone(run, ctx):
            conv.runs.abort(run.session_key, run.run_id)
            return replies.error(499, "client closed request", "api_error")  # never delivered
        if run.status != "ok":
            error = {"code": "api_error", "message": "internal error"}
            return json_response(
                500, _resource(identity, "failed", [], responses_usage(None), error=error)
            )
        output = [_item(item_id, run.text or NO_RESPONSE, "completed", "final_answer")]
        return json_response(200, _resource(identity, "completed", output, responses_usage(run)))

    return route


async def _events(
    conv: Conversations, run: Run, identity: Record, item_id: str
) -> AsyncGenerator[bytes, None]:
    at = {"item_id": item_id, "output_index": 0, "content_index": 0}
    sent = ""
    tail = RunTail(run)
    try:
        initial = _resource(identity, "in_progress", [], responses_usage(None))
        empty = {**_item(item_id, "", "in_progress"), "content": []}
        yield (
            _event({"type": "response.created", "response": initial})
            + _event({"type": "response.in_progress", "response": initial})
            + _event({"type": "response.output_item.added", "output_index": 0, "item": empty})
            + _event(
                {
                    "type": "response.content_part.added",
                    **at,
                    "part": {"type": "output_text", "text": ""},
                }
            )
        )
        async for text in tail.texts():
            if text.startswith(sent) and len(text) > len(sent):
                piece, sent = text[len(sent) :], text
                yield _event({"type": "response.output_text.delta", **at, "delta": piece})
        await run.done.wait()
        final = run.text or NO_RESPONSE
        if run.status != "ok" or not final.startswith(sent):
            message = (
                "internal error"
                if run.status != "ok"
                else "Assistant output cannot be represented as an append-only response stream."
            )
            code = "api_error" if run.status != "ok" else "server_error"
            failed = _resource(
                identity,
                "failed",
                [],
                responses_usage(run),
                error={"code": code, "message": message},
            )
            yield _event({"type": "response.failed", "response": failed}) + DONE
            return
        out = b""
        if len(final) > len(sent):
            out += _event({"type": "response.output_text.delta", **at, "delta": final[len(sent) :]})
        item = _item(item_id, final, "completed", "final_answer")
        out += _event({"type": "response.output_text.done", **at, "text": final})
        out += _event(
            {
                "type": "response.content_part.done",
                **at,
                "part": {"type": "output_text", "text": final},
            }
        )
        out += _event({"type": "response.output_item.done", "output_index": 0, "item": item})
        done = _resource(identity, "completed", [item], responses_usage(run))
        yield out + _event({"type": "response.completed", "response": done}) + DONE
    finally:
        if not run.done.is_set():  # the client left mid-stream
            conv.runs.abort(run.session_key, run.run_id)
