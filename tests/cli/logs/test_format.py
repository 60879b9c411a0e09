"""`openclaw logs` line parsing and formatting (official parseLogLine / formatLogLine)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_gateway.cli.logs_cmd import backoff_ms
from openclaw_gateway.cli.logs_format import (
    LogsOptions,
    format_log_line,
    format_timestamp,
    meta_record,
    parse_log_line,
    reset_notice,
)
from openclaw_gateway.core.logs import FileLog, Logger

# A real line of the official gateway (cli.md §8).
OFFICIAL = (
    '{"0":"{\\"subsystem\\":\\"gateway\\"}","1":"http server listening","_meta":{"runtime":'
    '"node","date":"2026-11-24T15:57:40.517Z","logLevelId":3,"logLevelName":"INFO","name":'
    '"{\\"subsystem\\":\\"gateway\\"}","parentNames":["openclaw"]},"time":'
    '"2026-11-24T15:57:40.517+00:00","hostname":"vm","message":"http server listening"}'
)


@pytest.fixture(name="new_york")
def _new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_parse_official_line() -> None:
    assert parse_log_line(OFFICIAL) == {
        "time": "2026-11-24T15:57:40.517+00:00",
        "level": "info",
        "subsystem": "gateway",
        "message": "http server listening",
        "raw": OFFICIAL,
    }


def test_parse_our_own_file_log(tmp_path: Path) -> None:
    file_log = FileLog(tmp_path / "gw.log")
    file_log.open()
    clock = dt.datetime(2026, 11, 24, 15, 0, 0, 123000, tzinfo=dt.UTC)
    logger = Logger(file_log=file_log, clock=lambda: clock)
    logger.warn("gateway/ws", "slow consumer")
    logger.close()
    raw = (tmp_path / "gw.log").read_text().splitlines()[0]
    parsed = parse_log_line(raw)
    assert parsed is not None
    assert {k: parsed[k] for k in ("time", "level", "subsystem", "message")} == {
        "time": "2026-11-24T15:00:00.123+00:00",
        "level": "warn",
        "subsystem": "gateway/ws",
        "message": "slow consumer",
    }


def test_parse_positional_message_and_non_json() -> None:
    raw = json.dumps({"0": "a", "1": {"x": 1}, "_meta": {"logLevelName": "WARN"}})
    # No time, no subsystem: "0" is not a JSON binding, so it is part of the message.
    assert parse_log_line(raw) == {"level": "warn", "message": 'a {"x":1}', "raw": raw}
    module = json.dumps({"0": '{"module":"cron"}', "1": "job added", "time": "t"})
    assert parse_log_line(module) == {
        "time": "t",
        "module": "cron",
        "message": '{"module":"cron"} job added',
        "raw": module,
    }
    assert parse_log_line("not json") is None
    assert parse_log_line("[1, 2]") is None


def test_timestamps(new_york: None) -> None:
    value = "2026-11-24T15:57:40.517+00:00"
    assert format_timestamp(value, pretty=False, local_time=False) == "2026-11-24T15:57:40.517Z"
    assert format_timestamp(value, pretty=False, local_time=True) == "2026-11-24T10:57:40.517-05:00"
    assert format_timestamp(value, pretty=True, local_time=True) == "10:57:40-05:00"
    assert format_timestamp("yesterday", pretty=False, local_time=True) == "yesterday"
    assert format_timestamp(None, pretty=False, local_time=True) == ""


def test_format_line_plain_pretty_and_rich(new_york: None) -> None:
    plain = LogsOptions(local_time=False)
    assert format_log_line(OFFICIAL, plain) == (
        "2026-11-24T15:57:40.517Z info gateway http server listening"
    )
    assert format_log_line("not json", plain) == "not json"
    pretty = LogsOptions(pretty=True)
    assert format_log_line(OFFICIAL, pretty) == "10:57:40-05:00 info gateway http server listening"
    rich = format_log_line(OFFICIAL, LogsOptions(pretty=True, rich=True))
    assert rich == (
        "\x1b[38;2;139;127;119m10:57:40-05:00\x1b[39m \x1b[38;2;255;138;91minfo\x1b[39m "
        "\x1b[38;2;255;90;45mgateway\x1b[39m \x1b[38;2;255;138;91mhttp server listening\x1b[39m"
    )


def test_meta_record_and_notices() -> None:
    payload = {"file": "/x.log", "cursor": 10, "size": 10, "lines": []}
    assert meta_record(payload) == {
        "type": "meta",
        "file": "/x.log",
        "sourceKind": "file",
        "cursor": 10,
        "size": 10,
    }
    assert meta_record({**payload, "localFallback": True})["localFallback"] is True
    assert reset_notice({"reset": True}) == "Log cursor reset (file rotated)."
    assert reset_notice({"reset": True, "skippedBytes": 42}) == (
        "Log cursor re-anchored (skipped 42 bytes)."
    )


def test_backoff() -> None:
    assert [backoff_ms(n, lambda: 0.0) for n in range(1, 9)] == [
        1000,
        2000,
        4000,
        8000,
        16000,
        30000,
        30000,
        30000,
    ]
    assert backoff_ms(1, lambda: 1.0) == 1200
    assert backoff_ms(6, lambda: 1.0) == 30000
