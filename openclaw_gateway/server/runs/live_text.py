"""Pacing of a run's streamed text, as the official server-chat.ts does it.

A run's `chat` deltas and `agent` assistant events go out at most once per
LIVE_TEXT_PACING_S: the first chunk at once, later ones within the window held and sent
together when it ends (the text so far, and every chunk since the last event as one `delta`),
and whatever is still held goes out just before the run's terminal event. A model streaming 50
tokens a second then costs each subscriber about 13 frames a second, not 50.

A delta's `deltaText` is what was added since the previous delta (the official
resolveBroadcastDelta); `replace: true` marks a text that does not extend the previous one,
whose `deltaText` is then the whole text. The message it carries is always the whole text.
"""

from __future__ import annotations

import attrs

LIVE_TEXT_PACING_S = 0.075  # official LIVE_TEXT_PACING_MS


@attrs.define
class LiveText:
    """What the operators were last shown of one run, and what waits for the next event."""

    shown: str | None = None  # the text as of the last chat delta (None: none went out yet)
    unsent: str = ""  # chunks since the last agent assistant event
    sent_at: float | None = None  # trio clock of the last event
    # Bumped by every send: a held flush whose generation is stale does nothing.
    generation: int = 0
    flush_due: bool = False

    def wait_s(self, now: float) -> float:
        """0: send now; otherwise hold, and send after this many seconds."""
        if self.sent_at is None:
            return 0.0
        return max(0.0, self.sent_at + LIVE_TEXT_PACING_S - now)

    def sent(self, text: str, now: float) -> None:
        self.shown, self.unsent, self.sent_at = text, "", now
        self.generation += 1
        self.flush_due = False


def broadcast_delta(text: str, previous: str | None) -> tuple[str, bool] | None:
    """(deltaText, replace) for a delta showing `text` after `previous`; None: nothing new."""
    if previous is None:
        return (text, False) if text else None
    if not text.startswith(previous):
        return text, True
    added = text[len(previous) :]
    return (added, False) if added else None
