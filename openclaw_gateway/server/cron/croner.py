"""Croner patterns: croner 10.0.1's CronPattern with default options, ported. Pure.

The grammar and error messages are croner's (see cron/schedule.py for what was checked against
the official computation and the two upstream bugs not reproduced).
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from openclaw_gateway.server.cron.errors import ScheduleError

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


class CronPattern:
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


_PATTERN_CACHE: dict[str, CronPattern] = {}


def compile_cron(expr: str) -> CronPattern:
    """Parse a croner pattern (trimmed); raises ScheduleError with croner's message."""
    key = expr.strip()
    cached = _PATTERN_CACHE.get(key)
    if cached is None:
        cached = CronPattern(key)
        if len(_PATTERN_CACHE) >= 512:
            _PATTERN_CACHE.pop(next(iter(_PATTERN_CACHE)))
        _PATTERN_CACHE[key] = cached
    return cached
