"""`POST /v1/chat/completions` (official openai-http.ts): one agent run per request.

Non-streaming: the `chat.completion` object once the run ends. `stream: true`: server-sent
events, the assistant role chunk first, one content chunk per new piece of agent text, the
finish chunk, the usage chunk when `stream_options.include_usage`, then `data: [DONE]`; a
failed run sends `{error}` then `[DONE]`. The client leaving (either way) aborts the run.
Client tools and image parts are refused (400): agent nodes cannot run them.
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
    usage_of,
)
from openclaw_gateway.server.runs.run import Run
from openclaw_gateway.server.runs.service import Conversations

PATH = "/v1/chat/completions"
Record = dict[str, Any]
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "topP",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
    "seed": "seed",
}


def sse(value: Any) -> bytes:
    return (
        b"data: " + json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
    )


DONE = b"data: [DONE]\n\n"


def _stream_params(p: Record) -> Record:
    """The sampling fields, forwarded best-effort to the agent as agent.turn `streamParams`."""
    out: Record = {}
    cap = p.get("max_completion_tokens") or p.get("max_tokens")
    if cap is not None:
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            raise TargetError("max_tokens must be a positive integer")
        out["maxTokens"] = cap
    for field, name in _SAMPLING.items():
        value = p.get(field)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TargetError(f"{field}: Expected number")
        out[name] = value
    stop = p.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if (
            not isinstance(stops, list)
            or len(stops) > 4
            or not all(isinstance(s, str) and s for s in stops)
        ):
            raise TargetError("Invalid stop: up to 4 non-empty strings")
        out["stop"] = stops
    return out


def _has_images(messages: Any) -> bool:
    for msg in messages if isinstance(messages, list) else []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "image_url" for part in content
        ):
            return True
    return False


def chat_completions_route(gate: HttpGate, conversations: Callable[[], Conversations]) -> Route:
    async def route(request: HttpRequest, ctx: RequestContext) -> Response | None:
        p = await post_json(request, ctx, gate, PATH)
        if p is None or isinstance(p, HttpResponse):
            return p
        model = p["model"] if isinstance(p.get("model"), str) else "openclaw"
        user = p["user"] if isinstance(p.get("user"), str) else None
        if p.get("tools"):
            return replies.invalid_request(
                "Invalid tools/tool_choice: client tools are not supported by this gateway"
            )
        if _has_images(p.get("messages")):
            return replies.invalid_request("image_url parts are not supported by this gateway")
        conv = conversations()
        try:
            stream_params = _stream_params(p)
            agent_id = resolve_agent(conv, request, model)
            key = resolve_session(conv, request, agent_id, user, "openai")
        except TargetError as exc:
            return replies.invalid_request(str(exc))
        message, extra_system = build_prompt(p.get("messages"))
        if not message:
            return replies.invalid_request("Missing user message in `messages`.")
        run_id = f"chatcmpl_{uuid.uuid4()}"
        identity = {"id": run_id, "created": int(time.time()), "model": model}
        try:
            run = await submit(
                conv,
                key,
                message,
                run_id,
                extra_system_prompt=extra_system,
                model_override=request.headers.get("x-openclaw-model", "").strip() or None,
                stream_params=stream_params,
            )
        except RpcError as exc:
            status, kind = submit_failure(exc)
            return replies.error(status, exc.message, kind)
        if p.get("stream") is True:
            include_usage = isinstance(p.get("stream_options"), dict) and (
                p["stream_options"].get("include_usage") is True
            )
            body = _events(conv, run, identity, include_usage)
            return StreamingResponse(200, SSE_HEADERS, body)
        if not await until_done_or_gone(run, ctx):
            conv.runs.abort(run.session_key, run.run_id)
            return replies.error(499, "client closed request", "api_error")  # never delivered
        if run.status != "ok":
            return replies.error(500, "internal error", "api_error")
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": run.text or NO_RESPONSE},
            "finish_reason": "stop",
        }
        completion = {**identity, "object": "chat.completion", "choices": [choice]}
        completion["usage"] = usage_of(run)
        return json_response(200, _ordered(completion))

    return route


def _ordered(completion: Record) -> Record:
    keys = ("id", "object", "created", "model", "choices", "usage")
    return {k: completion[k] for k in keys if k in completion}


def _chunk_of(identity: Record, **fields: Any) -> bytes:
    head = {"id": identity["id"], "object": "chat.completion.chunk"}
    return sse({**head, "created": identity["created"], "model": identity["model"], **fields})


def _chunk(identity: Record, delta: Record, finish: str | None) -> bytes:
    return _chunk_of(identity, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])


async def _events(
    conv: Conversations, run: Run, identity: Record, include_usage: bool
) -> AsyncGenerator[bytes, None]:
    sent = ""
    tail = RunTail(run)
    try:
        yield _chunk(identity, {"role": "assistant"}, None)
        async for text in tail.texts():
            if not text.startswith(sent):
                break  # the terminal check below reports it
            if len(text) > len(sent):
                piece, sent = text[len(sent) :], text
                yield _chunk(identity, {"content": piece}, None)
        await run.done.wait()
        if run.status != "ok":
            yield sse({"error": {"message": "internal error", "type": "api_error"}}) + DONE
            return
        final = run.text or NO_RESPONSE
        if not final.startswith(sent):
            message = "Assistant output cannot be represented as an append-only response stream."
            yield sse({"error": {"message": message, "type": "api_error"}}) + DONE
            return
        if len(final) > len(sent):
            yield _chunk(identity, {"content": final[len(sent) :]}, None)
        end = _chunk(identity, {}, "stop")
        if include_usage:
            end += _chunk_of(identity, choices=[], usage=usage_of(run))
        yield end + DONE
    finally:
        if not run.done.is_set():  # the client left mid-stream
            conv.runs.abort(run.session_key, run.run_id)
