"""One HTTP request -> one agent run (official http-utils.ts resolveGatewayRequestContext):
which agent the OpenAI `model` (or `x-openclaw-agent-id`) names, which session the request
runs in, and the submit through the run manager, the same path as `chat.send` and `agent`.

Sessions: `x-openclaw-session-key` when given (not in the reserved `subagent:`/`cron:`/`acp:`
namespaces); else `agent:<agentId>:<prefix>-user:<user>` for an OpenAI `user` string (stable:
repeated calls share a session); else a new `agent:<agentId>:<prefix>:<uuid>` per request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.http.messages import HttpRequest
from openclaw_gateway.server.rpc.methods.chat import clean_message
from openclaw_gateway.server.runs.run import WATCH_BUFFER, Run, RunEvent, TurnRequest
from openclaw_gateway.server.runs.service import Conversations
from openclaw_gateway.state import session_keys as K

INVALID_MODEL = "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."
RESERVED_KEY = "`x-openclaw-session-key` cannot use reserved internal session namespaces."
_MODEL_AGENT = re.compile(r"^(?:openclaw[:/]|agent:)(?P<id>[a-z0-9][a-z0-9_-]{0,63})$", re.I)
_VALID_AGENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.I)
_RESERVED = ("subagent:", "cron:", "acp:")
Record = dict[str, Any]


class TargetError(Exception):
    """The request names no usable agent or session: a 400 invalid_request_error."""


def is_agent_model_id(model: str) -> bool:
    raw = model.strip()
    return raw.lower() in ("openclaw", "openclaw/default") or bool(_MODEL_AGENT.match(raw))


def agent_from_model(model: str, default_id: str) -> str | None:
    raw = model.strip()
    if raw.lower() in ("openclaw", "openclaw/default"):
        return default_id
    found = _MODEL_AGENT.match(raw)
    return found["id"].lower() if found else None


def _known(conv: Conversations, agent_id: str) -> str:
    if conv.agents.get(agent_id) is None:
        raise TargetError(f"Unknown agent '{agent_id}'.")
    return agent_id


def resolve_agent(conv: Conversations, request: HttpRequest, model: str) -> str:
    if model.strip() and not is_agent_model_id(model):
        raise TargetError(INVALID_MODEL)
    header = (
        request.headers.get("x-openclaw-agent-id") or request.headers.get("x-openclaw-agent") or ""
    ).strip()
    if header:
        if not _VALID_AGENT.match(header):
            raise TargetError(f"Unknown agent '{header}'.")
        return _known(conv, header.lower())
    from_model = agent_from_model(model, conv.agents.default_id) if model.strip() else None
    return _known(conv, from_model) if from_model else conv.agents.default_id


def _reserved(key: str) -> bool:
    lowered = key.lower()
    parts = K.split_agent_key(lowered)
    rest = parts[1] if parts else lowered
    return lowered.startswith(_RESERVED) or rest.startswith(_RESERVED)


def resolve_session(
    conv: Conversations, request: HttpRequest, agent_id: str, user: str | None, prefix: str
) -> K.SessionKey:
    explicit = request.headers.get("x-openclaw-session-key", "").strip()
    try:
        if explicit:
            if _reserved(explicit):
                raise TargetError(RESERVED_KEY)
            return conv.key(explicit, agent_id)
        user = (user or "").strip()
        main = f"{prefix}-user:{user}" if user else f"{prefix}:{uuid.uuid4()}"
        return conv.key(f"agent:{agent_id}:{main}")
    except RpcError as exc:
        raise TargetError(exc.message) from None


async def submit(
    conv: Conversations,
    key: K.SessionKey,
    message: str,
    run_id: str,
    *,
    extra_system_prompt: str | None,
    model_override: str | None,
    stream_params: Record | None = None,
) -> Run:
    """The run, once its user message is committed (RpcError as the run manager raises it)."""
    extra: Record = {"extraSystemPrompt": extra_system_prompt} if extra_system_prompt else {}
    if stream_params:
        extra["streamParams"] = stream_params  # sampling fields, best-effort for the agent
    request = TurnRequest(
        key, clean_message(message), run_id, origin="openai", model=model_override, extra=extra
    )
    run, _fresh = await conv.runs.submit(request)
    return run


_USAGE_FIELDS = ("input", "output", "cacheRead", "cacheWrite", "total", "reasoningTokens")


def usage_numbers(run: Run | None) -> dict[str, int]:
    """The agent's normalized usage (`turn.usage` on an SDK agent node), zeros where absent."""
    answer = run.answer if run is not None else None
    usage = answer.get("usage") if isinstance(answer, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    out = {}
    for name in _USAGE_FIELDS:
        value = usage.get(name)
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0
        out[name] = max(0, int(number))
    return out


def usage_of(run: Run) -> Record:
    """OpenAI chat usage (official toOpenAiChatCompletionsUsage): prompt = input + cacheRead,
    completion = output; the details only when there is something to say."""
    n = usage_numbers(run)
    prompt = n["input"] + n["cacheRead"]
    out: Record = {
        "prompt_tokens": prompt,
        "completion_tokens": n["output"],
        "total_tokens": max(prompt + n["output"], n["total"]),
    }
    if n["cacheRead"]:
        out["prompt_tokens_details"] = {"cached_tokens": n["cacheRead"]}
    answer = run.answer if isinstance(run.answer, dict) else {}
    if isinstance((answer.get("usage") or {}).get("reasoningTokens"), int | float):
        out["completion_tokens_details"] = {"reasoning_tokens": n["reasoningTokens"]}
    return out


class RunTail:
    """The run's text as it grows, subscribed at once (Run.watch() subscribes only when first
    iterated, so a delta sent meanwhile would be missed until the next one)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._tx, self._rx = trio.open_memory_channel[RunEvent](WATCH_BUFFER)
        if not run.done.is_set():
            run.watchers.append(self._tx)

    async def texts(self) -> AsyncIterator[str]:
        """The cumulative text: what is there now, then each delta; ends when the run ends."""
        if self.run.text:
            yield self.run.text
        if self.run.done.is_set():
            return
        async with self._rx:
            async for event in self._rx:
                if event.kind != "delta":
                    return
                yield event.text
