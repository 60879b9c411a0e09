"""Schedules (protocol.md §6.7, §10.2): normalization, next-run computation, DST, stagger.

Expected instants come from the official computeNextRunAtMs (croner 10.0.1) run under node;
the module was also checked against it on ~15 000 generated cases with no difference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_gateway.server.cron.croner import compile_cron
from openclaw_gateway.server.cron.errors import ScheduleError
from openclaw_gateway.server.cron.jstime import js_iso, parse_absolute_time_ms
from openclaw_gateway.server.cron.schedule import (
    DEFAULT_TOP_OF_HOUR_STAGGER_MS,
    MIN_REFIRE_GAP_MS,
    effective_stagger_ms,
    is_recurring_top_of_hour,
    next_run_after_run_ms,
    next_run_ms,
    normalize_schedule,
    stagger_offset_ms,
)
from openclaw_gateway.server.cron.zones import host_timezone

NOW = parse_absolute_time_ms("2026-11-24T16:00:00Z") or 0
MINUTE = 60_000
TEN_YEARS = 315_576_000_000


def ms(iso: str) -> int:
    value = parse_absolute_time_ms(iso)
    assert value is not None
    return value


def cron_next(expr: str, tz: str, after: str, *, job_id: str = "j", stagger: int = 0) -> str:
    schedule = {"kind": "cron", "expr": expr, "tz": tz, "staggerMs": stagger}
    nxt = next_run_ms(schedule, job_id=job_id, created_at_ms=0, after_ms=ms(after), host_tz="UTC")
    assert nxt is not None
    return js_iso(nxt)


def normalize(raw: object, now: int = NOW) -> dict[str, object]:
    return normalize_schedule(raw, now_ms=now, host_tz="Europe/Berlin")


def reason(raw: object, now: int = NOW) -> str:
    with pytest.raises(ScheduleError) as info:
        normalize_schedule(raw, now_ms=now, host_tz="Europe/Berlin")
    return str(info.value)


# -- official golden values ------------------------------------------------------------------

OFFICIAL = [
    # spring forward, Europe/Berlin 2026-03-29 02:00 -> 03:00: the 02:xx slots do not exist
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T00:30:00.000Z"),
    ("0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00.000Z"),
    ("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:50:00Z", "2026-03-29T01:00:00.000Z"),
    # fall back, Europe/Berlin 2026-10-25 03:00 CEST -> 02:00 CET: 02:xx fires once (CEST)
    ("0 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00.000Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00.000Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00.000Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:45:00Z", "2026-10-25T02:00:00.000Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-25T02:00:00.000Z"),
    # America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 EDT -> 01:00 EST
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00.000Z"),
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00.000Z"),
    ("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00.000Z"),
    ("30 1 * * *", "America/New_York", "2026-11-01T06:00:00Z", "2026-11-02T06:30:00.000Z"),
    # 6 fields: seconds first
    ("*/20 * * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:20.000Z"),
    ("15 30 9 * * 1-5", "Europe/Berlin", "2026-01-02T09:00:00Z", "2026-01-05T08:30:15.000Z"),
    # day-of-month OR day-of-week; `+` makes it AND; croner counts only a literal * as free
    ("0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00.000Z"),
    ("0 0 13 * +5", "UTC", "2026-01-01T00:00:00Z", "2026-02-13T00:00:00.000Z"),
    ("0 0 ? * MON", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00.000Z"),
    ("0 0 15 * ?", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00.000Z"),
    # L, #, W, LW
    ("0 9 * * 5L", "UTC", "2026-01-01T00:00:00Z", "2026-01-30T09:00:00.000Z"),
    ("0 9 * * 1#2", "UTC", "2026-01-01T00:00:00Z", "2026-01-12T09:00:00.000Z"),
    ("0 9 15W * *", "UTC", "2026-02-01T00:00:00Z", "2026-02-16T09:00:00.000Z"),
    ("0 12 LW * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-30T12:00:00.000Z"),
]


@pytest.mark.parametrize(("expr", "tz", "after", "expected"), OFFICIAL)
def test_next_run_matches_the_official_computation(
    expr: str, tz: str, after: str, expected: str
) -> None:
    assert cron_next(expr, tz, after) == expected


def test_first_of_month_after_a_short_month_is_not_skipped() -> None:
    # Deliberate difference: croner 10.0.1 matches the nonexistent Feb 30 (a "Monday") and
    # rolls it to March 2, skipping Sunday March 1, which DOM 1 selects (OR rule).
    assert cron_next("30 9 1 * 1-5", "UTC", "2026-02-28T12:00:00Z") == "2026-03-01T09:30:00.000Z"


def test_spring_forward_gap_slot_is_skipped_not_moved() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: that day has no 02:30 run at all.
    runs = []
    after = ms("2026-03-27T12:00:00Z")
    schedule = {"kind": "cron", "expr": "30 2 * * *", "tz": "Europe/Berlin"}
    for _ in range(3):
        nxt = next_run_ms(schedule, job_id="j", created_at_ms=0, after_ms=after, host_tz="UTC")
        assert nxt is not None
        runs.append(js_iso(nxt))
        after = nxt
    assert runs == [
        "2026-03-28T01:30:00.000Z",
        "2026-03-30T00:30:00.000Z",
        "2026-03-31T00:30:00.000Z",
    ]


@pytest.mark.parametrize(
    ("tz", "start", "end"),
    [
        ("Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z"),
        ("America/New_York", "2026-11-01T03:00:00Z", "2026-11-01T09:00:00Z"),
    ],
)
def test_fall_back_wall_clock_slots_fire_once(tz: str, start: str, end: str) -> None:
    schedule = {"kind": "cron", "expr": "*/30 * * * *", "tz": tz}
    zone = ZoneInfo(tz)
    after, walls = ms(start), []
    while True:
        nxt = next_run_ms(schedule, job_id="j", created_at_ms=0, after_ms=after, host_tz="UTC")
        assert nxt is not None
        if nxt > ms(end):
            break
        walls.append(datetime.fromtimestamp(nxt / 1000, zone).strftime("%H:%M"))
        after = nxt
    assert len(walls) == len(set(walls))  # no wall-clock slot twice
    assert len(walls) == 10  # six hours of :00/:30 minus the repeated hour's two slots


def test_cron_default_timezone_is_the_host_zone_at_run_time() -> None:
    schedule = normalize({"kind": "cron", "expr": "0 9 * * *"})
    assert "tz" not in schedule
    after = ms("2026-06-01T00:00:00Z")
    berlin = next_run_ms(
        schedule, job_id="j", created_at_ms=0, after_ms=after, host_tz="Europe/Berlin"
    )
    new_york = next_run_ms(
        schedule, job_id="j", created_at_ms=0, after_ms=after, host_tz="America/New_York"
    )
    assert berlin is not None and js_iso(berlin) == "2026-06-01T07:00:00.000Z"
    assert new_york is not None and js_iso(new_york) == "2026-06-01T13:00:00.000Z"


def test_next_run_is_strictly_after_even_on_a_slot() -> None:
    assert cron_next("0 * * * *", "UTC", "2026-01-01T10:00:00Z") == "2026-01-01T11:00:00.000Z"
    assert cron_next("0 * * * *", "UTC", "2026-01-01T09:59:59.999Z") == "2026-01-01T10:00:00.000Z"


def test_two_second_refire_floor_after_a_run() -> None:
    schedule = {"kind": "cron", "expr": "* * * * * *", "tz": "UTC"}
    ended = ms("2026-01-01T00:00:00.500Z")
    natural = next_run_ms(schedule, job_id="j", created_at_ms=0, after_ms=ended, host_tz="UTC")
    after_run = next_run_after_run_ms(
        schedule, job_id="j", created_at_ms=0, ended_at_ms=ended, host_tz="UTC"
    )
    assert natural == ms("2026-01-01T00:00:01Z")
    assert after_run == ended + MIN_REFIRE_GAP_MS
    every = {"kind": "every", "everyMs": 1000, "anchorMs": 0}
    assert next_run_after_run_ms(
        every, job_id="j", created_at_ms=0, ended_at_ms=ended, host_tz="UTC"
    ) == ms("2026-01-01T00:00:01Z")


# -- stagger -----------------------------------------------------------------------------------


def test_stagger_offset_is_sha256_of_the_job_id() -> None:
    # Official: computeJobNextRunAtMs for id "abc", "0 * * * *", staggerMs 300000 -> +32319 ms.
    assert stagger_offset_ms("abc", 300_000) == 32_319
    assert stagger_offset_ms("abc", 300_000) == stagger_offset_ms("abc", 300_000)
    assert stagger_offset_ms("abc", 1) == 0
    assert stagger_offset_ms("abc", 0) == 0
    offsets = {stagger_offset_ms(f"job-{n}", 300_000) for n in range(50)}
    assert len(offsets) > 40 and all(0 <= o < 300_000 for o in offsets)


def test_stagger_shifts_every_slot_by_the_same_offset() -> None:
    got = cron_next("0 * * * *", "UTC", "1970-01-01T00:00:00Z", job_id="abc", stagger=300_000)
    assert got == "1970-01-01T01:00:32.319Z"
    # A slot whose shifted time is still ahead is not skipped.
    got = cron_next("0 * * * *", "UTC", "1970-01-01T01:00:10Z", job_id="abc", stagger=300_000)
    assert got == "1970-01-01T01:00:32.319Z"


@pytest.mark.parametrize(
    ("expr", "top"),
    [
        ("0 * * * *", True),
        ("0 */2 * * *", True),
        ("0 9-17,* * * *", True),
        ("0 ? * * *", True),
        ("0 0 * * * *", True),
        ("0 9 * * *", False),
        ("0 9-17 * * *", False),
        ("5 * * * *", False),
        ("30 0 * * * *", False),
        ("@hourly", False),
    ],
)
def test_top_of_hour_detection(expr: str, top: bool) -> None:
    assert is_recurring_top_of_hour(expr) is top


def test_top_of_hour_stagger_default_is_written_at_create() -> None:
    assert normalize({"kind": "cron", "expr": "0 * * * *"}) == {
        "kind": "cron",
        "expr": "0 * * * *",
        "staggerMs": DEFAULT_TOP_OF_HOUR_STAGGER_MS,
    }
    assert normalize({"kind": "cron", "expr": "0 9 * * *"}) == {"kind": "cron", "expr": "0 9 * * *"}
    assert normalize({"kind": "cron", "expr": "0 * * * *", "staggerMs": 0})["staggerMs"] == 0
    assert effective_stagger_ms({"kind": "cron", "expr": "0 * * * *"}) == 300_000
    assert effective_stagger_ms({"kind": "cron", "expr": "0 9 * * *"}) == 0


# -- every -------------------------------------------------------------------------------------


def test_every_anchor_never_drifts() -> None:
    schedule = {"kind": "every", "everyMs": 7_001, "anchorMs": 1_000}
    after = 0
    for k in range(10_000):
        nxt = next_run_ms(schedule, job_id="j", created_at_ms=5, after_ms=after, host_tz="UTC")
        assert nxt == 1_000 + k * 7_001
        after = nxt + (k % 7)  # late wake-ups do not move the grid
    assert next_run_ms(schedule, job_id="j", created_at_ms=5, after_ms=999, host_tz="UTC") == 1_000


def test_every_without_anchor_uses_created_at() -> None:
    schedule = normalize({"kind": "every", "everyMs": 60_000})
    assert schedule == {"kind": "every", "everyMs": 60_000}
    assert (
        next_run_ms(schedule, job_id="j", created_at_ms=100, after_ms=100, host_tz="UTC") == 60_100
    )
    assert next_run_ms(schedule, job_id="j", created_at_ms=100, after_ms=50, host_tz="UTC") == 100


def test_every_coercions() -> None:
    assert normalize({"kind": "Every", "everyMs": "60000", "anchorMs": 5.7}) == {
        "kind": "every",
        "everyMs": 60_000,
        "anchorMs": 5,
    }


# -- at ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("2026-12-01", "2026-12-01T00:00:00.000Z"),
        ("2026-12-01T10:00", "2026-12-01T10:00:00.000Z"),
        ("2026-12-01T10:00:05.1234Z", "2026-12-01T10:00:05.123Z"),
        ("2026-12-01T10:00+01:00", "2026-12-01T09:00:00.000Z"),
        ("2026-12-01T10:00-0530", "2026-12-01T15:30:00.000Z"),
        ("2026-12-01T24:00", "2026-12-02T00:00:00.000Z"),
        (" 2026-12-01t10:00z ", "2026-12-01T10:00:00.000Z"),
        ("1796000000000", "2026-11-30T00:53:20.000Z"),
    ],
)
def test_at_is_normalized_to_utc_iso(raw: str, normalized: str) -> None:
    assert normalize({"kind": "at", "at": raw}) == {"kind": "at", "at": normalized}


def test_at_bounds() -> None:
    assert normalize({"kind": "at", "at": js_iso(NOW - MINUTE)})["at"] == js_iso(NOW - MINUTE)
    assert reason({"kind": "at", "at": js_iso(NOW - MINUTE - 1)}) == (
        "schedule.at is in the past: 2026-11-24T15:58:59.999Z (1 minutes ago)."
        " Current time: 2026-11-24T16:00:00.000Z"
    )
    assert normalize({"kind": "at", "at": js_iso(NOW + TEN_YEARS)})["at"] == js_iso(NOW + TEN_YEARS)
    assert reason({"kind": "at", "at": js_iso(NOW + TEN_YEARS + 1)}) == (
        "schedule.at is too far in the future: 2036-11-24T04:00:00.001Z (10 years ahead)."
        " Maximum allowed: 10 years"
    )


def test_at_errors_are_bare_and_the_rest_are_not() -> None:
    with pytest.raises(ScheduleError) as info:
        normalize({"kind": "at", "at": "tomorrow"})
    assert info.value.bare
    assert str(info.value) == "Invalid schedule.at: expected ISO-8601 timestamp (got tomorrow)"
    with pytest.raises(ScheduleError) as info:
        normalize({"kind": "cron", "expr": "61 * * * *"})
    assert not info.value.bare


@pytest.mark.parametrize(
    "raw", ["2026-02-30", "2026-13-01", "2026-01-01T10:60", "2026-01-01 10:00"]
)
def test_at_rejects_invalid_calendar_values(raw: str) -> None:
    assert parse_absolute_time_ms(raw) is None


def test_at_next_run() -> None:
    schedule = {"kind": "at", "at": "2026-12-01T00:00:00.000Z"}
    at = ms("2026-12-01T00:00:00Z")
    assert next_run_ms(schedule, job_id="j", created_at_ms=0, after_ms=at - 1, host_tz="UTC") == at
    assert next_run_ms(schedule, job_id="j", created_at_ms=0, after_ms=at, host_tz="UTC") is None


# -- invalid input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "* * * *",
            "CronPattern: invalid configuration format ('* * * *'), exactly five, six, or seven"
            " space separated parts are required.",
        ),
        ("60 * * * *", "CronPattern: Invalid value for minute: 60"),
        ("0 0 32 * *", "CronPattern: Invalid value for day: 31"),
        ("0 0 * 13 *", "CronPattern: Invalid value for month: 12"),
        ("0 0 * * 8", "CronPattern: Invalid value for dayOfWeek: 8"),
        (
            "5/15 * * * *",
            "CronPattern: Syntax error, stepping with numeric prefix ('5/15') is not allowed."
            " Use wildcard (*/step) or range (min-max/step) instead.",
        ),
        ("*/0 * * * *", "CronPattern: Syntax error, illegal stepping: 0"),
        ("0 0 5-2 * *", "CronPattern: From value is larger than to value: '5-2'"),
        ("a * * * *", "CronPattern: configuration entry 1 (a) contains illegal characters."),
        (
            "0 0 * * 1#6",
            "CronPattern: nth weekday out of range, should be 1-5 or L. Value: 6, Type: string",
        ),
        ("0 0 * * +", "CronPattern: Day-of-week field cannot be empty after '+' modifier."),
        (
            "0 0 30 2 *",
            'cron expression "0 0 30 2 *" has no upcoming run time and would never fire',
        ),
    ],
)
def test_invalid_cron_expressions(expr: str, message: str) -> None:
    assert reason({"kind": "cron", "expr": expr, "tz": "UTC"}) == message


def test_invalid_timezone() -> None:
    assert reason({"kind": "cron", "expr": "0 9 * * *", "tz": "Mars/Base"}) == (
        "CronDate: Failed to convert date to timezone 'Mars/Base'. This may happen with invalid"
        " timezone names or dates. Original error: toTZ: Invalid timezone 'Mars/Base' or date."
        " Please provide a valid IANA timezone (e.g., 'America/New_York', 'Europe/Stockholm')."
        " Original error: Invalid time zone specified: Mars/Base"
    )


def test_timezone_names_are_case_insensitive_like_intl() -> None:
    assert normalize({"kind": "cron", "expr": "0 9 * * *", "tz": "europe/berlin"})["tz"] == (
        "europe/berlin"
    )
    assert cron_next("0 9 * * *", "europe/berlin", "2026-06-01T00:00:00Z") == (
        "2026-06-01T07:00:00.000Z"
    )


def test_invalid_stagger() -> None:
    assert reason({"kind": "cron", "expr": "0 9 * * *", "staggerMs": "soon"}) == (
        "schedule.staggerMs must be a valid number or non-negative integer string"
    )


def test_shape_errors_use_the_schema_wording() -> None:
    assert reason({"kind": "every", "everyMs": 0}) == (
        "at /schedule: must have required property 'at'; at /schedule: unexpected property"
        " 'everyMs'; at /schedule/kind: must be equal to constant; at /schedule/everyMs: must"
        " be >= 1; at /schedule: must have required property 'expr'; at /schedule: must have"
        " required property 'command'; at /schedule: must match a schema in anyOf"
    )
    assert "unexpected property 'foo'" in reason({"kind": "cron", "expr": "0 9 * * *", "foo": 1})
    assert "must match a schema in anyOf" in reason({"kind": "weekly"})
    assert (
        reason("0 9 * * *")
        == "at /schedule: must be object; at /schedule: must match a schema in anyOf"
    )
    assert reason({"kind": "on-exit", "command": "true"}) == (
        'schedule kind "on-exit" is not supported by this gateway'
    )


def test_fields_of_other_kinds_are_dropped_like_the_official_normalizer() -> None:
    assert normalize({"kind": "cron", "expr": " 0 9 * * * ", "tz": " ", "everyMs": 5}) == {
        "kind": "cron",
        "expr": "0 9 * * *",
    }


def test_nicknames_and_names() -> None:
    assert cron_next("@daily", "UTC", "2026-01-01T10:00:00Z") == "2026-01-02T00:00:00.000Z"
    assert cron_next("0 0 1 JAN-MAR SUN", "UTC", "2026-01-02T00:00:00Z") == (
        "2026-01-04T00:00:00.000Z"
    )
    assert compile_cron("0 0 * * 7").day_matches(datetime(2026, 1, 4).date())


def test_host_timezone_is_a_valid_zone() -> None:
    ZoneInfo(host_timezone())


# -- properties --------------------------------------------------------------------------------

EXPRS = st.sampled_from(
    [
        "*/15 * * * *",
        "0 * * * *",
        "30 2 * * *",
        "0,30 1-3 * * *",
        "*/7 2 * * 0",
        "0 30 2 * * *",
        "*/20 * 2 * * *",
        "0 0 13 * 5",
    ]
)
ZONES = st.sampled_from(
    ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "UTC"]
)
STARTS = st.integers(min_value=ms("2011-01-01T00:00:00Z"), max_value=ms("2030-01-01T00:00:00Z"))


def _wall_matches(expr: str, wall: datetime) -> bool:
    """The slot's wall-clock time is one the expression names (a gap slot moved past the gap,
    say 02:30 -> 03:30, would not be)."""
    pattern = compile_cron(expr)
    return (
        pattern.day_matches(wall.date())
        and wall.hour in pattern.hours
        and wall.minute in pattern.minutes
        and wall.second in pattern.seconds
    )


@settings(max_examples=150, deadline=None)
@given(expr=EXPRS, tz=ZONES, start=STARTS, job=st.sampled_from(["a", "b", "nightly"]))
def test_iterated_next_runs_increase_and_avoid_gaps(
    expr: str, tz: str, start: int, job: str
) -> None:
    schedule = {"kind": "cron", "expr": expr, "tz": tz}
    zone = ZoneInfo(tz)
    after = start
    seen_walls: set[str] = set()
    for _ in range(40):
        nxt = next_run_ms(schedule, job_id=job, created_at_ms=0, after_ms=after, host_tz="UTC")
        assert nxt is not None and nxt > after
        base = nxt - stagger_offset_ms(job, effective_stagger_ms(schedule))
        assert base % 1000 == 0
        local = datetime.fromtimestamp(base // 1000, zone)
        assert _wall_matches(expr, local.replace(tzinfo=None))
        wall = local.strftime("%Y-%m-%d %H:%M:%S")
        assert wall not in seen_walls  # each wall-clock slot fires once
        seen_walls.add(wall)
        # and it is the first occurrence of that wall time
        assert local.replace(fold=0).astimezone(UTC).timestamp() * 1000 == base
        after = nxt
