"""Cron job schedules: validation, normalization and next-run computation. Pure.

protocol.md §6.7 (schedule shapes, create-time defaults) and §10.2 (computation). Time comes in
as epoch milliseconds; nothing here reads a clock (only cron/zones.host_timezone looks at the
host). The croner grammar lives in cron/croner.py, JavaScript time rules in cron/jstime.py.

Three kinds are scheduled by time:

- `at`: one instant (ISO-8601, offset-less means UTC, or epoch-ms digits), stored as the full
  UTC ISO string `YYYY-MM-DDTHH:MM:SS.sssZ`; accepted from now-60 s to now+10 years.
- `every`: `anchorMs + k*everyMs`, computed from the anchor each time, so it never drifts.
- `cron`: croner semantics (the official gateway uses croner 10 with default options). The
  pattern grammar is ported in cron/croner.py (`CronPattern`) with croner's own error
  messages: 5 fields, or 6 with seconds first, or 7 with a trailing year; names, ranges, `*/n`, lists, `?`, `L`, `LW`,
  `W`, `#n`/`#L`, `nL`, the `+` day-of-week modifier (AND instead of OR) and the `@` nicknames.
  Day-of-month and day-of-week are ORed when both are restricted (croner's legacy rule: only
  a literal `*` counts as unrestricted). Slots are wall-clock times in `tz` (default: the host
  zone, resolved at run time, never written into the job): a slot inside a spring-forward gap
  is skipped, a slot inside a fall-back overlap fires once, at its first occurrence.
  `staggerMs` (explicit, else 300000 for top-of-hour recurring expressions) shifts every slot
  of a job by `uint32BE(sha256(jobId)[0:4]) % staggerMs`.

Checked against the official computeNextRunAtMs (node, croner 10.0.1) on ~31 000 generated
cases: identical results and error messages except two upstream bugs we do not reproduce.
(1) croner lets a day-of-week match a day that does not exist (Feb 30) and rolls it into the
next month, so `30 9 1 * 1-5` searched from late February skips Sunday March 1 (DOM 1) and
fires Monday March 2; we fire March 1. (2) When a zone jumps by 30 minutes (Lord Howe), a
gap slot that croner shifts onto another slot of the pattern replaces the real slot just
after the gap (`10,30,40 2 ...`: official 02:40, we 02:30).
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openclaw_gateway.protocol import schema as S
from openclaw_gateway.server.cron.croner import CronPattern, compile_cron
from openclaw_gateway.server.cron.errors import ScheduleError
from openclaw_gateway.server.cron.jstime import (
    MAX_DATE_TIMESTAMP_MS,
    MAX_SAFE_INTEGER,
    ONE_MINUTE_MS,
    js_iso,
    parse_absolute_time_ms,
)
from openclaw_gateway.server.cron.zones import zone as find_zone

MIN_REFIRE_GAP_MS = 2_000
DEFAULT_TOP_OF_HOUR_STAGGER_MS = 300_000
_TEN_YEARS_MS = 315_576_000_000


# ------------------------------------------------------------------------------------------
# Shape (CronScheduleSchema), checked after the official coercions.

_TIMESTAMP = S.Int(minimum=1, maximum=MAX_DATE_TIMESTAMP_MS)
SCHEDULE_SCHEMA = S.AnyOf(
    (
        S.obj(kind=S.req(S.Const("at")), at=S.req(S.NON_EMPTY)),
        S.obj(
            kind=S.req(S.Const("every")),
            everyMs=S.req(_TIMESTAMP),
            anchorMs=S.Int(minimum=0, maximum=MAX_DATE_TIMESTAMP_MS),
        ),
        S.obj(
            kind=S.req(S.Const("cron")),
            expr=S.req(S.NON_EMPTY),
            tz=S.Str(),
            staggerMs=S.Int(minimum=0, maximum=MAX_DATE_TIMESTAMP_MS),
        ),
        S.obj(kind=S.req(S.Const("on-exit")), command=S.req(S.NON_EMPTY), cwd=S.NON_EMPTY),
        S.obj(
            kind=S.req(S.Const("stream")),
            command=S.req(S.Arr(S.NON_EMPTY, min_items=1)),
            cwd=S.NON_EMPTY,
            mode=S.Enum(("line", "match")),
            match=S.Str(),
            batchMs=S.Int(),
            maxBatchBytes=S.Int(),
        ),
    )
)
_KINDS = ("at", "every", "cron", "on-exit", "stream")


def _trimmed(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NUMERIC_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", re.IGNORECASE)


def _schedule_number(value: object) -> float | None:
    """coerceFiniteScheduleNumber: numbers or strict numeric strings, Date-valid range."""
    if _is_number(value):
        num = float(value)  # type: ignore[arg-type]
    elif isinstance(value, str) and _NUMERIC_RE.fullmatch(value.strip() or "x"):
        num = float(value.strip())
    else:
        return None
    if not math.isfinite(num) or abs(num) > MAX_DATE_TIMESTAMP_MS:
        return None
    return num


def _stagger_ms(value: object) -> int | None:
    """normalizeCronStaggerMs: a number (floored, negatives become 0) or a digit string."""
    if _is_number(value):
        num = float(value)  # type: ignore[arg-type]
        if not math.isfinite(num):
            return None
        out = max(0, math.floor(num))
    elif isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        out = int(value.strip())
        if out < 0 or out > MAX_SAFE_INTEGER:
            return None
    else:
        return None
    return out if out <= MAX_DATE_TIMESTAMP_MS else None


def _coerce(raw: dict[str, Any]) -> dict[str, Any]:
    """The official coerceSchedule for the time-based kinds (normalize.ts)."""
    nxt = dict(raw)
    kind_raw = nxt.get("kind")
    kind = kind_raw.strip().lower() if isinstance(kind_raw, str) else ""
    if kind in _KINDS:
        nxt["kind"] = kind
    kind = str(nxt.get("kind")) if isinstance(nxt.get("kind"), str) else ""
    expr = _trimmed(nxt.get("expr"))
    tz = _trimmed(nxt.get("tz"))
    every = _schedule_number(nxt.get("everyMs"))
    anchor = _schedule_number(nxt.get("anchorMs"))
    at_string = _trimmed(nxt.get("at"))
    if at_string is not None:
        at_ms = parse_absolute_time_ms(at_string)
        nxt["at"] = js_iso(at_ms) if at_ms is not None else at_string
    if expr is not None:
        nxt["expr"] = expr
    else:
        nxt.pop("expr", None)
    if tz is not None:
        nxt["tz"] = tz
    else:
        nxt.pop("tz", None)
    if every is not None and every >= 1:
        nxt["everyMs"] = math.floor(every)
    if anchor is not None and anchor >= 0:
        nxt["anchorMs"] = math.floor(anchor)
    if kind not in ("on-exit", "stream"):
        nxt.pop("command", None)
        nxt.pop("cwd", None)
    if kind != "stream":
        for key in ("mode", "match", "batchMs", "maxBatchBytes"):
            nxt.pop(key, None)
    stagger = _stagger_ms(nxt.get("staggerMs"))
    if stagger is not None:
        nxt["staggerMs"] = stagger
    elif kind == "cron" and "staggerMs" in nxt:
        raise ScheduleError(
            "schedule.staggerMs must be a valid number or non-negative integer string"
        )
    else:
        nxt.pop("staggerMs", None)
    drop: tuple[str, ...] = ()
    if kind == "at":
        drop = ("everyMs", "anchorMs", "expr", "tz", "staggerMs")
    elif kind == "every":
        drop = ("at", "expr", "tz", "staggerMs")
    elif kind == "cron":
        drop = ("at", "everyMs", "anchorMs")
    for key in drop:
        nxt.pop(key, None)
    return nxt


def normalize_schedule(
    raw: object, *, now_ms: int, host_tz: str, path: str = "/schedule"
) -> dict[str, Any]:
    """Validate and normalize a client's schedule the way `cron.add`/`cron.update` do.

    Returns a new dict: `at` as a full UTC ISO string; `every` with integer `everyMs` (and
    `anchorMs` only when given; the caller stores `createdAtMs` when it is absent); `cron` with
    the trimmed `expr`, `tz` only when given (the host zone applies at run time), and `staggerMs`
    explicit, or 300000 written in for top-of-hour recurring expressions, else absent.
    Raises ScheduleError with the official reason. `path` prefixes schema errors.
    """
    value = _coerce(raw) if isinstance(raw, dict) else raw
    errors = SCHEDULE_SCHEMA.errors(value, path)
    if errors:
        raise ScheduleError(S.format_errors(errors))
    assert isinstance(value, dict)
    kind = value["kind"]
    if kind in ("on-exit", "stream"):
        raise ScheduleError(f'schedule kind "{kind}" is not supported by this gateway')
    if kind == "at":
        _validate_at(value, now_ms)
        return value
    if kind == "every":
        return value
    expr: str = value["expr"]
    pattern = compile_cron(expr)
    zone_name = value.get("tz") or host_tz
    find_zone(zone_name)
    if "staggerMs" not in value and is_recurring_top_of_hour(expr):
        value["staggerMs"] = DEFAULT_TOP_OF_HOUR_STAGGER_MS
    if _next_base_ms(pattern, find_zone(zone_name), now_ms) is None:
        raise ScheduleError(
            f'cron expression "{expr}" has no upcoming run time and would never fire'
        )
    return value


def _validate_at(schedule: dict[str, Any], now_ms: int) -> None:
    """validateScheduleTimestamp (validate-timestamp.ts); its messages go out bare."""
    at_raw = _trimmed(schedule.get("at"))
    at_ms = parse_absolute_time_ms(at_raw) if at_raw else None
    if at_ms is None:
        raise ScheduleError(
            f"Invalid schedule.at: expected ISO-8601 timestamp (got {schedule.get('at')})",
            bare=True,
        )
    diff = at_ms - now_ms
    if diff < -ONE_MINUTE_MS:
        raise ScheduleError(
            f"schedule.at is in the past: {js_iso(at_ms)} ({math.floor(-diff / ONE_MINUTE_MS)}"
            f" minutes ago). Current time: {js_iso(now_ms)}",
            bare=True,
        )
    if diff > _TEN_YEARS_MS:
        raise ScheduleError(
            f"schedule.at is too far in the future: {js_iso(at_ms)}"
            f" ({math.floor(diff / (_TEN_YEARS_MS // 10))} years ahead). Maximum allowed: 10 years",
            bare=True,
        )
    schedule["at"] = js_iso(at_ms)


# ------------------------------------------------------------------------------------------
# Next run.

_MAX_SCAN_DAYS = 146_097 + 366  # one Gregorian cycle: if nothing matches, nothing ever will


def _first_time_after(
    pattern: CronPattern, after: tuple[int, int, int] | None
) -> tuple[int, int, int] | None:
    """The first (hour, minute, second) of the pattern strictly after `after` (None: any)."""
    for h in pattern.hours:
        if after is not None and h < after[0]:
            continue
        for mi in pattern.minutes:
            if after is not None and h == after[0] and mi < after[1]:
                continue
            for s in pattern.seconds:
                if after is not None and (h, mi, s) <= after:
                    continue
                return h, mi, s
    return None


def _next_wall(pattern: CronPattern, start: datetime) -> datetime | None:
    """The first naive wall-clock slot strictly after `start` (whole seconds)."""
    day = start.date()
    after: tuple[int, int, int] | None = (start.hour, start.minute, start.second)
    for _ in range(_MAX_SCAN_DAYS):
        if day.year > 9998:
            return None
        if not pattern.star_year and day.year not in pattern.years:
            later = [y for y in pattern.years if y > day.year]
            if not later:
                return None
            day, after = date(min(later), 1, 1), None
            continue
        if day.month not in pattern.months:
            day, after = (day.replace(day=1) + timedelta(days=32)).replace(day=1), None
            continue
        if pattern.day_matches(day):
            hms = _first_time_after(pattern, after)
            if hms is not None:
                return datetime(day.year, day.month, day.day, *hms)
        day, after = day + timedelta(days=1), None
    return None


def _next_base_ms(pattern: CronPattern, zone: ZoneInfo, after_ms: int) -> int | None:
    """The first croner slot strictly after `after_ms`, DST-normalized (gap slots skipped,
    overlap slots at their first occurrence)."""
    if after_ms >= MAX_DATE_TIMESTAMP_MS:
        return None
    try:
        local = datetime.fromtimestamp(math.floor(after_ms / 1000), zone)
    except (OverflowError, ValueError, OSError):
        return None
    wall: datetime | None = local.replace(tzinfo=None)
    while wall is not None:
        wall = _next_wall(pattern, wall)
        if wall is None:
            return None
        aware = wall.replace(tzinfo=zone, fold=0)
        instant = aware.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != wall:
            continue  # a spring-forward gap: this wall-clock slot does not exist
        ms = int(instant.timestamp()) * 1000
        if ms > after_ms:
            return ms
    return None


def is_recurring_top_of_hour(expr: str) -> bool:
    """isRecurringTopOfHourCronExpr (stagger.ts): minute 0 (and second 0) of a wildcard hour."""
    fields = expr.split()
    if len(fields) == 5:
        return fields[0] == "0" and _recurring_wildcard_hour(fields[1])
    if len(fields) == 6:
        return fields[0] == "0" and fields[1] == "0" and _recurring_wildcard_hour(fields[2])
    return False


_HOUR_LIST_PART = re.compile(r"^(?:\d+|\d+-\d+)(?:/\d+)?$|^[*?](?:/\d+)?$")


def _recurring_wildcard_hour(field: str) -> bool:
    parts = field.split(",")
    return all(_HOUR_LIST_PART.search(p) for p in parts) and any(
        p.startswith(("*", "?")) for p in parts
    )


def effective_stagger_ms(schedule: dict[str, Any]) -> int:
    """resolveCronStaggerMs: the explicit value, else the top-of-hour default, else 0."""
    explicit = _stagger_ms(schedule.get("staggerMs"))
    if explicit is not None:
        return explicit
    expr = schedule.get("expr")
    if isinstance(expr, str) and is_recurring_top_of_hour(expr):
        return DEFAULT_TOP_OF_HOUR_STAGGER_MS
    return 0


def stagger_offset_ms(job_id: str, stagger_ms: int) -> int:
    """The job's fixed offset inside its stagger window: uint32BE(sha256(id)[0:4]) % window."""
    if stagger_ms <= 1:
        return 0
    digest = hashlib.sha256(job_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % stagger_ms


def next_run_ms(
    schedule: dict[str, Any], *, job_id: str, created_at_ms: int, after_ms: int, host_tz: str
) -> int | None:
    """The job's next natural fire time strictly after `after_ms`; None when there is none.

    `at`: the instant if it is still ahead. `every`: the next anchor step (anchor = anchorMs,
    else created_at_ms). `cron`: the next DST-normalized slot in `tz` (default host_tz) plus
    the job's stagger offset. After a run, use `next_run_after_run_ms` (2 s re-fire floor).
    """
    kind = schedule.get("kind")
    if kind == "at":
        at = schedule.get("at")
        at_ms = parse_absolute_time_ms(at) if isinstance(at, str) else None
        return at_ms if at_ms is not None and at_ms > after_ms else None
    if kind == "every":
        every = _schedule_number(schedule.get("everyMs"))
        if every is None or math.floor(every) < 1:
            return None
        every_ms = math.floor(every)
        anchor_raw = schedule.get("anchorMs")
        anchor_num = _schedule_number(anchor_raw) if anchor_raw is not None else created_at_ms
        if anchor_num is None or anchor_num < 0:
            return None
        anchor = max(0, math.floor(anchor_num))
        if after_ms < anchor:
            return anchor
        nxt = anchor + ((after_ms - anchor) // every_ms + 1) * every_ms
        return nxt if nxt <= MAX_DATE_TIMESTAMP_MS else None
    if kind != "cron":
        return None
    expr = schedule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        return None
    pattern = compile_cron(expr)
    zone = find_zone(_trimmed(schedule.get("tz")) or host_tz)
    offset = stagger_offset_ms(job_id, effective_stagger_ms(schedule))
    if offset <= 0:
        return _next_base_ms(pattern, zone, after_ms)
    cursor = max(0, after_ms - offset)
    for _ in range(4):
        base = _next_base_ms(pattern, zone, cursor)
        if base is None:
            return None
        shifted = base + offset
        if after_ms < shifted <= MAX_DATE_TIMESTAMP_MS:
            return shifted
        cursor = max(cursor + 1, base + 1000)
    return None


def next_run_after_run_ms(
    schedule: dict[str, Any], *, job_id: str, created_at_ms: int, ended_at_ms: int, host_tz: str
) -> int | None:
    """The next fire time once a run ended at `ended_at_ms` (the official applyJobResult).

    A cron job never re-fires sooner than MIN_REFIRE_GAP_MS after its run ended, even when its
    expression has a slot sooner (6-field, every second); other kinds take their natural next.
    """
    natural = next_run_ms(
        schedule, job_id=job_id, created_at_ms=created_at_ms, after_ms=ended_at_ms, host_tz=host_tz
    )
    if natural is None or schedule.get("kind") != "cron":
        return natural
    return max(natural, ended_at_ms + MIN_REFIRE_GAP_MS)
