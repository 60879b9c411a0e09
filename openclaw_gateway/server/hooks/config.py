"""`hooks.*` from openclaw.json, checked at start (official resolveHooksConfig). Pure.

Refused at start (ConfigError, exit 78): enabled without a token; a token equal to the
gateway's shared token or password (a hook token is handed to other programs; it must never
open the operator API); `path` "/"; mappings that would run user code (`transform`) and what
this gateway cannot do yet (`forEach`, the `gmail` preset and `hooks.gmail` transport).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.security.auth import safe_equal

DEFAULT_PATH = "/hooks"
SUPPORTED_MAPPING_KEYS = frozenset(
    {
        "id", "match", "action", "wakeMode", "name", "agentId", "sessionKey", "sessionMode",
        "messageTemplate", "textTemplate", "deliver", "channel", "to", "model", "thinking",
        "timeoutSeconds",
    }
)  # fmt: skip


@attrs.frozen
class HookMapping:
    id: str
    match_path: str | None
    match_source: str | None
    action: str  # agent | wake
    wake_mode: str
    name: str | None
    agent_id: str | None
    session_key: str | None
    session_mode: str
    message_template: str | None
    text_template: str | None
    deliver: bool
    channel: str
    to: str | None
    model: str | None
    thinking: str | None
    timeout_seconds: int | None


@attrs.frozen
class HooksConfig:
    token: str = attrs.field(repr=False)
    base_path: str = DEFAULT_PATH
    allowed_agent_ids: frozenset[str] | None = None  # None: any ("*" or omitted)
    default_session_key: str | None = None
    allow_request_session_key: bool = False
    allowed_prefixes: tuple[str, ...] | None = None  # lower-cased; None: unrestricted
    mappings: tuple[HookMapping, ...] = ()


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"Invalid config: {key}: {message}")


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def normalize_path(raw: Any) -> str:
    path = (_str(raw) or DEFAULT_PATH).rstrip("/")
    path = path if path.startswith("/") else "/" + path
    if path == "/" or not path.strip("/"):
        raise _fail("hooks.path", 'must not be "/"')
    return path


def _mapping(raw: Any, index: int) -> HookMapping:
    key = f"hooks.mappings[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(key, "must be an object")
    if "transform" in raw:
        raise _fail(f"{key}.transform", "transforms run user code; this gateway does not run them")
    unknown = sorted(set(raw) - SUPPORTED_MAPPING_KEYS)
    if unknown:
        raise _fail(f"{key}.{unknown[0]}", "not supported by this gateway")
    action = raw.get("action", "agent")
    if action not in ("agent", "wake"):
        raise _fail(f"{key}.action", 'must be "agent" or "wake"')
    session_mode = raw.get("sessionMode", "isolated")
    if session_mode not in ("isolated", "persistent"):
        raise _fail(f"{key}.sessionMode", 'must be "isolated" or "persistent"')
    match: Mapping[str, Any] = raw["match"] if isinstance(raw.get("match"), Mapping) else {}
    timeout = raw.get("timeoutSeconds")
    return HookMapping(
        id=_str(raw.get("id")) or f"mapping-{index + 1}",
        match_path=(_str(match.get("path")) or "").strip("/") or None,
        match_source=_str(match.get("source")),
        action=action,
        wake_mode="next-heartbeat" if raw.get("wakeMode") == "next-heartbeat" else "now",
        name=raw.get("name") if isinstance(raw.get("name"), str) else None,
        agent_id=_str(raw.get("agentId")),
        session_key=raw.get("sessionKey") if isinstance(raw.get("sessionKey"), str) else None,
        session_mode=session_mode,
        message_template=raw.get("messageTemplate")
        if isinstance(raw.get("messageTemplate"), str)
        else None,
        text_template=raw.get("textTemplate") if isinstance(raw.get("textTemplate"), str) else None,
        deliver=raw.get("deliver") is not False,
        channel=_str(raw.get("channel")) or "last",
        to=raw.get("to") if isinstance(raw.get("to"), str) else None,
        model=raw.get("model") if isinstance(raw.get("model"), str) else None,
        thinking=raw.get("thinking") if isinstance(raw.get("thinking"), str) else None,
        timeout_seconds=timeout if isinstance(timeout, int) and timeout > 0 else None,
    )


def load_hooks(
    raw: Mapping[str, Any], gateway_secrets: tuple[str | None, ...]
) -> HooksConfig | None:
    """The hooks settings, None when hooks are off; ConfigError for what must be fixed."""
    section = raw.get("hooks")
    if not isinstance(section, Mapping) or section.get("enabled") is not True:
        return None
    token = section.get("token")
    if not isinstance(token, str) or not token.strip():
        raise _fail("hooks.token", "hooks.enabled requires hooks.token")
    token = token.strip()
    if any(secret and safe_equal(token, secret) for secret in gateway_secrets):
        raise ConfigError(
            "Invalid config: hooks.token must differ from the gateway auth token/password"
        )
    if section.get("gmail") is not None:
        raise _fail("hooks.gmail", "the Gmail transport is not supported by this gateway")
    presets = section.get("presets") or []
    if "gmail" in presets:
        raise _fail("hooks.presets", 'the "gmail" preset is not supported by this gateway')
    allowed = section.get("allowedAgentIds")
    allowed_ids = None
    if isinstance(allowed, list) and "*" not in allowed:
        allowed_ids = frozenset(
            a.strip().lower() for a in allowed if isinstance(a, str) and a.strip()
        )
    prefixes = [
        p.strip().lower()
        for p in section.get("allowedSessionKeyPrefixes") or []
        if isinstance(p, str) and p.strip()
    ]
    mappings = section.get("mappings") or []
    if not isinstance(mappings, list):
        raise _fail("hooks.mappings", "must be an array")
    config = HooksConfig(
        token=token,
        base_path=normalize_path(section.get("path")),
        allowed_agent_ids=allowed_ids,
        default_session_key=_str(section.get("defaultSessionKey")),
        allow_request_session_key=section.get("allowRequestSessionKey") is True,
        allowed_prefixes=tuple(prefixes) or None,
        mappings=tuple(_mapping(m, i) for i, m in enumerate(mappings)),
    )
    default = config.default_session_key
    if (
        default
        and config.allowed_prefixes
        and not default.lower().startswith(config.allowed_prefixes)
    ):
        raise _fail("hooks.defaultSessionKey", "must match hooks.allowedSessionKeyPrefixes")
    return config
