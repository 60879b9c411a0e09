"""Failure alerts for cron jobs, and the finished-run record a webhook receives.

Policy (official, simplified to what this gateway has): `job.failureAlert: false` turns
alerts off; a per-job object, layered over a global `cron.failureAlert` object, turns them
on and tunes them (`after` consecutive errors, default 2; `cooldownMs`, default 1 h; `mode`
announce | webhook; `channel`, `to`, `accountId`); with neither, a job whose delivery is
an announce route is covered by the defaults (unless `delivery.bestEffort`), others stay
quiet; a global `enabled: false` turns inherited alerts off. An alert goes out when the
streak reaches `after` and the cooldown since the job's last alert has passed; the job state
keeps `lastFailureAlertAtMs` (and the error of that alert).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openclaw_gateway.server.cron import delivery as D
from openclaw_gateway.server.cron.deliver import announce
from openclaw_gateway.server.cron.payloads import Outcome
from openclaw_gateway.server.cron.webhook import WebhookPolicy, post_record
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import DatabaseError, Store

DEFAULT_AFTER = 2
DEFAULT_COOLDOWN_MS = 3_600_000
ROUTE_KEYS = ("mode", "channel", "to", "accountId")


def run_record(
    job: dict[str, Any], run_id: str, started: int, outcome: Outcome, now: int
) -> dict[str, Any]:
    """The finished-run record (the `cron` finished event's fields) before delivery."""
    record: dict[str, Any] = {
        "ts": now,
        "jobId": job["id"],
        "jobName": job.get("name"),
        "action": "finished",
        "status": outcome.status,
        "runId": run_id,
        "runAtMs": started,
        "durationMs": max(0, now - started),
    }
    if outcome.error is not None:
        record["error"] = outcome.error
    if outcome.summary:
        record["summary"] = outcome.summary
    return record


def alert_policy(job: dict[str, Any], raw_config: Mapping[str, Any]) -> dict[str, Any] | None:
    own = job.get("failureAlert")
    if own is False:
        return None
    cron = raw_config.get("cron") if isinstance(raw_config.get("cron"), Mapping) else {}
    assert isinstance(cron, Mapping)
    shared = cron.get("failureAlert") if isinstance(cron.get("failureAlert"), Mapping) else None
    if isinstance(own, dict):
        policy = {**(shared or {}), **own}
    elif shared is not None:
        if shared.get("enabled") is False:
            return None
        policy = dict(shared)
    else:
        delivery = job.get("delivery") or {}
        if D.delivery_mode(job) != "announce" or delivery.get("bestEffort") is True:
            return None
        policy = {}
    if policy.get("enabled") is False and not isinstance(own, dict):
        return None
    delivery = job.get("delivery") if isinstance(job.get("delivery"), dict) else {}
    assert isinstance(delivery, dict)
    own_route = any(policy.get(k) for k in ("channel", "to")) or policy.get("mode") == "webhook"
    if not own_route and D.delivery_mode(job) == "announce":  # the job's announce target
        policy.setdefault("channel", delivery.get("channel", "last"))
        for key in ("to", "accountId"):
            if delivery.get(key):
                policy.setdefault(key, delivery[key])
    return policy


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | float) and value >= 0 else default


def alert_text(job: dict[str, Any], errors: int, error: str | None) -> str:
    name = job.get("name") or job["id"]
    return f'Cron job "{name}" failed {errors} times in a row: {error or "unknown error"}'


async def alert_if_due(
    state: GatewayState,
    store: Store,
    job: dict[str, Any],
    st: dict[str, Any],
    outcome: Outcome,
    now: int,
) -> str | None:
    """Send the failure alert when due; returns how it went ("sent", or the error)."""
    if outcome.status != "error":
        return None
    policy = alert_policy(job, state.raw_config)
    if policy is None:
        return None
    errors = int(st.get("consecutiveErrors", 0))
    if errors < max(1, _int(policy.get("after"), DEFAULT_AFTER)):
        return None
    last = st.get("lastFailureAlertAtMs")
    if isinstance(last, int) and now - last < _int(policy.get("cooldownMs"), DEFAULT_COOLDOWN_MS):
        return None
    text = alert_text(job, errors, outcome.error)
    if policy.get("mode") == "webhook":
        record = {
            "action": "failureAlert",
            "jobId": job["id"],
            "jobName": job.get("name"),
            "consecutiveErrors": errors,
            "error": outcome.error,
            "text": text,
            "ts": now,
        }
        error = await post_record(
            str(policy.get("to") or ""), record, WebhookPolicy.from_config(state.raw_config)
        )
    else:
        error = await _announce(state, job, policy, text)
    result = error or "sent"
    update = {**st, "lastFailureAlertAtMs": now, "lastFailureAlertStatus": result}
    try:
        with store.transaction():
            store.cron_put_state(job["id"], update)
    except DatabaseError as exc:
        state.logger.error("cron", f"failure alert of {job['id']} not recorded: {exc}")
    if error is not None:
        state.logger.warn("cron", f"failure alert for cron job {job['id']} not sent: {error}")
    return result


async def _announce(
    state: GatewayState, job: dict[str, Any], policy: dict[str, Any], text: str
) -> str | None:
    target_job = {
        **job,
        "delivery": {"mode": "announce", **{k: policy[k] for k in ROUTE_KEYS[1:] if policy.get(k)}},
    }
    result = await announce(state, target_job, text, None)
    return (
        None
        if result["deliveryStatus"] in ("delivered", "unknown")
        else result.get("deliveryError")
    )
