"""chat.history delta cursors, pure (official session-accessor.sqlite-raw-delta-read.ts).

A cursor is base64url JSON `{agentId, generation, lastSeq, sessionId, version:1}`: "I have
every message of this transcript up to lastSeq". A full chat.history answers one
(`deltaCursor`); a later chat.history with `cursor` answers only the newer messages and a
new cursor, or `{kind:"reset"}` when the cursor cannot be honoured (malformed, another
session or agent, a transcript that was reset, or more than the delta bounds) and the client
must reload the whole history. Our transcripts are append-only per sessionId (a reset starts
a new sessionId), so one generation suffices.
"""

from __future__ import annotations

import base64
import binascii
import json

import attrs

VERSION = 1
GENERATION = "1"
MAX_CURSOR_CHARS = 4096
DELTA_MAX_MESSAGES = 200  # official CHAT_HISTORY_DELTA_MAX_EVENTS
DELTA_MAX_BYTES = 1_000_000  # official CHAT_HISTORY_DELTA_MAX_BYTES


@attrs.frozen
class Cursor:
    agent_id: str
    session_id: str
    last_seq: int


def encode(cursor: Cursor) -> str:
    body = {
        "agentId": cursor.agent_id,
        "generation": GENERATION,
        "lastSeq": cursor.last_seq,
        "sessionId": cursor.session_id,
        "version": VERSION,
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse(value: str) -> Cursor | None:
    """The cursor, or None when it is not one of ours (the caller answers a reset)."""
    if len(value) > MAX_CURSOR_CHARS:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(body, dict) or body.get("version") != VERSION:
        return None
    agent_id, session_id, seq = body.get("agentId"), body.get("sessionId"), body.get("lastSeq")
    if not isinstance(agent_id, str) or not isinstance(session_id, str):
        return None
    if body.get("generation") != GENERATION:
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    return Cursor(agent_id, session_id, seq)
