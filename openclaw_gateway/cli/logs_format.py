"""How `openclaw logs` shows what `logs.tail` returned, pure (official parseLogLine /
formatLogLine): the command's options, one file-log line parsed and formatted (local or UTC
times, the official truecolor palette on a colour terminal), and the `meta` record and notices
of an answer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import attrs

DEFAULT_LIMIT = 200
DEFAULT_MAX_BYTES = 250_000
DEFAULT_INTERVAL_MS = 1000
DEFAULT_TIMEOUT_MS = 30_000

# The official palette (truecolor), used only on a colour terminal without --plain.
MUTED, ACCENT, INFO = "#8B7F77", "#FF5A2D", "#FF8A5B"
WARN, ERROR = "#FFB020", "#E23D2D"


@attrs.frozen
class LogsOptions:
    follow: bool = False
    limit: int = DEFAULT_LIMIT
    max_bytes: int = DEFAULT_MAX_BYTES
    interval_ms: int = DEFAULT_INTERVAL_MS
    json: bool = False
    pretty: bool = False  # a terminal and not --plain: short times, padded levels
    rich: bool = False  # colours
    local_time: bool = True  # --utc turns it off
    timeout_ms: int = DEFAULT_TIMEOUT_MS


def _meta_name(raw: Any) -> dict[str, str]:
    if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k in ("subsystem", "module", "plugin") if isinstance(v := value.get(k), str)}


def parse_log_line(raw: str) -> dict[str, Any] | None:
    """A file-log line as {time, level, subsystem, module, plugin, message, raw} (absent keys
    left out), or None for a line that is not a JSON object."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    meta = value.get("_meta") if isinstance(value.get("_meta"), dict) else None
    context = _meta_name(meta.get("name") if meta else None)
    if not (meta and meta.get("name") == value.get("0")):
        positional = _meta_name(value.get("0"))
        context = {**positional, **context}
    level_raw = (
        meta.get("logLevelName")
        if meta and isinstance(meta.get("logLevelName"), str)
        else value.get("level")
    )
    time = value.get("time") if isinstance(value.get("time"), str) else None
    if time is None and meta and isinstance(meta.get("date"), str):
        time = meta["date"]
    message = value.get("message")
    if not isinstance(message, str):
        parts = []
        for key, item in value.items():
            if key.isdigit():
                if isinstance(item, str):
                    parts.append(item)
                elif item is not None:
                    parts.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
        message = " ".join(parts)
    subsystem = context.get("subsystem")
    if subsystem is None and isinstance(value.get("subsystem"), str):
        subsystem = value["subsystem"]
    level = level_raw.strip().lower() or None if isinstance(level_raw, str) else None
    parsed = {
        "time": time,
        "level": level,
        "subsystem": subsystem,
        "module": context.get("module"),
        "plugin": context.get("plugin"),
        "message": message,
        "raw": raw,
    }
    return {k: v for k, v in parsed.items() if v is not None}


def _offset(moment: dt.datetime) -> str:
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_timestamp(value: str | None, *, pretty: bool, local_time: bool) -> str:
    """Local: `2026-11-24T10:57:40.517-05:00` (pretty: `10:57:40-05:00`); --utc: `…Z`."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local, as JavaScript's Date reads it
    moment = moment.astimezone() if local_time else moment.astimezone(dt.UTC)
    if pretty:
        return moment.strftime("%H:%M:%S") + _offset(moment)
    millis = f"{moment.microsecond // 1000:03d}"
    if not local_time:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + _offset(moment)


def paint(rich: bool, color: str, text: str) -> str:
    if not rich or not text:
        return text
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"\x1b[38;2;{r};{g};{b}m{text}\x1b[39m"


def format_log_line(raw: str, opts: LogsOptions) -> str:
    parsed = parse_log_line(raw)
    if parsed is None:
        return raw
    label = parsed.get("subsystem") or parsed.get("module") or parsed.get("plugin") or ""
    time = format_timestamp(parsed.get("time"), pretty=opts.pretty, local_time=opts.local_time)
    level = parsed.get("level") or ""
    message = parsed.get("message") or raw
    if not opts.pretty:
        return " ".join(x for x in (time, level, label, message) if x).strip()
    style = (
        ERROR
        if level in ("error", "fatal")
        else WARN
        if level == "warn"
        else MUTED
        if level in ("debug", "trace")
        else INFO
    )
    head = " ".join(
        x
        for x in (
            paint(opts.rich, MUTED, time),
            paint(opts.rich, style, level.ljust(5).strip()),
            paint(opts.rich, ACCENT, label),
        )
        if x
    )
    return " ".join(x for x in (head, paint(opts.rich, style, message)) if x).strip()


def meta_record(payload: Mapping[str, Any]) -> dict[str, Any]:
    record = {
        "type": "meta",
        "file": payload.get("file"),
        "source": payload.get("source"),
        "sourceKind": payload.get("sourceKind") or ("file" if payload.get("file") else None),
        "service": payload.get("service"),
        "cursor": payload.get("cursor"),
        "size": payload.get("size"),
        "localFallback": True if payload.get("localFallback") is True else None,
    }
    return {k: v for k, v in record.items() if v is not None}


def source_identity(payload: Mapping[str, Any]) -> str | None:
    kind = payload.get("sourceKind") or ("file" if payload.get("file") else None)
    if not kind and not payload.get("file"):
        return None
    return json.dumps(
        [payload.get("file"), kind, payload.get("localFallback") is True], sort_keys=True
    )


def reset_notice(payload: Mapping[str, Any]) -> str:
    skipped = payload.get("skippedBytes")
    if isinstance(skipped, int) and skipped > 0:
        return f"Log cursor re-anchored (skipped {skipped} bytes)."
    return "Log cursor reset (file rotated)."
