"""What a finished run records about delivery, truthfully. Pure.

This gateway has no channels and sends no webhooks yet (the channels work makes `delivery`
and `failureAlert` real). A job that asks for delivery (mode "announce", the default for
isolated agentTurn/command jobs, or "webhook") therefore records what the official gateway
records when delivery cannot happen: `deliveryStatus: "not-delivered"`, `delivered: false`,
the reason in `deliveryError`, and `completionStatus: "failed"` unless `delivery.bestEffort`
(a successful run with no output is `not-delivered` with `deliverySuppressionReason:
"empty"`, as the official). Only a job that asked for nothing is `not-requested`.
"""

from __future__ import annotations

from typing import Any

ANNOUNCE_UNAVAILABLE = "cron announce delivery is unavailable: this gateway has no channels"
WEBHOOK_UNAVAILABLE = "cron webhook delivery is unavailable"  # the official wording
REQUESTING_MODES = ("announce", "webhook")


def delivery_mode(job: dict[str, Any]) -> str:
    delivery = job.get("delivery")
    if not isinstance(delivery, dict):
        return "none"
    return str(delivery.get("mode", "announce"))


def run_delivery(job: dict[str, Any], status: str, summary: str | None) -> dict[str, Any]:
    """The delivery fields of a run entry (official order: delivered, deliveryStatus, ...)."""
    mode = delivery_mode(job)
    if mode not in REQUESTING_MODES:
        return {"deliveryStatus": "not-requested"}
    delivery = job["delivery"]
    intended: dict[str, Any] = (
        {"channel": delivery.get("channel", "last"), "source": "explicit"}
        if mode == "announce"
        else {"to": delivery.get("to"), "source": "explicit"}
    )
    if status == "ok" and not (summary or "").strip():
        return {
            "delivered": False,
            "deliveryStatus": "not-delivered",
            "deliverySuppressionReason": "empty",
            "delivery": {"intended": intended, "delivered": False},
        }
    error = ANNOUNCE_UNAVAILABLE if mode == "announce" else WEBHOOK_UNAVAILABLE
    return {
        "delivered": False,
        "deliveryStatus": "not-delivered",
        "deliveryError": error,
        "delivery": {
            "intended": intended,
            "resolved": {**intended, "ok": False, "error": error},
            "delivered": False,
        },
    }


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
