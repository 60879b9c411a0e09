"""Delivering a finished cron run: `announce` to a channel through its bridge (the channels'
delivery queue; `channel` a name or "last", `to`, `accountId`, `threadId`) or `webhook` (an
HTTP POST of the finished-run record, cron/webhook.py). Returns the run's delivery fields
(cron/delivery.py).

An announce waits up to ANNOUNCE_WAIT_S for the bridge to confirm (not at all when no bridge
serves the channel): then `delivered`; a send that failed for good is `not-delivered`; one
still queued (bridge offline, retrying) is `unknown` — the queue keeps it and sends it when
the bridge is back.
"""

from __future__ import annotations

from typing import Any

from openclaw_gateway.server.cron import delivery as D
from openclaw_gateway.server.cron.payloads import Outcome
from openclaw_gateway.server.cron.webhook import WebhookPolicy, post_record
from openclaw_gateway.server.mainsession.api import DeliveryTarget
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.session_keys import main_key

ANNOUNCE_WAIT_S = 15.0
NOTHING_TO_ANNOUNCE = "the run failed: nothing to announce"
CHANNELS_UNAVAILABLE = "channels are not available"


async def announce(
    state: GatewayState, job: dict[str, Any], text: str, session_key: str | None
) -> dict[str, Any]:
    """Queue `text` for the job's announce target and wait for the bridge (bounded)."""
    spec = job.get("delivery") or {}
    target = DeliveryTarget(
        channel=str(spec.get("channel") or "last"),
        to=spec.get("to"),
        account_id=spec.get("accountId"),
        thread_id=spec.get("threadId"),
    )
    main = state.main_session
    if main is None or state.channels is None:
        return D.failed(job, CHANNELS_UNAVAILABLE)
    key = session_key or main_key(str(job.get("agentId") or "main"))
    delivery_id, error = main.deliver(target, key, text, origin=f"cron:{job.get('id')}")
    if delivery_id is None:
        return D.failed(job, error or "not queued")
    outbox = state.channels.outbox
    queued = outbox.lookup(delivery_id)
    channel = str((queued[1] if queued else {}).get("channel"))
    online = outbox.bridges.owner(channel, state.nodes.sessions.values()) is not None
    # No bridge serves the channel now: nothing to wait for, the queue sends it later.
    found = await outbox.wait(delivery_id, ANNOUNCE_WAIT_S) if online else queued
    status, record = found if found is not None else ("pending", {})
    resolved = {"channel": record.get("channel"), "to": record.get("to")}
    if status == "delivered":
        return D.delivered(job, resolved)
    if status == "failed":
        return D.failed(job, str(record.get("lastError") or "send failed"), resolved)
    why = record.get("lastError") or "the bridge has not confirmed yet"
    return D.failed(job, f"queued for {record.get('channel')}: {why}", resolved, status="unknown")


async def deliver_run(
    state: GatewayState, job: dict[str, Any], outcome: Outcome, record: dict[str, Any]
) -> dict[str, Any]:
    """`record`: the finished-run record as the webhook receives it."""
    mode = D.delivery_mode(job)
    if mode not in D.REQUESTING_MODES:
        return D.not_requested()
    empty = not (outcome.summary or "").strip()
    if outcome.status == "ok" and empty:
        return D.suppressed_empty(job)
    if mode == "webhook":
        url = str(job["delivery"].get("to") or "")
        error = await post_record(url, record, WebhookPolicy.from_config(state.raw_config))
        return D.failed(job, error) if error is not None else D.delivered(job, {})
    if outcome.status != "ok":
        return D.failed(job, NOTHING_TO_ANNOUNCE)
    session_key = outcome.extra.get("sessionKey")
    return await announce(
        state, job, outcome.summary or "", session_key if isinstance(session_key, str) else None
    )
