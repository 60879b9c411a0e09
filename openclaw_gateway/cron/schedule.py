"""Cron job schedules: validation, normalization and next-run computation. Pure.

protocol.md §6.7 (schedule shapes, create-time defaults) and §10.2 (computation). Time comes in
as epoch milliseconds; nothing here reads a clock. Only `host_timezone()` looks at the host.

Three kinds are scheduled by time:

- `at`: one instant (ISO-8601, offset-less means UTC, or epoch-ms digits), stored as the full
  UTC ISO string `YYYY-MM-DDTHH:MM:SS.sssZ`; accepted from now-60 s to now+10 years.
- `every`: `anchorMs + k*everyMs`, computed from the anchor each time, so it never drifts.
- `cron`: croner semantics (the official gateway uses croner 10 with default options). The
  pattern grammar is ported here (`_Pattern`) with croner's own error messages: 5 fields, or 6
  with seconds first, or 7 with a trailing year; names, ranges, `*/n`, lists, `?`, `L`, `LW`,
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

import calendar
import functools
import hashlib
import math
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from openclaw_gateway.protocol import schema as S

MIN_REFIRE_GAP_MS = 2_000
DEFAULT_TOP_OF_HOUR_STAGGER_MS = 300_000
MAX_DATE_TIMESTAMP_MS = 8_640_000_000_000_000
_MAX_SAFE_INTEGER = 2**53 - 1
_ONE_MINUTE_MS = 60_000
_TEN_YEARS_MS = 315_576_000_000
_DAY_MS = 86_400_000


class ScheduleError(ValueError):
    """A schedule the gateway refuses; the message is the human reason.

    `bare` is True for the `schedule.at` timestamp checks, which the official gateway sends as
    the whole error message; every other reason goes out as `invalid cron.<op> params: <reason>`.
    """

    def __init__(self, message: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.bare = bare


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
        if out < 0 or out > _MAX_SAFE_INTEGER:
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
    _zone(zone_name)
    if "staggerMs" not in value and is_recurring_top_of_hour(expr):
        value["staggerMs"] = DEFAULT_TOP_OF_HOUR_STAGGER_MS
    if _next_base_ms(pattern, _zone(zone_name), now_ms) is None:
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
    if diff < -_ONE_MINUTE_MS:
        raise ScheduleError(
            f"schedule.at is in the past: {js_iso(at_ms)} ({math.floor(-diff / _ONE_MINUTE_MS)}"
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
# Absolute times (parse.ts / iso-time.ts).

_ISO_ABSOLUTE_RE = re.compile(
    r"(?!-000000)([+-]\d{6}|\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?"
)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 for a proleptic Gregorian date (any year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return (31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def js_iso(ms: int) -> str:
    """JavaScript's Date.prototype.toISOString for a Date-valid millisecond timestamp."""
    days, rest = divmod(ms, _DAY_MS)
    year, month, day = _civil_from_days(days)
    secs, millis = divmod(rest, 1000)
    ystr = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    return (
        f"{ystr}-{month:02d}-{day:02d}T{secs // 3600:02d}:{secs // 60 % 60:02d}:"
        f"{secs % 60:02d}.{millis:03d}Z"
    )


def parse_absolute_time_ms(value: str) -> int | None:
    """parseAbsoluteTimeMs: epoch-ms digits or ISO-8601 (offset-less = UTC); None if invalid."""
    raw = value.strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit():
        n = int(raw)
        return n if 0 < n <= min(_MAX_SAFE_INTEGER, MAX_DATE_TIMESTAMP_MS) else None
    m = _ISO_ABSOLUTE_RE.fullmatch(raw)
    if m is None:
        return None
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    hour, minute, second = int(m[4] or 0), int(m[5] or 0), int(m[6] or 0)
    fraction = m[7]
    millis = int(fraction[1:4].ljust(3, "0")) if fraction else 0
    zero_fraction = not fraction or not re.search(r"[1-9]", fraction)
    end_of_day = hour == 24 and minute == 0 and second == 0 and zero_fraction
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return None
    if not ((hour <= 23 or end_of_day) and minute <= 59 and second <= 59):
        return None
    offset_ms = 0
    offset = m[8]
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:])
        if oh > 23 or om > 59:
            return None
        offset_ms = (oh * 60 + om) * _ONE_MINUTE_MS * (1 if offset[0] == "+" else -1)
    ms = (
        _days_from_civil(year, month, day) * _DAY_MS
        + ((hour * 60 + minute) * 60 + second) * 1000
        + millis
        - offset_ms
    )
    return ms if abs(ms) <= MAX_DATE_TIMESTAMP_MS else None


# ------------------------------------------------------------------------------------------
# Croner patterns (croner 10.0.1 CronPattern with default options, ported).

_NTH_BITS = (1, 2, 4, 8, 16)
_LAST_NTH = 32
_ALL_NTH = 63
_SIZES = {
    "second": 60,
    "minute": 60,
    "hour": 24,
    "day": 31,
    "month": 12,
    "dayOfWeek": 7,
    "year": 10000,
    "nearestWeekdays": 31,
}
_ILLEGAL_DOM = re.compile(r"[^/*0-9,\-WwLl]+")
_ILLEGAL_DOW = re.compile(r"[^/*0-9,\-#Ll]+")
_ILLEGAL = re.compile(r"[^/*0-9,\-]+")
_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _js_parse_int(text: str) -> int | None:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m[1]) if m else None


class _Pattern:
    """A parsed croner pattern; `values[field]` holds the set flags croner keeps in arrays."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.values: dict[str, list[int]] = {k: [0] * n for k, n in _SIZES.items()}
        self.last_day_of_month = False
        self.last_weekday = False
        self.star_dom = False
        self.star_dow = False
        self.star_year = False
        self.and_logic = False
        self._parse()
        self.seconds = [i for i, v in enumerate(self.values["second"]) if v]
        self.minutes = [i for i, v in enumerate(self.values["minute"]) if v]
        self.hours = [i for i, v in enumerate(self.values["hour"]) if v]
        self.months = {i + 1 for i, v in enumerate(self.values["month"]) if v}
        self.years = {i for i, v in enumerate(self.values["year"]) if v}
        self.days = {i + 1 for i, v in enumerate(self.values["day"]) if v}
        self.nearest = [i + 1 for i, v in enumerate(self.values["nearestWeekdays"]) if v]
        self.dow = self.values["dayOfWeek"]

    def _parse(self) -> None:
        if "@" in self.pattern:
            nick = self.pattern.strip().lower()
            if nick == "@reboot":
                raise ScheduleError(
                    "CronPattern: @reboot is not supported in this environment. This is an "
                    "event-based trigger that requires system startup detection."
                )
            self.pattern = _NICKNAMES.get(nick, self.pattern).strip()
        parts = self.pattern.split() or [""]
        if not 5 <= len(parts) <= 7:
            raise ScheduleError(
                f"CronPattern: invalid configuration format ('{self.pattern}'), exactly five,"
                " six, or seven space separated parts are required."
            )
        if len(parts) == 5:
            parts.insert(0, "0")
        if len(parts) == 6:
            parts.append("*")
        if parts[3].upper() == "LW":
            self.last_weekday = True
            parts[3] = ""
        elif "L" in parts[3].upper():
            parts[3] = re.sub("[Ll]", "", parts[3])
            self.last_day_of_month = True
        self.star_dom = parts[3] == "*"
        self.star_year = parts[6] == "*"
        if len(parts[4]) >= 3:
            parts[4] = _replace_alpha_months(parts[4])
        if len(parts[5]) >= 3:
            parts[5] = _replace_alpha_days(parts[5])
        if parts[5].startswith("+"):
            self.and_logic = True
            parts[5] = parts[5][1:]
            if parts[5] == "":
                raise ScheduleError(
                    "CronPattern: Day-of-week field cannot be empty after '+' modifier."
                )
        self.star_dow = parts[5] == "*"
        if "?" in self.pattern:
            parts = [p.replace("?", "*") for p in parts]
        for index, part in enumerate(parts):
            illegal = _ILLEGAL_DOM if index == 3 else _ILLEGAL_DOW if index == 5 else _ILLEGAL
            if illegal.search(part):
                raise ScheduleError(
                    f"CronPattern: configuration entry {index} ({part}) contains illegal"
                    " characters."
                )
        self._part("second", parts[0], 0, 1)
        self._part("minute", parts[1], 0, 1)
        self._part("hour", parts[2], 0, 1)
        self._part("day", parts[3], -1, 1)
        self._part("month", parts[4], -1, 1)
        self._part("dayOfWeek", parts[5], 0, _ALL_NTH)
        self._part("year", parts[6], 0, 1)

    def _part(self, field: str, text: str, offset: int, value: int) -> None:
        last_ok = field == "day" and (self.last_day_of_month or self.last_weekday)
        if text == "" and not last_ok:
            raise ScheduleError(
                f"CronPattern: configuration entry {field} ({text}) is empty, check for"
                " trailing spaces."
            )
        if text == "*":
            self.values[field] = [value] * _SIZES[field]
            return
        items = text.split(",")
        if len(items) > 1:
            for item in items:
                self._part(field, item, offset, value)
        elif "-" in text and "/" in text:
            self._range_with_step(text, field, offset, value)
        elif "-" in text:
            self._range(text, field, offset, value)
        elif "/" in text:
            self._step(text, field, offset, value)
        elif text != "":
            self._number(text, field, offset, value)

    def _nth(self, text: str, field: str) -> tuple[str, str | None]:
        if "#" in text:
            if field != "dayOfWeek":
                raise ScheduleError("CronPattern: nth (#) only allowed in day-of-week field")
            pieces = text.split("#")
            return pieces[0], pieces[1]
        if text.upper().endswith("L"):
            if field != "dayOfWeek":
                raise ScheduleError(
                    "CronPattern: L modifier only allowed in day-of-week field (use L alone"
                    " for day-of-month)"
                )
            return text[:-1], "L"
        return text, None

    def _number(self, text: str, field: str, offset: int, value: int) -> None:
        base, nth = self._nth(text, field)
        nearest = "W" in text.upper()
        if field != "day" and nearest:
            raise ScheduleError(
                "CronPattern: Nearest weekday modifier (W) only allowed in day-of-month."
            )
        if nearest:
            field = "nearestWeekdays"
        parsed = _js_parse_int(base)
        if parsed is None:
            raise ScheduleError(f"CronPattern: {field} is not a number: '{text}'")
        self._set(field, parsed + offset, nth if nth is not None else value)

    def _check_range(self, low: int, high: int, step: int | None, field: str, text: str) -> None:
        if low > high:
            raise ScheduleError(f"CronPattern: From value is larger than to value: '{text}'")
        if step is not None:
            if step == 0:
                raise ScheduleError("CronPattern: Syntax error, illegal stepping: 0")
            if step > _SIZES[field]:
                raise ScheduleError(
                    "CronPattern: Syntax error, steps cannot be greater than maximum value of"
                    f" part ({_SIZES[field]})"
                )

    def _range_with_step(self, text: str, field: str, offset: int, value: int) -> None:
        if "W" in text.upper():
            raise ScheduleError(
                "CronPattern: Syntax error, W is not allowed in ranges with stepping."
            )
        base, nth = self._nth(text, field)
        m = re.fullmatch(r"(\d+)-(\d+)/(\d+)", base)
        if m is None:
            raise ScheduleError(f"CronPattern: Syntax error, illegal range with stepping: '{text}'")
        low, high, step = int(m[1]) + offset, int(m[2]) + offset, int(m[3])
        self._check_range(low, high, step, field, text)
        for v in range(low, high + 1, step):
            self._set(field, v, nth if nth is not None else value)

    def _range(self, text: str, field: str, offset: int, value: int) -> None:
        if "W" in text.upper():
            raise ScheduleError("CronPattern: Syntax error, W is not allowed in a range.")
        base, nth = self._nth(text, field)
        bounds = base.split("-")
        if len(bounds) != 2:
            raise ScheduleError(f"CronPattern: Syntax error, illegal range: '{text}'")
        low, high = _js_parse_int(bounds[0]), _js_parse_int(bounds[1])
        if low is None:
            raise ScheduleError("CronPattern: Syntax error, illegal lower range (NaN)")
        if high is None:
            raise ScheduleError("CronPattern: Syntax error, illegal upper range (NaN)")
        low, high = low + offset, high + offset
        self._check_range(low, high, None, field, text)
        for v in range(low, high + 1):
            self._set(field, v, nth if nth is not None else value)

    def _step(self, text: str, field: str, offset: int, value: int) -> None:
        if "W" in text.upper():
            raise ScheduleError(
                "CronPattern: Syntax error, W is not allowed in parts with stepping."
            )
        base, nth = self._nth(text, field)
        pieces = base.split("/")
        if len(pieces) != 2:
            raise ScheduleError(f"CronPattern: Syntax error, illegal stepping: '{text}'")
        hint = "Use wildcard (*/step) or range (min-max/step) instead."
        if pieces[0] == "":
            raise ScheduleError(
                f"CronPattern: Syntax error, stepping with missing prefix ('{text}') is not"
                f" allowed. {hint}"
            )
        if pieces[0] != "*":
            raise ScheduleError(
                f"CronPattern: Syntax error, stepping with numeric prefix ('{text}') is not"
                f" allowed. {hint}"
            )
        step = _js_parse_int(pieces[1])
        if step is None:
            raise ScheduleError("CronPattern: Syntax error, illegal stepping: (NaN)")
        self._check_range(0, _SIZES[field] - 1, step, field, text)
        for v in range(0, _SIZES[field], step):
            self._set(field, v, nth if nth is not None else value)

    def _set(self, field: str, index: int, value: int | str) -> None:
        if field == "dayOfWeek":
            if index == 7:
                index = 0
            if not 0 <= index <= 6:
                raise ScheduleError(f"CronPattern: Invalid value for dayOfWeek: {index}")
            self._set_nth(index, value)
            return
        size = _SIZES[field]
        if field == "year":
            if not 1 <= index < size:
                raise ScheduleError(
                    f"CronPattern: Invalid value for year: {index} (supported range: 1-9999)"
                )
        elif not 0 <= index < size:
            raise ScheduleError(f"CronPattern: Invalid value for {field}: {index}")
        self.values[field][index] = 1

    def _set_nth(self, dow: int, nth: int | str) -> None:
        current = self.values["dayOfWeek"]
        if isinstance(nth, str) and nth.upper() == "L":
            current[dow] |= _LAST_NTH
            return
        if nth == _ALL_NTH:
            current[dow] = _ALL_NTH
            return
        number = _js_number(nth)
        if number is not None and 0 < number < 6 and number == int(number):
            current[dow] |= _NTH_BITS[int(number) - 1]
            return
        raise ScheduleError(
            "CronPattern: nth weekday out of range, should be 1-5 or L. Value: "
            f"{nth}, Type: {'string' if isinstance(nth, str) else 'number'}"
        )

    # -- matching (croner's CronDate day rule) -------------------------------------------

    def day_matches(self, day: date) -> bool:
        y, mo, d = day.year, day.month, day.day
        if not self.star_year and y not in self.years:
            return False
        if mo not in self.months:
            return False
        last = calendar.monthrange(y, mo)[1]
        hit = d in self.days
        if not hit:
            for wanted in self.nearest:
                if _nearest_weekday(y, mo, wanted, last) == d:
                    hit = True
                    break
        if self.last_weekday and d == _last_weekday(y, mo, last):
            hit = True
        if self.last_day_of_month and d == last:
            hit = True
        if not self.star_dow:
            flags = self.dow[(day.weekday() + 1) % 7]
            dow_hit = bool(flags) and _is_nth_weekday(d, last, flags)
            both = self.and_logic or self.star_dom
            hit = (hit and dow_hit) if both else (hit or dow_hit)
        return hit


def _js_number(value: int | str) -> float | None:
    if isinstance(value, int):
        return float(value)
    text = value.strip()
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        return None


def _replace_alpha_days(text: str) -> str:
    out = re.sub("-sun", "-7", text, flags=re.IGNORECASE)
    for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat")):
        out = re.sub(name, str(number), out, flags=re.IGNORECASE)
    return out


def _replace_alpha_months(text: str) -> str:
    names = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    out = text
    for number, name in enumerate(names, start=1):
        out = re.sub(name, str(number), out, flags=re.IGNORECASE)
    return out


def _weekday_sun0(y: int, mo: int, d: int) -> int:
    return (date(y, mo, d).weekday() + 1) % 7


def _nearest_weekday(y: int, mo: int, wanted: int, last: int) -> int:
    if wanted > last:
        return -1
    wd = _weekday_sun0(y, mo, wanted)
    if wd == 0:
        return wanted - 2 if wanted == last else wanted + 1
    if wd == 6:
        return wanted + 2 if wanted == 1 else wanted - 1
    return wanted


def _last_weekday(y: int, mo: int, last: int) -> int:
    wd = _weekday_sun0(y, mo, last)
    return last - 2 if wd == 0 else last - 1 if wd == 6 else last


def _is_nth_weekday(d: int, last: int, flags: int) -> bool:
    occurrence = (d - 1) // 7 + 1
    if flags & _ALL_NTH and _NTH_BITS[occurrence - 1] & flags:
        return True
    return bool(flags & _LAST_NTH) and d + 7 > last


_PATTERN_CACHE: dict[str, _Pattern] = {}


def compile_cron(expr: str) -> _Pattern:
    """Parse a croner pattern (trimmed); raises ScheduleError with croner's message."""
    key = expr.strip()
    cached = _PATTERN_CACHE.get(key)
    if cached is None:
        cached = _Pattern(key)
        if len(_PATTERN_CACHE) >= 512:
            _PATTERN_CACHE.pop(next(iter(_PATTERN_CACHE)))
        _PATTERN_CACHE[key] = cached
    return cached


# ------------------------------------------------------------------------------------------
# Time zones.


@functools.lru_cache(maxsize=1)
def _zone_names_by_folded_case() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; like Intl (which croner uses), the name is case-insensitive."""
    if name and ".." not in name and not name.startswith("/"):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            canonical = _zone_names_by_folded_case().get(name.lower())
            if canonical is not None:
                return ZoneInfo(canonical)
    raise ScheduleError(
        f"CronDate: Failed to convert date to timezone '{name}'. This may happen with invalid"
        f" timezone names or dates. Original error: toTZ: Invalid timezone '{name}' or date."
        " Please provide a valid IANA timezone (e.g., 'America/New_York',"
        f" 'Europe/Stockholm'). Original error: Invalid time zone specified: {name}"
    )


def host_timezone() -> str:
    """The host's IANA zone: $TZ, /etc/timezone, the /etc/localtime link; else "UTC"."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").strip().lstrip(":")
    if tz_env:
        candidates.append(tz_env.split("zoneinfo/", 1)[-1])
    try:
        candidates.append(Path("/etc/timezone").read_text().strip().splitlines()[0].strip())
    except (OSError, IndexError):
        pass
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            candidates.append(link.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        try:
            _zone(name)
        except ScheduleError:
            continue
        return name
    return "UTC"


# ------------------------------------------------------------------------------------------
# Next run.

_MAX_SCAN_DAYS = 146_097 + 366  # one Gregorian cycle: if nothing matches, nothing ever will


def _first_time_after(
    pattern: _Pattern, after: tuple[int, int, int] | None
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


def _next_wall(pattern: _Pattern, start: datetime) -> datetime | None:
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


def _next_base_ms(pattern: _Pattern, zone: ZoneInfo, after_ms: int) -> int | None:
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
    zone = _zone(_trimmed(schedule.get("tz")) or host_tz)
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
