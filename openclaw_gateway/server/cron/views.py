"""What callers see of a cron job. Pure.

The read view merges definition and state the way the official `cronJobReadView` does: the
public job, its `configRevision` ("sha256:<b64url>" over the definition without
updatedAtMs/state) and the denormalized copies of the interesting state fields.

Callers without operator.admin get the reader view (issue 13): a command job's `env` values
and `input` are replaced by the redaction marker, and its revision is computed over what they
see, so it cannot confirm a guessed secret either. Also the cron.list filters and sort orders.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from openclaw_gateway.core.secrets import REDACTED
from openclaw_gateway.server.cron.jobs import Job, stable_json

# State fields copied onto the read view (cronJobReadView).
_DENORMALIZED = (
    ("nextRunAtMs", "nextRunAtMs"),
    ("lastRunAtMs", "lastRunAtMs"),
    ("lastRunError", "lastError"),
    ("lastDelivered", "lastDelivered"),
    ("lastDeliveryStatus", "lastDeliveryStatus"),
    ("lastDeliveryError", "lastDeliveryError"),
    ("deliverySuppressionReason", "deliverySuppressionReason"),
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def config_revision(job: Job) -> str:
    """Opaque token over the definition (not updatedAtMs, not the scheduler's state)."""
    definition = {k: v for k, v in job.items() if k not in ("updatedAtMs", "state")}
    return "sha256:" + _b64url(hashlib.sha256(stable_json(definition).encode()).digest())


def snapshot_revision(views: list[Job]) -> str:
    return "sha256:" + _b64url(hashlib.sha256(stable_json(views).encode()).digest())


def redact_definition(job: Job) -> Job:
    """The definition as a caller without operator.admin may see it."""
    payload = job.get("payload") or {}
    if payload.get("kind") != "command" or not ("env" in payload or "input" in payload):
        return job
    hidden = dict(payload)
    if isinstance(hidden.get("env"), dict):
        hidden["env"] = dict.fromkeys(hidden["env"], REDACTED)
    if "input" in hidden:
        hidden["input"] = REDACTED
    return {**job, "payload": hidden}


def read_view(job: Job, state: dict[str, Any], *, admin: bool = True) -> Job:
    """The public job (cronJobReadView): definition + state + revision + denormalized fields;
    redacted for non-admin callers."""
    if not admin:
        job = redact_definition(job)
    out = dict(job)
    out["state"] = dict(state)
    out["configRevision"] = config_revision(job)
    for view_key, state_key in _DENORMALIZED:
        if state_key in state:
            out[view_key] = state[state_key]
    status = state.get("lastRunStatus", state.get("lastStatus"))
    if status is not None:
        out["lastRunStatus"] = status
    return out


def delivery_preview(job: Job) -> dict[str, str]:
    """What delivery will do (cron.add / cron.list `deliveryPreview`)."""
    mode = (job.get("delivery") or {}).get("mode", "none")
    if mode == "none" or "delivery" not in job:
        return {"label": "Not delivered", "detail": "delivery: none"}
    if mode == "webhook":
        return {"label": "Webhook", "detail": f"webhook: {job['delivery'].get('to', '')}"}
    delivery = job["delivery"]
    channel = delivery.get("channel", "last")
    to = f" to {delivery['to']}" if delivery.get("to") else ""
    best = " (best effort)" if delivery.get("bestEffort") is True else ""
    return {"label": "Announce", "detail": f"announce via {channel}{to}{best}"}


# --- cron.list ----------------------------------------------------------------------------


def matches(job: Job, st: dict[str, Any], p: dict[str, Any]) -> bool:
    """Does the job pass the cron.list filters `p`?"""
    enabled_filter = p.get("enabled") or ("all" if p.get("includeDisabled") else "enabled")
    if enabled_filter == "enabled" and not job.get("enabled"):
        return False
    if enabled_filter == "disabled" and job.get("enabled"):
        return False
    kind = p.get("scheduleKind", "all")
    if kind != "all" and job["schedule"].get("kind") != kind:
        return False
    last = p.get("lastRunStatus", "all")
    if last != "all" and (st.get("lastRunStatus") or "unknown") != last:
        return False
    trigger = p.get("trigger", "all")
    if trigger == "conditional" and not job.get("trigger"):
        return False
    if trigger == "unconditional" and job.get("trigger"):
        return False
    if "agentId" in p and (job.get("agentId") or "main") != p["agentId"].strip().lower():
        return False
    if "sessionKey" in p and job.get("sessionKey") != p["sessionKey"]:
        return False
    query = (p.get("query") or "").strip().lower()
    if query:
        hay = " ".join(
            [
                job["id"],
                job.get("name", ""),
                job.get("description", ""),
                job.get("agentId", "") or "",
                job.get("displayName", ""),
            ]
        ).lower()
        if query not in hay:
            return False
    return True


def sort_rows(rows: list[tuple[Job, dict[str, Any]]], by: str, desc: bool) -> list[Any]:
    """cron.list order: by name, updatedAtMs, or next run (jobs without one last)."""
    if by == "name":
        rows.sort(key=lambda r: str(r[0].get("name", "")).casefold(), reverse=desc)
    elif by == "updatedAtMs":
        rows.sort(key=lambda r: int(r[0].get("updatedAtMs", 0)), reverse=desc)
    else:
        # Jobs without a next run sort last in either direction.
        with_next = [r for r in rows if isinstance(r[1].get("nextRunAtMs"), int)]
        without = [r for r in rows if not isinstance(r[1].get("nextRunAtMs"), int)]
        with_next.sort(key=lambda r: r[1]["nextRunAtMs"], reverse=desc)
        rows = with_next + without
    return rows
