"""Session keys, pure: `agent:<agentId>:<rest>`, the main alias, agent id normalization.

The official rules (session-key.ts, agent-id.ts, session-store-key.ts), minus what only
channels need (case-preserved peer ids come with channel routing):
- an agent id is `[a-z0-9][a-z0-9_-]{0,63}` (case-insensitive); other input is folded to that
  form (invalid runs -> `-`, trimmed dashes, 64 chars) or refused when nothing is left;
- keys are compared lower-cased; `agent:<id>:<rest>` names its agent, anything else belongs to
  the requested (or default) agent: `main` -> `agent:<agent>:main`, `x` -> `agent:<agent>:x`;
- a key that starts with `agent:` but is not `agent:<id>:<rest>` (no id, no rest, or a rest
  that starts with `:`) is refused, as the official `malformed session key "<key>"`
  (session-request-agent.ts); so is an unscoped key whose scoped form would be malformed
  (`:x` would become `agent:main::x`, which no request could name again).
"""

from __future__ import annotations

import re

import attrs

DEFAULT_AGENT_ID = "main"
MAIN_KEY = "main"
MAX_KEY_CHARS = 512
_VALID_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)
_INVALID_CHARS = re.compile(r"[^a-z0-9_-]+")


class SessionKeyError(ValueError):
    """A session key or agent id that cannot name a session (the message is the reason)."""


@attrs.frozen
class SessionKey:
    agent_id: str
    rest: str

    def __str__(self) -> str:
        return f"agent:{self.agent_id}:{self.rest}"

    @property
    def is_main(self) -> bool:
        return self.rest == MAIN_KEY


def normalize_agent_id(value: str | None) -> str:
    """The canonical form of an explicitly given agent id; SessionKeyError when none is left."""
    trimmed = (value or "").strip()
    lowered = trimmed.lower()
    if _VALID_ID.match(trimmed):
        return lowered
    folded = _INVALID_CHARS.sub("-", lowered).strip("-")[:64]
    if not folded:
        raise SessionKeyError(f'invalid agent id "{trimmed}"')
    return folded


def split_agent_key(raw: str) -> tuple[str, str] | None:
    """(agentId, rest) of an `agent:<id>:<rest>` key, or None for any other shape."""
    if raw[:6].lower() != "agent:":
        return None
    end = raw.find(":", 6)
    if end == -1:
        return None
    agent_id, rest = raw[6:end].strip(), raw[end + 1 :]
    if not agent_id or not rest or rest.startswith(":"):
        return None
    return agent_id, rest


def parse(
    raw: str | None, agent_id: str | None = None, *, default_agent: str = DEFAULT_AGENT_ID
) -> SessionKey:
    """The canonical session a request names. `agent_id` (the request's agentId) owns unscoped
    keys and must agree with a scoped key's own agent."""
    text = (raw or "").strip()
    if not text:
        raise SessionKeyError("sessionKey required")
    if len(text) > MAX_KEY_CHARS:
        raise SessionKeyError(f"session key longer than {MAX_KEY_CHARS} characters")
    key = _parse(text, agent_id, default_agent)
    if len(str(key)) > MAX_KEY_CHARS:  # the canonical form must be nameable again
        raise SessionKeyError(f"session key longer than {MAX_KEY_CHARS} characters")
    return key


def _parse(text: str, agent_id: str | None, default_agent: str) -> SessionKey:
    lowered = text.lower()
    if lowered in ("global", "unknown"):
        raise SessionKeyError(
            f'session "{lowered}" is not available: this gateway keeps per-agent sessions'
        )
    requested = normalize_agent_id(agent_id) if agent_id is not None else None
    scoped = split_agent_key(lowered)
    if scoped is not None:
        own = normalize_agent_id(scoped[0])
        if requested is not None and requested != own:
            raise SessionKeyError(
                f'session key "{text}" belongs to agent "{own}", not "{requested}"'
            )
        return SessionKey(own, scoped[1])
    if lowered.startswith("agent:") or lowered.startswith(":"):
        raise SessionKeyError(f'malformed session key "{text}"')
    return SessionKey(requested or default_agent, lowered)


def main_key(agent_id: str = DEFAULT_AGENT_ID) -> str:
    return f"agent:{agent_id}:{MAIN_KEY}"


def is_cron_key(key: SessionKey) -> bool:
    return key.rest.startswith("cron:")


def is_subagent_key(key: SessionKey) -> bool:
    return key.rest.startswith("subagent:") or ":subagent:" in key.rest
