"""Console/file log format, redaction, rotation and the logs.tail reader."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

from openclaw_gateway.core.logs import (
    FileLog,
    Logger,
    Redactor,
    default_log_path,
    read_tail,
    short_id,
)

FIXED = dt.datetime(2026, 11, 24, 15, 57, 35, 460000, tzinfo=dt.UTC)


def make_logger(tmp_path: Path, **kw: object) -> tuple[Logger, io.StringIO, io.StringIO, Path]:
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "gw.log"
    fl = FileLog(path)
    fl.open()
    logger = Logger(
        redactor=Redactor(["s3cret-token-value"]),
        file_log=fl,
        stdout=out,
        stderr=err,
        clock=lambda: FIXED,
        **kw,
    )  # type: ignore[arg-type]
    return logger, out, err, path


def test_console_line_format_and_streams(tmp_path: Path) -> None:
    logger, out, err, _ = make_logger(tmp_path)
    logger.info("gateway", "loading configuration…")
    logger.warn("gateway", "careful")
    logger.close()
    assert out.getvalue() == "2026-11-24T15:57:35.460+00:00 [gateway] loading configuration…\n"
    assert err.getvalue() == "2026-11-24T15:57:35.460+00:00 [gateway] careful\n"


def test_file_record_is_official_tslog_layout(tmp_path: Path) -> None:
    logger, _, _, path = make_logger(tmp_path)
    logger.info("gateway", "ready")
    logger.close()
    record = json.loads(path.read_text().splitlines()[0])
    assert record["0"] == '{"subsystem":"gateway"}'
    assert record["1"] == "ready"
    assert record["message"] == "ready"
    assert record["_meta"]["logLevelName"] == "INFO"
    assert record["_meta"]["date"] == "2026-11-24T15:57:35.460Z"
    assert record["time"] == "2026-11-24T15:57:35.460+00:00"


def test_secrets_never_reach_console_or_file(tmp_path: Path) -> None:
    logger, out, err, path = make_logger(tmp_path)
    logger.error("gateway", "token s3cret-token-value rejected", detail="s3cret-token-value")
    logger.info("gateway", "argv: --password hunter2hunter2 --token=abc123xyz")
    logger.info("gateway", "url ws://h/?token=zzz999#frag")
    logger.close()
    everything = out.getvalue() + err.getvalue() + path.read_text()
    for secret in ("s3cret-token-value", "hunter2hunter2", "abc123xyz", "zzz999"):
        assert secret not in everything
    assert "***" in everything


def test_ws_log_styles(tmp_path: Path) -> None:
    quiet, out, err, _ = make_logger(tmp_path)
    quiet.ws_response("0d7a4850-aaaa-bbbb-cccc-1234567890ab", "health", "2:x", True, 3)
    assert out.getvalue() == ""  # fast successes are not logged without --verbose
    quiet.ws_response(
        "0d7a4850-aaaa-bbbb-cccc-1234567890ab",
        "nosuch",
        "2:y",
        False,
        2,
        {"code": "INVALID_REQUEST", "message": "unknown method: nosuch"},
    )
    line = err.getvalue()
    assert (
        "⇄ res ✗ nosuch 2ms errorCode=INVALID_REQUEST errorMessage=unknown method: nosuch" in line
    )
    assert "conn=0d7a4850…90ab" in line
    quiet.close()
    full, out2, _, _ = make_logger(tmp_path / "b", verbose=True, ws_style="full")
    full.ws_response("c1", "health", "2:z", True, 1)
    assert "← req health" in out2.getvalue() and "→ res ✓ health 1ms" in out2.getvalue()
    full.close()


def test_rotation_keeps_numbered_archives(tmp_path: Path) -> None:
    path = tmp_path / "openclaw-2026-11-24.log"
    fl = FileLog(path, max_bytes=100)
    fl.open()
    for i in range(30):
        fl.write(f"line {i:02d} " + "x" * 20)
    fl.close()
    archives = sorted(p.name for p in tmp_path.iterdir())
    assert "openclaw-2026-11-24.1.log" in archives
    assert len(archives) <= 6  # current + 5 archives
    assert path.stat().st_size <= 100


def test_default_path_uses_profile_and_local_date() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4)
    root = Path("/tmp/openclaw")  # explicit: the test must not create the host's temp root
    assert default_log_path(None, when, log_dir=root) == root / "openclaw-2026-01-02.log"
    assert default_log_path("dev", when, log_dir=root) == root / "openclaw-dev-2026-01-02.log"


def test_short_id() -> None:
    assert short_id("0d7a4850-0000-0000-0000-00000000c5e5") == "0d7a4850…c5e5"


def test_read_tail_cursor_follow_and_reset(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("".join(f"l{i}\n" for i in range(10)))
    first = read_tail(path, None, limit=3, max_bytes=1000)
    assert first["lines"] == ["l7", "l8", "l9"]
    assert first["cursor"] == path.stat().st_size
    assert first["truncated"] is True
    with path.open("a") as fh:
        fh.write("l10\nl11\npartial")
    nxt = read_tail(path, first["cursor"], limit=10, max_bytes=1000)
    assert nxt["lines"] == ["l10", "l11"]  # the unfinished line waits for the next call
    again = read_tail(path, nxt["cursor"], limit=10, max_bytes=1000)
    assert again["lines"] == []
    path.write_text("new\n")
    reset = read_tail(path, nxt["cursor"], limit=10, max_bytes=1000)
    assert reset["reset"] is True and reset["lines"] == ["new"]


def test_read_tail_missing_file(tmp_path: Path) -> None:
    assert read_tail(tmp_path / "none.log", None, 10, 100)["lines"] == []


# --- log injection (issue 13) ---------------------------------------------------------------

FORGED = "2026-11-24T15:57:35.460+00:00 [gateway] forged line"


def test_control_characters_are_escaped_in_every_sink(tmp_path: Path) -> None:
    logger, out, err, path = make_logger(tmp_path)
    logger.info("ws", f"connect version=1\n{FORGED}", client="a\rb\x1b[2Jc\x00d\u2028e")
    logger.warn("ws", "unknown method: x\r\nfake")
    logger.close()
    console = out.getvalue() + err.getvalue()
    assert console.count("\n") == 2  # one line per call, nothing forged
    assert all(
        line.startswith("2026-11-24T15:57:35.460+00:00 [ws] ") for line in console.splitlines()
    )
    assert "\\n2026-11-24T15:57:35.460+00:00 [gateway] forged line" in console
    assert "client=a\\rb\\x1b[2Jc\\x00d\\u2028e" in console
    assert "x\\r\\nfake" in console
    for ch in ("\r", "\x1b", "\x00", "\u2028"):
        assert ch not in console
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 2
    assert records[0]["message"].startswith("connect version=1\\n2026-11-24")
    assert "\n" not in records[0]["message"] and "\x1b" not in records[0]["message"]


def test_a_lone_surrogate_cannot_break_a_sink(tmp_path: Path) -> None:
    logger, out, _, path = make_logger(tmp_path)
    logger.info("gateway", "bad \udcff text", field="\ud800")
    logger.info("gateway", "next")
    logger.close()
    assert "bad \\udcff text field=\\ud800" in out.getvalue()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_tabs_and_ordinary_unicode_are_kept_readable(tmp_path: Path) -> None:
    logger, out, _, _ = make_logger(tmp_path)
    logger.info("gateway", "café ✓ → 日本")
    logger.close()
    assert "café ✓ → 日本" in out.getvalue()


# --- daily roll and 24 h prune (issue 13, as the official logger) ----------------------------


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_dated_file_rolls_at_midnight(tmp_path: Path) -> None:
    clock = Clock(dt.datetime(2026, 3, 4, 23, 59, 59, tzinfo=dt.UTC))
    fl = FileLog(tmp_path / "openclaw-2026-03-04.log")
    fl.open()
    logger = Logger(file_log=fl, stdout=io.StringIO(), stderr=io.StringIO(), clock=clock)
    logger.info("gateway", "before midnight")
    clock.now = dt.datetime(2026, 3, 5, 0, 0, 1, tzinfo=dt.UTC)
    logger.info("gateway", "after midnight")
    logger.close()
    first = (tmp_path / "openclaw-2026-03-04.log").read_text()
    second = (tmp_path / "openclaw-2026-03-05.log").read_text()
    assert "before midnight" in first and "after midnight" not in first
    assert "after midnight" in second
    assert fl.path == tmp_path / "openclaw-2026-03-05.log"


def test_a_fixed_log_file_does_not_roll(tmp_path: Path) -> None:
    clock = Clock(dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC))
    fl = FileLog(tmp_path / "gateway.log")
    fl.open()
    logger = Logger(file_log=fl, stdout=io.StringIO(), stderr=io.StringIO(), clock=clock)
    logger.info("gateway", "one")
    clock.now += dt.timedelta(days=1)
    logger.info("gateway", "two")
    logger.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateway.log"]


def test_rolling_logs_older_than_24h_are_pruned(tmp_path: Path) -> None:
    day = 24 * 3600
    now = dt.datetime.now().timestamp()
    ages = {
        "openclaw-2026-01-01.log": 2 * day,  # pruned
        "openclaw-dev-2026-01-01.log": day + 60,  # pruned: every openclaw-*.log, as official
        "openclaw-2026-01-01.1.log": 3 * day,  # pruned (a rotated archive)
        "openclaw-2026-03-03.log": day - 60,  # kept: younger than 24 h
        "other.log": 5 * day,  # kept: not ours
    }
    for name, age in ages.items():
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (now - age, now - age))
    (tmp_path / "openclaw-old-dir.log").mkdir()  # kept: not a file
    os.utime(tmp_path / "openclaw-old-dir.log", (now - 5 * day, now - 5 * day))
    fl = FileLog(tmp_path / "openclaw-2026-03-04.log")
    fl.open()
    fl.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "openclaw-2026-03-03.log",
        "openclaw-2026-03-04.log",
        "openclaw-old-dir.log",
        "other.log",
    ]


def test_profile_names_are_encoded_as_the_official_log_segment(tmp_path: Path) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4)
    assert default_log_path("Work_1", when, log_dir=tmp_path) == (
        tmp_path / "openclaw--1work-01-2026-01-02.log"
    )
    assert default_log_path("a.b", when, log_dir=tmp_path) == (
        tmp_path / "openclaw-a-22e-b-2026-01-02.log"
    )
