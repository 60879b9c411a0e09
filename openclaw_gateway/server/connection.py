"""One WebSocket connection (the code lives in dispatch.py while it is being split)."""

from openclaw_gateway.server.dispatch import (
    MAX_PAYLOAD,
    MAX_PENDING_REQUESTS,
    TICK_INTERVAL_MS,
    Deps,
    handle_connection,
)

__all__ = ["MAX_PAYLOAD", "MAX_PENDING_REQUESTS", "TICK_INTERVAL_MS", "Deps", "handle_connection"]
