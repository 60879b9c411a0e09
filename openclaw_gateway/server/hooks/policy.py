"""Hook request rules (official hooks.ts): payload normalisation, the agent allowlist and the
session-key policy. Pure: every failure is a HookRefusal with the official message (a 400)."""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from openclaw_gateway.server.hooks.config import HookMapping, HooksConfig
from openclaw_gateway.state import session_keys as K

REQUEST_KEY_DISABLED = (
    "sessionKey is disabled for externally supplied hook payload values; "
    "set hooks.allowRequestSessionKey=true to enable"
)
AGENT_NOT_ALLOWED = "agentId is not allowed by hooks.allowedAgentIds"


class HookRefusal(Exception):
    """A 400 `{ok:false, error}` (the message is the error)."""


@attrs.frozen
class AgentAction:
    message: str
    name: str = "Hook"
    agent_id: str | None = None
    session_key: str | None = None
    session_key_source: str = "request"  # request | mapping-static | mapping-templated
    session_mode: str = "isolated"
    wake_mode: str = "now"
    deliver: bool = True
    channel: str | None = None
    to: str | None = None
    account_id: str | None = None
    model: str | None = None
    thinking: str | None = None
    timeout_seconds: int | None = None
    idempotency_key: str | None = None


@attrs.frozen
class WakeAction:
    text: str
    mode: str = "now"
    agent_id: str | None = None
    session_key: str | None = None
    session_key_source: str = "request"


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _agent_id(payload: dict[str, Any]) -> str | None:
    raw = payload.get("agentId")
    if raw is None:
        return None
    value = _str(raw)
    if value is None:
        raise HookRefusal("agentId must be a non-empty string")
    return value


def wake_payload(payload: dict[str, Any]) -> WakeAction:
    text = _str(payload.get("text"))
    if text is None:
        raise HookRefusal("text required")
    mode = "next-heartbeat" if payload.get("mode") == "next-heartbeat" else "now"
    key = _str(payload.get("sessionKey"))
    if payload.get("sessionKey") is not None and key is None:
        raise HookRefusal("sessionKey must be a non-empty string")
    if mode == "next-heartbeat" and key:
        raise HookRefusal("sessionKey requires mode=now")
    return WakeAction(text, mode, _agent_id(payload), key)


def agent_payload(payload: dict[str, Any], idempotency_key: str | None) -> AgentAction:
    message = _str(payload.get("message"))
    if message is None:
        raise HookRefusal("message required")
    mode = payload.get("sessionMode", "isolated")
    if mode not in ("isolated", "persistent"):
        raise HookRefusal("sessionMode must be isolated or persistent")
    channel, to, account = (_str(payload.get(k)) for k in ("channel", "to", "accountId"))
    deliver = payload.get("deliver") is not False
    partial = channel == "last" or not (channel and to)
    if deliver and (channel or to or account) and partial:
        raise HookRefusal("direct hook delivery needs both a concrete channel and to")
    timeout = payload.get("timeoutSeconds")
    seconds = int(timeout) if isinstance(timeout, int | float) and timeout >= 1 else None
    return AgentAction(
        message=message,
        name=_str(payload.get("name")) or "Hook",
        agent_id=_agent_id(payload),
        session_key=_str(payload.get("sessionKey")),
        session_mode=mode,
        wake_mode="next-heartbeat" if payload.get("wakeMode") == "next-heartbeat" else "now",
        deliver=deliver,
        channel=channel if deliver else None,
        to=to if deliver else None,
        account_id=account if deliver else None,
        model=_str(payload.get("model")),
        thinking=_str(payload.get("thinking")),
        timeout_seconds=seconds,
        idempotency_key=idempotency_key or _str(payload.get("idempotencyKey")),
    )


def target_agent(config: HooksConfig, requested: str | None, known: list[str], default: str) -> str:
    """The agent a hook runs for: the requested one (must exist), else the default; then the
    hooks.allowedAgentIds allowlist."""
    agent_id = default
    if requested:
        agent_id = requested.lower()
        if agent_id not in known:
            raise HookRefusal(f'unknown agentId "{requested}"')
    if config.allowed_agent_ids is not None and agent_id not in config.allowed_agent_ids:
        raise HookRefusal(AGENT_NOT_ALLOWED)
    return agent_id


def _prefix_ok(config: HooksConfig, key: str) -> None:
    if config.allowed_prefixes and not key.lower().startswith(config.allowed_prefixes):
        raise HookRefusal(
            f"sessionKey must start with one of: {', '.join(config.allowed_prefixes)}"
        )


def logical_session_key(config: HooksConfig, requested: str | None, source: str) -> str:
    """Request/mapping key (policy-checked), else hooks.defaultSessionKey, else hook:<uuid>."""
    if requested:
        if source in ("request", "mapping-templated") and not config.allow_request_session_key:
            raise HookRefusal(REQUEST_KEY_DISABLED)
        _prefix_ok(config, requested)
        return requested
    if config.default_session_key:
        return config.default_session_key
    generated = f"hook:{uuid.uuid4()}"
    _prefix_ok(config, generated)
    return generated


def dispatch_session_key(key: str, agent_id: str) -> str:
    """An agent-prefixed key is re-scoped to the hook's agent (official)."""
    parts = K.split_agent_key(key)
    return f"agent:{agent_id}:{parts[1]}" if parts else key


def mapping_matches(mapping: HookMapping, path: str, payload: dict[str, Any]) -> bool:
    if mapping.match_path and mapping.match_path != path.strip("/"):
        return False
    return not mapping.match_source or payload.get("source") == mapping.match_source
