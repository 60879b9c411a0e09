"""Cron job definitions: create-time normalization, patches, next slots. Pure.

A job is stored as two JSON documents: the definition (everything a client sets) and `state`
(what the scheduler maintains: nextRunAtMs, lastRunAtMs, lastRunStatus, ...). The read views
(what callers see, and its redaction) live in cron/views.py.

Errors are `JobError(reason)`; the method layer words them `invalid cron.<op> params: <reason>`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from openclaw_gateway.server.cron.errors import ScheduleError
from openclaw_gateway.server.cron.pacing import normalize_pacing
from openclaw_gateway.server.cron.schedule import next_run_ms, normalize_schedule
from openclaw_gateway.server.cron.webhook import WebhookRefused, check_url

Job = dict[str, Any]

MAX_NAME = 200
SESSION_TARGETS = ("main", "isolated", "current")
WAKE_MODES = ("now", "next-heartbeat")
DELIVERY_MODES = ("none", "announce", "webhook")
PAYLOAD_KINDS = ("systemEvent", "agentTurn", "command")
# Fields a client may set on cron.add (and patch with cron.update).
DEFINITION_FIELDS = (
    "name",
    "description",
    "displayName",
    "declarationKey",
    "owner",
    "agentId",
    "sessionKey",
    "enabled",
    "deleteAfterRun",
    "schedule",
    "pacing",
    "trigger",
    "sessionTarget",
    "wakeMode",
    "payload",
    "delivery",
    "failureAlert",
)
# Condition triggers run a script with agent tools before each due run; there is no such
# runtime here, so the field is refused rather than stored and ignored.
TRIGGER_UNSUPPORTED = (
    "cron condition triggers are not supported by this gateway (it has no script runtime)"
)
TRIGGER_REFUSED = f"trigger: {TRIGGER_UNSUPPORTED}; remove trigger"
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


class JobError(ValueError):
    """A job definition the gateway refuses; str(exc) is the reason. `bare`: answered as is,
    without the `invalid cron.<op> params: ` prefix (the official schedule.at checks)."""

    def __init__(self, reason: str, *, bare: bool = False) -> None:
        super().__init__(reason)
        self.bare = bare


def stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any, field: str, *, max_len: int | None = None, blank_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise JobError(f"{field} must be a string")
    text = value.strip()
    if not text and not blank_ok:
        raise JobError(f"{field} must not be blank")
    if max_len is not None and len(text) > max_len:
        raise JobError(f"{field} must not have more than {max_len} characters")
    return text


def _positive(value: Any, field: str, *, integer: bool = False) -> int | float:
    if not (_is_int(value) if integer else _is_num(value)) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise JobError(f"{field} must be {kind}")
    return value  # type: ignore[no-any-return]


def truncate_text(text: str, max_len: int) -> str:
    if len(text) <= max_len:
        return text
    return text[: max_len - 1].rstrip() + "…"


def infer_name(schedule: dict[str, Any], payload: dict[str, Any]) -> str:
    """The official inferCronJobName: the payload's first line, else the schedule."""
    kind = payload.get("kind")
    source = ""
    if kind == "systemEvent" and isinstance(payload.get("text"), str):
        source = payload["text"]
    elif kind == "agentTurn" and isinstance(payload.get("message"), str):
        source = payload["message"]
    elif kind == "command" and isinstance(payload.get("argv"), list):
        source = " ".join(str(a) for a in payload["argv"])
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    if first:
        return truncate_text(first, 60)
    skind = schedule.get("kind")
    if skind == "cron" and isinstance(schedule.get("expr"), str):
        return f"Cron: {truncate_text(schedule['expr'], 52)}"
    if skind == "every" and _is_num(schedule.get("everyMs")):
        return f"Every: {schedule['everyMs']}ms"
    if skind == "at":
        return "One-shot"
    return "Automation"


# --- payloads ---------------------------------------------------------------------------------

_COMMON_PAYLOAD = ("kind", "toolsAllow", "toolsAllowIsDefault")
_PAYLOAD_FIELDS: dict[str, tuple[str, ...]] = {
    "systemEvent": (*_COMMON_PAYLOAD, "text"),
    "agentTurn": (
        *_COMMON_PAYLOAD,
        "message",
        "model",
        "fallbacks",
        "thinking",
        "timeoutSeconds",
        "allowUnsafeExternalContent",
        "lightContext",
    ),
    "command": (
        *_COMMON_PAYLOAD,
        "argv",
        "cwd",
        "env",
        "input",
        "timeoutSeconds",
        "noOutputTimeoutSeconds",
        "outputMaxBytes",
    ),
}


def normalize_payload(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise JobError("payload must be an object")
    kind = raw.get("kind")
    if kind not in PAYLOAD_KINDS:
        raise JobError("payload.kind must be one of " + ", ".join(f'"{k}"' for k in PAYLOAD_KINDS))
    allowed = _PAYLOAD_FIELDS[kind]
    for key in raw:
        if key not in allowed:
            raise JobError(f"payload: unexpected property '{key}'")
    out: dict[str, Any] = {"kind": kind}
    if "toolsAllow" in raw:
        tools = raw["toolsAllow"]
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise JobError("payload.toolsAllow must be an array of strings")
        out["toolsAllow"] = list(tools)
    if "toolsAllowIsDefault" in raw:
        if not isinstance(raw["toolsAllowIsDefault"], bool):
            raise JobError("payload.toolsAllowIsDefault must be a boolean")
        out["toolsAllowIsDefault"] = raw["toolsAllowIsDefault"]
    if kind == "systemEvent":
        out["text"] = _text(raw.get("text"), "payload.text")
    elif kind == "agentTurn":
        out["message"] = _text(raw.get("message"), "payload.message")
        for key in ("model", "thinking"):
            if key in raw:
                out[key] = _text(raw[key], f"payload.{key}")
        if "fallbacks" in raw:
            fb = raw["fallbacks"]
            if not isinstance(fb, list) or not all(isinstance(f, str) for f in fb):
                raise JobError("payload.fallbacks must be an array of strings")
            out["fallbacks"] = list(fb)
        if "timeoutSeconds" in raw:
            out["timeoutSeconds"] = _positive(raw["timeoutSeconds"], "payload.timeoutSeconds")
        for key in ("allowUnsafeExternalContent", "lightContext"):
            if key in raw:
                if not isinstance(raw[key], bool):
                    raise JobError(f"payload.{key} must be a boolean")
                out[key] = raw[key]
    else:
        out.update(_command_fields(raw))
    return out


def _command_fields(raw: dict[str, Any]) -> dict[str, Any]:
    argv = raw.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise JobError("payload.argv must be a non-empty array of strings")
    if not argv[0].strip():
        raise JobError("payload.argv[0] must not be blank")
    out: dict[str, Any] = {"argv": list(argv)}
    if "cwd" in raw:
        out["cwd"] = _text(raw["cwd"], "payload.cwd")
    if "env" in raw:
        env = raw["env"]
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and k and "=" not in k and isinstance(v, str) for k, v in env.items()
        ):
            raise JobError("payload.env must be an object of string values")
        out["env"] = dict(env)
    if "input" in raw:
        if not isinstance(raw["input"], str):
            raise JobError("payload.input must be a string")
        out["input"] = raw["input"]
    for key in ("timeoutSeconds", "noOutputTimeoutSeconds"):
        if key in raw:
            out[key] = _positive(raw[key], f"payload.{key}")
    if "outputMaxBytes" in raw:
        out["outputMaxBytes"] = _positive(
            raw["outputMaxBytes"], "payload.outputMaxBytes", integer=True
        )
    return out


def patch_payload(current: dict[str, Any], raw: Any) -> dict[str, Any]:
    """A payload patch may omit `kind` (and any field): it merges into the same kind."""
    if not isinstance(raw, dict):
        raise JobError("patch.payload must be an object")
    kind = raw.get("kind", current.get("kind"))
    if kind == current.get("kind"):
        merged = {**current, **raw}
        merged = {k: v for k, v in merged.items() if v is not None}
    else:
        merged = dict(raw)
        if kind == "systemEvent" and "text" not in merged:
            raise JobError('cron.update payload.kind="systemEvent" requires text')
        if kind == "agentTurn" and "message" not in merged:
            raise JobError('cron.update payload.kind="agentTurn" requires message')
    merged["kind"] = kind
    return normalize_payload(merged)


# --- the rest of a definition -----------------------------------------------------------------


def _session_target(value: Any) -> str:
    if not isinstance(value, str):
        raise JobError("sessionTarget must be a string")
    text = value.strip()
    low = text.lower()
    if low in SESSION_TARGETS:
        return low
    if low.startswith("session:") and text[8:].strip():
        return "session:" + text[8:].strip()
    raise JobError(f"invalid cron sessionTarget: {value}")


def _delivery(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JobError("delivery must be an object")
    out = dict(value)
    mode = out.get("mode", "announce")
    if not isinstance(mode, str) or mode.strip().lower() not in DELIVERY_MODES:
        raise JobError('delivery.mode must be one of "none", "announce", "webhook"')
    out["mode"] = mode.strip().lower()
    for key in ("channel", "to", "accountId"):
        if key in out and (not isinstance(out[key], str) or not out[key].strip()):
            raise JobError(f"delivery.{key} must not be blank")
    if out["mode"] == "webhook" and not out.get("to"):
        raise JobError("cron webhook delivery requires delivery.to")
    if out["mode"] == "webhook":
        try:
            check_url(str(out["to"]))
        except WebhookRefused as exc:
            raise JobError(str(exc)) from None
    return out


def _apply_field(job: Job, key: str, value: Any, *, now_ms: int, host_tz: str) -> None:
    """Set one definition field on `job` (validated); None clears optional fields."""
    if value is None and key not in ("name", "schedule", "payload", "sessionTarget", "wakeMode"):
        job.pop(key, None)
        return
    if key == "name":
        job["name"] = _text(value, "name", max_len=MAX_NAME)
    elif key in ("description",):
        job[key] = _text(value, key, blank_ok=True)
    elif key == "displayName":
        job[key] = _text(value, "displayName", max_len=200)
    elif key == "declarationKey":
        job[key] = _text(value, "declarationKey", max_len=200)
    elif key in ("agentId", "sessionKey"):
        text = _text(value, key, blank_ok=True)
        if text:
            job[key] = text
        else:
            job.pop(key, None)
    elif key in ("enabled", "deleteAfterRun"):
        parsed = parse_bool(value)
        if parsed is None:
            raise JobError(f"{key} must be a boolean")
        job[key] = parsed
    elif key == "schedule":
        try:
            job["schedule"] = normalize_schedule(value, now_ms=now_ms, host_tz=host_tz)
        except ScheduleError as exc:
            raise JobError(str(exc), bare=bool(getattr(exc, "bare", False))) from exc
    elif key == "payload":
        job["payload"] = normalize_payload(value)
    elif key == "sessionTarget":
        job["sessionTarget"] = _session_target(value)
    elif key == "wakeMode":
        if not isinstance(value, str) or value.strip().lower() not in WAKE_MODES:
            raise JobError('wakeMode must be "now" or "next-heartbeat"')
        job["wakeMode"] = value.strip().lower()
    elif key == "delivery":
        job["delivery"] = _delivery(value)
    elif key == "failureAlert":
        if value is not False and not isinstance(value, dict):
            raise JobError("failureAlert must be false or an object")
        job[key] = value
    elif key == "pacing":
        try:
            job["pacing"] = normalize_pacing(value)
        except ScheduleError as exc:
            raise JobError(str(exc)) from exc
    elif key == "trigger":
        raise JobError(TRIGGER_REFUSED)
    elif key == "owner":
        if not isinstance(value, dict):
            raise JobError(f"{key} must be an object")
        job[key] = copy.deepcopy(value)


def _check_combination(job: Job) -> None:
    if "pacing" in job and job["schedule"].get("kind") not in ("every", "cron"):
        raise JobError("cron pacing requires an every or cron schedule")
    kind = job["payload"]["kind"]
    target = job["sessionTarget"]
    if target == "main" and kind != "systemEvent":
        raise JobError('main cron jobs require payload.kind="systemEvent"')
    if target != "main" and kind == "systemEvent":
        raise JobError('isolated/current/session cron jobs require payload.kind="agentTurn"')


def _anchor_every(schedule: dict[str, Any], created_at_ms: int) -> dict[str, Any]:
    if schedule.get("kind") == "every" and "anchorMs" not in schedule:
        return {**schedule, "anchorMs": created_at_ms}
    return schedule


def normalize_create(raw: Any, *, job_id: str, now_ms: int, host_tz: str) -> Job:
    """cron.add params -> a stored definition (create-time defaults applied, then validated)."""
    if not isinstance(raw, dict):
        raise JobError("params must be an object")
    for key in raw:
        if key not in DEFINITION_FIELDS:
            raise JobError(f"at root: unexpected property '{key}'")
    for key in ("schedule", "payload"):
        if key not in raw:
            raise JobError(f"must have required property '{key}'")
    job: Job = {"id": job_id}
    for key in DEFINITION_FIELDS:
        if key in raw and raw[key] is not None:
            _apply_field(job, key, raw[key], now_ms=now_ms, host_tz=host_tz)
    job.setdefault("enabled", True)
    job.setdefault("wakeMode", "now")
    if not job.get("name"):
        job["name"] = infer_name(job["schedule"], job["payload"])
    if "sessionTarget" not in job:
        kind = job["payload"]["kind"]
        job["sessionTarget"] = "main" if kind == "systemEvent" else "current"
        if kind == "command":
            job["sessionTarget"] = "isolated"
    if job["sessionTarget"] == "current" and not job.get("sessionKey"):
        job["sessionTarget"] = "isolated"
    if job["schedule"].get("kind") == "at" and "deleteAfterRun" not in job:
        job["deleteAfterRun"] = True
    target = job["sessionTarget"]
    if (
        "delivery" not in job
        and job["payload"]["kind"] in ("agentTurn", "command")
        and (target in ("isolated", "current") or target.startswith("session:"))
    ):
        job["delivery"] = {"mode": "announce"}
    job["createdAtMs"] = now_ms
    job["updatedAtMs"] = now_ms
    job["schedule"] = _anchor_every(job["schedule"], now_ms)
    _check_combination(job)
    return _ordered(job)


def apply_patch(job: Job, patch: Any, *, now_ms: int, host_tz: str) -> Job:
    """cron.update: a new definition with `patch` applied (None clears optional fields)."""
    if not isinstance(patch, dict):
        raise JobError("patch must be an object")
    out = copy.deepcopy(job)
    for key, value in patch.items():
        if key == "state":
            continue  # scheduler-maintained; handled by the caller
        if key not in DEFINITION_FIELDS:
            raise JobError(f"at /patch: unexpected property '{key}'")
        if key == "payload":
            if value is None:
                raise JobError("patch.payload must be an object")
            out["payload"] = patch_payload(job["payload"], value)
        elif key == "name" and (value is None or (isinstance(value, str) and not value.strip())):
            out["name"] = infer_name(out["schedule"], out["payload"])
        elif value is None and key in ("schedule", "sessionTarget", "wakeMode"):
            raise JobError(f"patch.{key} cannot be cleared")
        else:
            _apply_field(out, key, value, now_ms=now_ms, host_tz=host_tz)
    out["schedule"] = _anchor_every(out["schedule"], job.get("createdAtMs", now_ms))
    if out["sessionTarget"] == "current" and not out.get("sessionKey"):
        out["sessionTarget"] = "isolated"
    _check_combination(out)
    out["updatedAtMs"] = now_ms
    return _ordered(out)


_ORDER = (
    "id",
    "name",
    "description",
    "displayName",
    "declarationKey",
    "owner",
    "agentId",
    "sessionKey",
    "enabled",
    "deleteAfterRun",
    "createdAtMs",
    "updatedAtMs",
    "schedule",
    "pacing",
    "trigger",
    "sessionTarget",
    "wakeMode",
    "payload",
    "delivery",
    "failureAlert",
)


def _ordered(job: Job) -> Job:
    out = {k: job[k] for k in _ORDER if k in job}
    out.update({k: v for k, v in job.items() if k not in out})
    return out


def schedule_changed(before: Job, after: Job) -> bool:
    return stable_json(before.get("schedule")) != stable_json(after.get("schedule"))


def next_run(job: Job, *, after_ms: int, host_tz: str) -> int | None:
    """The job's next slot strictly after `after_ms` (None: never again)."""
    return next_run_ms(
        job["schedule"],
        job_id=job["id"],
        created_at_ms=int(job.get("createdAtMs", 0)),
        after_ms=after_ms,
        host_tz=host_tz,
    )


def initial_state(job: Job, now_ms: int, host_tz: str) -> dict[str, Any]:
    """Scheduler state for a new (or rescheduled) job: its first slot when enabled."""
    if not job.get("enabled"):
        return {}
    # A one-shot may be up to a minute in the past (it then runs at once).
    after = now_ms - 60_001 if job["schedule"].get("kind") == "at" else now_ms
    nxt = next_run(job, after_ms=after, host_tz=host_tz)
    return {} if nxt is None else {"nextRunAtMs": nxt}
