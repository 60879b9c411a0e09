"""What a finished run records about delivery (the official run-record fields). Pure; the
sending is cron/deliver.py's.

`delivered`, `deliveryStatus` (delivered | not-delivered | unknown | not-requested),
`deliveryError`, `deliverySuppressionReason: "empty"` (a successful run with no output sends
nothing, as the official), and `delivery: {intended, resolved?, delivered}`; completionStatus
follows the official resolveAdmittedCronCompletionStatus (bestEffort: a delivery failure
does not fail the run).
"""

from __future__ import annotations

from typing import Any

REQUESTING_MODES = ("announce", "webhook")


def delivery_mode(job: dict[str, Any]) -> str:
    delivery = job.get("delivery")
    if not isinstance(delivery, dict):
        return "none"
    return str(delivery.get("mode", "announce"))


def intended(job: dict[str, Any]) -> dict[str, Any]:
    delivery = job["delivery"]
    if delivery_mode(job) == "webhook":
        return {"to": delivery.get("to"), "source": "explicit"}
    out: dict[str, Any] = {"channel": delivery.get("channel", "last"), "source": "explicit"}
    for key in ("to", "accountId", "threadId"):
        if delivery.get(key):
            out[key] = delivery[key]
    return out


def not_requested() -> dict[str, Any]:
    return {"deliveryStatus": "not-requested"}


def suppressed_empty(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivered": False,
        "deliveryStatus": "not-delivered",
        "deliverySuppressionReason": "empty",
        "delivery": {"intended": intended(job), "delivered": False},
    }


def delivered(job: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    goal = intended(job)
    return {
        "delivered": True,
        "deliveryStatus": "delivered",
        "delivery": {
            "intended": goal,
            "resolved": {**goal, **resolved, "ok": True},
            "delivered": True,
        },
    }


def failed(
    job: dict[str, Any],
    error: str,
    resolved: dict[str, Any] | None = None,
    *,
    status: str = "not-delivered",
) -> dict[str, Any]:
    """Not delivered (or, status "unknown", not confirmed yet): the reason in deliveryError."""
    goal = intended(job)
    return {
        "delivered": False,
        "deliveryStatus": status,
        "deliveryError": error,
        "delivery": {
            "intended": goal,
            "resolved": {**goal, **(resolved or {}), "ok": False, "error": error},
            "delivered": False,
        },
    }


def interrupted(job: dict[str, Any], error: str) -> dict[str, Any]:
    """A run cut short (shutdown, crash): nothing was sent for it."""
    if delivery_mode(job) not in REQUESTING_MODES:
        return not_requested()
    return failed(job, error)


def completion_status(job: dict[str, Any], status: str, delivery: dict[str, Any]) -> str:
    """The official resolveAdmittedCronCompletionStatus."""
    if status != "ok":
        return "failed"
    state = delivery["deliveryStatus"]
    best_effort = (job.get("delivery") or {}).get("bestEffort") is True
    if state == "not-requested" or best_effort:
        return "succeeded"
    if state == "not-delivered":
        return "succeeded" if "deliverySuppressionReason" in delivery else "failed"
    return "succeeded" if state == "delivered" else "unknown"


def state_fields(delivery: dict[str, Any]) -> dict[str, Any]:
    """The job-state copies (lastDelivered, lastDeliveryStatus, ...); None: remove the key."""
    return {
        "lastDelivered": delivery.get("delivered"),
        "lastDeliveryStatus": delivery["deliveryStatus"],
        "lastDeliveryError": delivery.get("deliveryError"),
        "deliverySuppressionReason": delivery.get("deliverySuppressionReason"),
    }
