"""Payloads of the conversation events, pure (official chat-broadcast.ts, agent events).

`chat` (per run, seq from 1):
  delta    {runId, sessionKey, seq, state:"delta", deltaText: <added since the last delta>,
            replace?:true, message:{role:"assistant", content:[{type:"text", text}], timestamp}}
           (paced, see live_text.py)
  final    {…, state:"final", message, stopReason?}
  aborted  {…, state:"aborted", message? (the partial text), stopReason:"aborted"}
  error    {…, state:"error", errorMessage, errorKind?, message? (the partial text)}
`agent` (per run, seq from 1): {runId, seq, stream, ts, sessionKey, data}
  stream "lifecycle": data {phase:"start", startedAt} | {phase:"end", endedAt, aborted?}
                      | {phase:"error", error, endedAt}
  stream "assistant": data {text: <all text so far>, delta: <the chunks since the last one>}
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]


def display_message(text: str, ts: int) -> Record:
    return {"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": ts}


def chat_delta(
    run_id: str, session_key: str, seq: int, text: str, delta: str, replace: bool, ts: int
) -> Record:
    out: Record = {
        "runId": run_id,
        "sessionKey": session_key,
        "seq": seq,
        "state": "delta",
        "deltaText": delta,
    }
    if replace:
        out["replace"] = True
    out["message"] = display_message(text, ts)
    return out


def chat_terminal(
    run_id: str,
    session_key: str,
    seq: int,
    state: str,
    *,
    message: Record | None,
    error: str | None = None,
    error_kind: str | None = None,
) -> Record:
    out: Record = {"runId": run_id, "sessionKey": session_key, "seq": seq, "state": state}
    if message is not None:
        out["message"] = {k: v for k, v in message.items() if k != "__openclaw"}
    if state == "final":
        out["stopReason"] = "stop"
    elif state == "aborted":
        out["stopReason"] = "aborted"
    elif state == "error":
        out["errorMessage"] = error or "agent run failed"
        if error_kind is not None:
            out["errorKind"] = error_kind
    return out


def agent_event(
    run_id: str, session_key: str, seq: int, stream: str, ts: int, data: Record
) -> Record:
    return {
        "runId": run_id,
        "seq": seq,
        "stream": stream,
        "ts": ts,
        "sessionKey": session_key,
        "data": data,
    }
