"""Cron `pacing`: dynamic cadence bounds, as the official src/cron/pacing.ts. Pure.

A recurring job (every/cron) may carry `pacing: {min?, max?}` (durations such as "15m",
"4h", "1h30m"; at least one). Pacing alone changes nothing: only a successful run that
proposes a next check moves the next slot, to `ended + proposal` clamped into
[ended + min, ended + max]. Here the proposer is the agent node of an agentTurn run (its
result's `nextCheck`, README); the official one is the `automations` tool's `next_check`.
Failed, skipped and forced runs leave the schedule as it was.
"""

from __future__ import annotations

import math
import re
from typing import Any

from openclaw_gateway.server.cron.errors import ScheduleError

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SINGLE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_SEGMENT = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
MAX_SAFE_INTEGER = 2**53 - 1
PACING_FIELDS = ("min", "max")
NEEDS_PACING = "cron next_check requires pacing on the current job"


class DurationError(ValueError):
    pass


def parse_duration_ms(raw: str) -> int:
    """The official parseDurationMs: `500ms`, `30s`, `5m`, `2h`, `1d`, composites (`1h30m`);
    a bare number is milliseconds. Non-negative, rounded to an integer."""
    text = raw.strip().lower()
    if not text:
        raise DurationError(f'Invalid duration (empty): "{raw}".')
    single = _SINGLE.match(text)
    if single:
        total = float(single.group(1)) * _UNIT_MS[single.group(2) or "ms"]
    else:
        total, consumed = 0.0, 0
        for match in _SEGMENT.finditer(text):
            if match.start() != consumed:
                raise DurationError(f'Invalid duration: "{raw}".')
            total += float(match.group(1)) * _UNIT_MS[match.group(2)]
            consumed = match.end()
        if consumed == 0 or consumed != len(text):
            raise DurationError(f'Invalid duration: "{raw}".')
    ms = round(total)
    if not math.isfinite(total) or ms > MAX_SAFE_INTEGER:
        raise DurationError(f'Invalid duration: "{raw}".')
    return ms


def _bound_ms(pacing: dict[str, Any], field: str) -> int | None:
    if field not in pacing:
        return None
    try:
        ms = parse_duration_ms(pacing[field])
    except DurationError:
        ms = 0
    if ms <= 0:
        raise ScheduleError(f"cron pacing {field} must be a positive duration")
    return ms


def pacing_bounds(pacing: dict[str, Any]) -> tuple[int | None, int | None]:
    """(min ms, max ms) of a stored pacing; ScheduleError with the official wording."""
    if "min" not in pacing and "max" not in pacing:
        raise ScheduleError("cron pacing requires at least one of min or max")
    low, high = _bound_ms(pacing, "min"), _bound_ms(pacing, "max")
    if low is not None and high is not None and low > high:
        raise ScheduleError("cron pacing min must not exceed max")
    return low, high


def validate_pacing_shape(value: Any) -> dict[str, str]:
    """The official CronPacingSchema (closed object of non-blank strings); ScheduleError."""
    if not isinstance(value, dict):
        raise ScheduleError("at /pacing: must be object")
    for key in value:
        if key not in PACING_FIELDS:
            raise ScheduleError(f"at /pacing: unexpected property '{key}'")
    for key in PACING_FIELDS:
        if key in value:
            if not isinstance(value[key], str):
                raise ScheduleError(f"at /pacing/{key}: must be string")
            if not value[key].strip():
                raise ScheduleError(f'at /pacing/{key}: must match pattern "\\S"')
    return {k: value[k] for k in PACING_FIELDS if k in value}


def paced_next_run_ms(ended_ms: int, delay_ms: int, pacing: dict[str, Any]) -> int:
    """The official resolvePacedNextRunAtMs: the proposal clamped into the bounds."""
    low, high = pacing_bounds(pacing)
    proposed = ended_ms + delay_ms
    floor = ended_ms + (low or 0)
    return min(ended_ms + high, max(floor, proposed)) if high is not None else max(floor, proposed)


def normalize_pacing(value: Any) -> dict[str, str]:
    """A pacing definition as stored (shape and bounds checked); ScheduleError."""
    pacing = validate_pacing_shape(value)
    pacing_bounds(pacing)
    return pacing
