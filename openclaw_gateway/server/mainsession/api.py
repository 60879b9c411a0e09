"""The main-session API other parts of the gateway call (system-event, wake, cron, and the
HTTP hooks `POST /hooks/wake` and `/hooks/agent`):

    main = state.require_main_session()
    key = main.system_event("build finished", wake_mode="now")      # queued + a turn now
    turn = await main.start_agent_turn(AgentTurn("summarize the inbox",
                                                  deliver=DeliveryTarget("last")))
    await turn.finished.wait()       # turn.run.status / .text, turn.delivery_id / _error

- `system_event(text, session_key=None, agent_id=None, wake_mode="next-heartbeat")`:
  appends a `system` line to the session's transcript (the agent's main session unless a
  key is given; visible in chat.history), queues the text for the next turn the gateway
  starts there (bounded: MAX_PENDING_EVENTS per session, oldest dropped), and with
  wake_mode "now" starts that turn at once (a heartbeat-style run that sees the text).
- `start_agent_turn(AgentTurn)`: a turn of the run manager in the given session (default:
  the agent's main session); returns once the message is committed. When `deliver` is set,
  a non-empty reply goes to that channel through the bridges' delivery queue.
"""

from __future__ import annotations

import attrs
import trio

from openclaw_gateway.server.runs.run import DEFAULT_TURN_TIMEOUT_MS, Run

WAKE_MODES = ("now", "next-heartbeat")
MAX_PENDING_EVENTS = 20  # as the official per-session system-event queue


@attrs.frozen
class DeliveryTarget:
    """Where a reply goes: `channel` is a channel name or "last" (the session's last route,
    else the gateway's most recent one); `to` defaults to that route's peer."""

    channel: str = "last"
    to: str | None = None
    account_id: str | None = None
    thread_id: str | None = None


@attrs.frozen
class AgentTurn:
    message: str
    session_key: str | None = None  # None: the agent's main session
    agent_id: str | None = None
    deliver: DeliveryTarget | None = None
    origin: str = "hook"
    run_id: str | None = None  # None: a fresh id
    model: str | None = None
    thinking: str | None = None
    timeout_ms: int = DEFAULT_TURN_TIMEOUT_MS
    extra_system_prompt: str | None = None


@attrs.define(eq=False)
class StartedTurn:
    run: Run
    fresh: bool
    # Set once the run ended and its delivery (if any) was queued or refused.
    finished: trio.Event = attrs.field(factory=trio.Event)
    delivery_id: str | None = None
    delivery_error: str | None = None
