"""OpenAI `messages` -> the agent's message and extra system prompt (official agent-prompt.ts
and openai-http.ts buildAgentPrompt). Pure.

system/developer messages become the extra system prompt; user/assistant/tool messages become
"Sender: body" lines; the last user or tool message is the current one, the rest history
wrapped in the official context markers.
"""

from __future__ import annotations

from typing import Any

HISTORY_CONTEXT_MARKER = "[Chat messages since your last reply - for context]"
CURRENT_MESSAGE_MARKER = "[Current message - respond to this]"


def text_content(content: Any) -> str | None:
    """A message's text: a string, or the text / input_text parts of a content array."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    parts: list[str | None] = []
    for part in content:
        value: str | None = None
        if isinstance(part, dict):
            if part.get("type") in ("text", "input_text") and isinstance(part.get("text"), str):
                value = part["text"]
            elif isinstance(part.get("input_text"), str):
                value = part["input_text"]
        parts.append(value)
    text = "\n".join(p for p in parts if p)
    return text if text.strip() or all(p is not None for p in parts) else None


def _sender(role: str, msg: dict[str, Any]) -> str:
    if role == "assistant":
        return "Assistant"
    if role == "user":
        return "User"
    for name in ("tool_call_id", "name"):
        value = msg.get(name)
        if isinstance(value, str) and value.strip():
            return f"Tool:{value.strip()}"
    return "Tool"


def build_prompt(messages: Any) -> tuple[str, str | None]:
    """(message, extraSystemPrompt or None); message "" when there is nothing to answer."""
    system: list[str] = []
    entries: list[tuple[str, str, str]] = []  # (role, sender, body)
    for msg in messages if isinstance(messages, list) else []:
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            continue
        role = msg["role"].strip()
        raw = "" if role == "function" and msg.get("content") is None else msg.get("content")
        content = (text_content(raw) or "").strip()
        if role in ("system", "developer"):
            if content:
                system.append(content)
            continue
        role = "tool" if role == "function" else role
        if role not in ("user", "assistant", "tool") or (not content and role != "tool"):
            continue
        entries.append((role, _sender(role, msg), content))
    extra = "\n\n".join(system) if system else None
    if not entries:
        return "", extra
    current = next(
        (i for i in range(len(entries) - 1, -1, -1) if entries[i][0] in ("user", "tool")),
        len(entries) - 1,
    )
    role, sender, body = entries[current]
    history = "\n".join(f"{s}: {b}" for _, s, b in entries[:current])
    if not history and role != "tool":
        return body, extra
    if not history.strip():
        return f"{sender}: {body}", extra
    lines = [HISTORY_CONTEXT_MARKER, history, "", CURRENT_MESSAGE_MARKER, f"{sender}: {body}"]
    return "\n".join(lines), extra
