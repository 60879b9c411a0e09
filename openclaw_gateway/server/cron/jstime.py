"""JavaScript time semantics the official gateway relies on: `Date` ISO output and the absolute
time parser of the cron `at` schedule (parse.ts / iso-time.ts). Pure.
"""

from __future__ import annotations

import re

MAX_DATE_TIMESTAMP_MS = 8_640_000_000_000_000  # the JavaScript Date range
MAX_SAFE_INTEGER = 2**53 - 1
ONE_MINUTE_MS = 60_000
DAY_MS = 86_400_000


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
    days, rest = divmod(ms, DAY_MS)
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
        return n if 0 < n <= min(MAX_SAFE_INTEGER, MAX_DATE_TIMESTAMP_MS) else None
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
        offset_ms = (oh * 60 + om) * ONE_MINUTE_MS * (1 if offset[0] == "+" else -1)
    ms = (
        _days_from_civil(year, month, day) * DAY_MS
        + ((hour * 60 + minute) * 60 + second) * 1000
        + millis
        - offset_ms
    )
    return ms if abs(ms) <= MAX_DATE_TIMESTAMP_MS else None
