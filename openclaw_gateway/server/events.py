"""Which broadcast events exist and who may receive them (protocol.md §7.3). Pure.

Unknown event names are never delivered (fail closed). An empty scope list means every
authenticated socket, nodes included; otherwise the recipient must be an operator holding one
of the scopes (operator.admin and operator.write implications apply).
"""

from __future__ import annotations

from collections.abc import Iterable

from openclaw_gateway.security import scopes as S

EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "tick": (),
    "health": (),
    "shutdown": (),
    "presence": (S.READ,),
    "device.pair.requested": (S.PAIRING,),
    "device.pair.resolved": (S.PAIRING,),
    "cron": (S.READ,),
    # Heartbeat runs (server/mainsession): status, reason, preview of the alert.
    "heartbeat": (S.READ,),
    "node.pair.requested": (S.PAIRING,),
    "node.pair.resolved": (S.PAIRING,),
    # Our extension: `channel.*` events from bridge nodes, relayed to readers.
    "node.event": (S.READ,),
    # Conversations (server/runs): `chat`/`agent` stream to every reader (clients that
    # declared the session-scoped-events cap only for sessions they subscribed to, hub.py);
    # `sessions.changed` and `session.message` go to subscribers only (sessions.subscribe,
    # sessions.messages.subscribe), still behind operator.read.
    "agent": (S.READ,),
    "chat": (S.READ,),
    "session.message": (S.READ,),
    "sessions.changed": (S.READ,),
}

# Per-session stream events that `session-scoped-events` clients get only for the sessions
# they subscribed to (official SESSION_SUBSCRIPTION_EVENTS, the ones we emit).
SESSION_SCOPED_EVENTS = frozenset({"agent", "chat"})
SESSION_SCOPED_EVENTS_CAP = "session-scoped-events"

# Events we emit, in the order hello-ok announces them (the official GATEWAY_EVENTS order).
EVENTS = (
    "connect.challenge",
    "agent",
    "chat",
    "session.message",
    "sessions.changed",
    "presence",
    "tick",
    "shutdown",
    "health",
    "heartbeat",
    "cron",
    "node.pair.requested",
    "node.pair.resolved",
    "node.invoke.cancel",
    "node.invoke.request",
    "node.event",
    "device.pair.requested",
    "device.pair.resolved",
)
# Sent to one socket only (never broadcast).
DIRECT_EVENTS = frozenset({"connect.challenge", "node.invoke.request", "node.invoke.cancel"})

# Events that may be dropped (seq still consumed) for a slow consumer instead of closing it.
DROP_IF_SLOW = frozenset(
    {
        "presence",
        "cron",
        "heartbeat",
        "device.pair.requested",
        "device.pair.resolved",
        "node.pair.requested",
        "node.pair.resolved",
        "node.event",
        "sessions.changed",
    }
)


def may_receive(event: str, role: str, granted: Iterable[str]) -> bool:
    required = EVENT_SCOPES.get(event)
    if required is None:
        return False
    if not required:
        return True
    return role == "operator" and S.any_scope_satisfied(required, granted)
