"""The `node.invoke.request` a NodeHost command handler is answering (a context variable set
for the handler's task), so helpers such as client/agent.AgentNode can stream
`node.invoke.progress` for that invoke without changing the handler signature."""

from __future__ import annotations

import contextvars
from typing import Any

CURRENT_INVOKE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "openclaw_current_invoke", default=None
)
