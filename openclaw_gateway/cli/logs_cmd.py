"""`openclaw logs`: tail the gateway's file log through `logs.tail` (cli.md §8).

Each poll is one `logs.tail` call (a fresh connection, as the official CLI) with the cursor
from the previous answer. Output, as the official 2026.9.6:

- human: `Log file: <path>` once (again when the source changes), then one line per entry,
  `<time> <level> <subsystem> <message>` (a non-JSON line as it is); notices on stderr;
- `--json`: typed lines `meta`, `log`, `raw`, `notice` on stdout; errors as one `error` line
  on stderr.

When the implicit local gateway (no --url, the local loopback target) is unreachable, a
one-shot tail reads the configured file itself (notice on stderr, exit 0). `--follow` instead
retries transient failures with backoff (at most MAX_FOLLOW_RETRIES in a row), then fails.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TextIO

import attrs
import trio

from openclaw_gateway.cli.rpc_cmds import (
    call_once,
    device_store,
    method_scope,
    target_block_lines,
    target_for,
    transport_failure,
)
from openclaw_gateway.cli.target import CliFailure, Target, is_loopback_url
from openclaw_gateway.client import GatewayRequestError, GatewayTransportError
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.logs import Redactor, configured_log_path, newest_rolling_log, read_tail
from openclaw_gateway.core.paths import resolve_paths

DEFAULT_LIMIT = 200
DEFAULT_MAX_BYTES = 250_000
DEFAULT_INTERVAL_MS = 1000
DEFAULT_TIMEOUT_MS = 30_000
MAX_FOLLOW_RETRIES = 8
BACKOFF_INITIAL_MS = 1000
BACKOFF_MAX_MS = 30_000
BACKOFF_FACTOR = 2
BACKOFF_JITTER = 0.2

LOCAL_FALLBACK_NOTICE = "Local Gateway RPC unavailable; reading configured file log instead."
TRUNCATED_NOTICE = "Log tail truncated (increase --limit or --max-bytes)."
HINT = "Hint: run `openclaw doctor`."
_PAIRING_REQUIRED = "pairing required"

# The official palette (truecolor), used only on a colour terminal without --plain.
_MUTED, _ACCENT, _INFO = "#8B7F77", "#FF5A2D", "#FF8A5B"
_WARN, _ERROR = "#FFB020", "#E23D2D"


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


class LogsFailure(Exception):
    """A fetch that failed for good: what to print, and the target it concerned."""

    def __init__(self, text: str, target: Target | None, *, transient: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.target = target
        self.transient = transient


def positive_int(raw: str | None, default: int, flag: str) -> int:
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdigit() or int(text) <= 0:
        raise CliFailure("cli_error", f"{flag} must be a positive integer.")
    return int(text)


# -- parsing and formatting (official parseLogLine / formatLogLine) ------------------------


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
        _ERROR
        if level in ("error", "fatal")
        else _WARN
        if level == "warn"
        else _MUTED
        if level in ("debug", "trace")
        else _INFO
    )
    head = " ".join(
        x
        for x in (
            paint(opts.rich, _MUTED, time),
            paint(opts.rich, style, level.ljust(5).strip()),
            paint(opts.rich, _ACCENT, label),
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


def _source_identity(payload: Mapping[str, Any]) -> str | None:
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


def backoff_ms(attempt: int, rand: Callable[[], float]) -> int:
    base = min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * int(BACKOFF_FACTOR ** max(attempt - 1, 0)))
    return min(BACKOFF_MAX_MS, round(base + base * BACKOFF_JITTER * rand()))


# -- fetching ------------------------------------------------------------------------------


Fetch = Callable[[int | None], Awaitable[dict[str, Any]]]


def _failure_text(failure: CliFailure, target: Target) -> str:
    """The official error text of a transport failure carries the target block itself (so the
    human output shows it twice, as the official CLI does)."""
    lines = [failure.message]
    if "hint" in failure.extra:
        lines.append(str(failure.extra["hint"]))
    return "\n".join([*lines, *target_block_lines(target)])


def read_configured_file(
    env: Mapping[str, str], cursor: int | None, limit: int, max_bytes: int
) -> dict[str, Any]:
    """The fallback: the file the local gateway writes, read here with the same reader."""
    paths = resolve_paths(env)
    try:
        setting = cfg.load(paths.config_path).config.logging.file
    except ConfigError:
        setting = None
    path = newest_rolling_log(configured_log_path(setting, paths.profile, dt.datetime.now()))
    payload = read_tail(path, cursor, limit, max_bytes)
    return {**payload, "sourceKind": "file", "localFallback": True}


def gateway_fetcher(
    opts: LogsOptions,
    target: Target,
    env: Mapping[str, str],
    *,
    explicit_url: bool,
    refresh: Callable[[], Target] | None = None,
) -> Fetch:
    """One `logs.tail` per poll; for the implicit local gateway, fall back to the file.

    `refresh` re-reads the credentials before each poll (as the official CLI resolves them per
    call): a gateway restarted in process has a new runtime token.
    """
    first = target
    implicit_local = (
        not explicit_url and target.url_source == "local loopback" and is_loopback_url(target.url)
    )
    # As the official CLI: the implicit local target is read as a backend client, no device.
    client_id, mode = ("gateway-client", "backend") if implicit_local else ("cli", "cli")
    store = None if implicit_local else device_store(resolve_paths(env))

    async def fetch(cursor: int | None) -> dict[str, Any]:
        target = first
        if refresh is not None:
            try:
                target = refresh()
            except (CliFailure, ConfigError) as exc:
                raise LogsFailure(getattr(exc, "message", str(exc)), first) from None
        params: dict[str, Any] = {"limit": opts.limit, "maxBytes": opts.max_bytes}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            _, payload = await call_once(
                target,
                "logs.tail",
                params,
                opts.timeout_ms,
                method_scope("logs.tail"),
                mode=mode,
                client_id=client_id,
                store=store,
            )
        except GatewayTransportError as exc:
            if implicit_local and not opts.follow:
                return read_configured_file(env, cursor, opts.limit, opts.max_bytes)
            code = exc.close_code or 0
            transient = exc.kind == "timeout" or not (code == 1008 or 4000 <= code <= 4999)
            failure = transport_failure(exc, target, opts.timeout_ms)
            raise LogsFailure(_failure_text(failure, target), target, transient=transient) from None
        except GatewayRequestError as exc:
            # A refused connect arrives with its close frame (e.g. 1013 "gateway starting"):
            # the official client sees `gateway closed (…)`, an unavailable gateway.
            closed = exc.close_code is not None
            pairing = _PAIRING_REQUIRED in exc.message.lower()
            if implicit_local and not opts.follow and (closed or pairing):
                return read_configured_file(env, cursor, opts.limit, opts.max_bytes)
            code = exc.close_code or 0
            transient = closed and not pairing and not (code == 1008 or 4000 <= code <= 4999)
            raise LogsFailure(exc.message, target, transient=transient) from None
        if not isinstance(payload, dict):
            raise LogsFailure("Unexpected logs.tail response", target)
        return payload

    return fetch


# -- the loop ------------------------------------------------------------------------------


@attrs.define
class Output:
    out: TextIO
    err: TextIO
    closed: bool = False

    def _write(self, stream: TextIO, text: str) -> bool:
        if self.closed:
            return False
        try:
            stream.write(text + "\n")
            stream.flush()
        except BrokenPipeError:
            self.closed = True
            name = "stdout" if stream is self.out else "stderr"
            try:
                self.err.write(f"openclaw logs: output {name} closed (EPIPE). Stopping tail.\n")
            except OSError:
                pass
            return False
        return True

    def line(self, text: str) -> bool:
        return self._write(self.out, text)

    def error(self, text: str) -> bool:
        return self._write(self.err, text)

    def json(self, value: Mapping[str, Any], *, to_err: bool = False) -> bool:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return self._write(self.err if to_err else self.out, text)


def emit_failure(failure: LogsFailure, opts: LogsOptions, output: Output) -> None:
    # Secrets never reach the output, not even inside a URL (`?token=`), as the official
    # redactSensitiveUrlLikeString.
    target = failure.target
    redact = Redactor([target.token, target.password] if target is not None else [])
    text = redact(failure.text)
    details: dict[str, Any] = {}
    if target is not None:
        details = {k: redact(str(v)) for k, v in target.gateway_block().items()}
        details["message"] = redact("\n".join(target_block_lines(target)))
    if opts.json:
        output.json(
            {
                "type": "error",
                "message": text,
                "error": text,
                "details": details,
                "hint": HINT,
            },
            to_err=True,
        )
        return
    if not output.error(paint(opts.rich, _ERROR, text)):
        return
    if details and not output.error(str(details["message"])):
        return
    output.error(paint(opts.rich, _MUTED, HINT))


async def tail_logs(
    opts: LogsOptions,
    fetch: Fetch,
    output: Output,
    *,
    rand: Callable[[], float] = random.random,
) -> int:
    """Poll until done (once, or forever with --follow); returns the exit code."""
    cursor: int | None = None
    first = True
    last_source: str | None = None
    retries = 0
    while True:
        try:
            payload = await fetch(cursor)
        except LogsFailure as failure:
            if opts.follow and failure.transient and retries < MAX_FOLLOW_RETRIES:
                retries += 1
                delay = backoff_ms(retries, rand)
                notice = f"[logs] gateway disconnected, reconnecting in {round(delay / 1000)}s..."
                written = (
                    output.json({"type": "notice", "message": notice}, to_err=True)
                    if opts.json
                    else output.error(paint(opts.rich, _WARN, notice))
                )
                if not written:
                    return 0
                await trio.sleep(delay / 1000)
                continue
            emit_failure(failure, opts, output)
            return 1
        if retries:
            notice = "[logs] gateway reconnected"
            written = (
                output.json({"type": "notice", "message": notice}, to_err=True)
                if opts.json
                else output.error(paint(opts.rich, _MUTED, notice))
            )
            if not written:
                return 0
        retries = 0
        if not _emit(payload, opts, output, first=first, last_source=last_source):
            return 0
        source = _source_identity(payload)
        if source is not None:
            last_source = source
        if isinstance(payload.get("cursor"), int):
            cursor = payload["cursor"]
        first = False
        if not opts.follow:
            return 0
        await trio.sleep(opts.interval_ms / 1000)


def _emit(
    payload: Mapping[str, Any],
    opts: LogsOptions,
    output: Output,
    *,
    first: bool,
    last_source: str | None,
) -> bool:
    """Write one answer; False when the output is gone."""
    if payload.get("file") and not payload.get("sourceKind"):
        payload = {**payload, "sourceKind": "file"}
    source = _source_identity(payload)
    announce = first or (source is not None and source != last_source)
    raw_lines = payload.get("lines")
    lines = [str(x) for x in raw_lines] if isinstance(raw_lines, list) else []
    notices = [TRUNCATED_NOTICE] if payload.get("truncated") else []
    if payload.get("reset"):
        notices.append(reset_notice(payload))
    if opts.json:
        records: list[Mapping[str, Any]] = [meta_record(payload)] if announce else []
        for line in lines:
            parsed = parse_log_line(line)
            records.append({"type": "log", **parsed} if parsed else {"type": "raw", "raw": line})
        records += [{"type": "notice", "message": text} for text in notices]
        return all(output.json(record) for record in records)
    # (to stderr, text), written in order until the output goes away.
    writes: list[tuple[bool, str]] = []
    if announce and payload.get("localFallback") is True:
        writes.append((True, paint(opts.rich, _WARN, LOCAL_FALLBACK_NOTICE)))
    if announce and payload.get("file"):
        label = paint(opts.rich, _MUTED, "Log file:") if opts.pretty else "Log file:"
        writes.append((False, f"{label} {payload['file']}"))
    writes += [(False, format_log_line(line, opts)) for line in lines]
    writes += [(True, text) for text in notices]
    return all(output.error(text) if to_err else output.line(text) for to_err, text in writes)


# -- the command ---------------------------------------------------------------------------


def _colour_terminal(stream: TextIO, env: Mapping[str, str]) -> bool:
    forced = (env.get("FORCE_COLOR") or "").strip() not in ("", "0")
    if env.get("NO_COLOR") and not forced:
        return False
    return forced or stream.isatty()


def run_logs(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = bool(opts.get("json"))
    try:
        options = LogsOptions(
            follow=bool(opts.get("follow")),
            limit=positive_int(opts.get("limit"), DEFAULT_LIMIT, "--limit"),
            max_bytes=positive_int(opts.get("max_bytes"), DEFAULT_MAX_BYTES, "--max-bytes"),
            interval_ms=positive_int(opts.get("interval"), DEFAULT_INTERVAL_MS, "--interval"),
            json=as_json,
            pretty=not as_json and out.isatty() and not opts.get("plain"),
            rich=_colour_terminal(out, env) and not opts.get("no_color") and not opts.get("plain"),
            local_time=not opts.get("utc"),
            timeout_ms=positive_int(opts.get("timeout"), DEFAULT_TIMEOUT_MS, "--timeout"),
        )
        target = target_for("logs.tail", opts, env)
    except CliFailure as exc:
        if exc.error_type != "gateway_credentials_required":
            return _cli_failed(exc.message, err)
        # Reported like a failed fetch, with the target it was for (official).
        shown = target_for("logs.tail", opts, env, has_device_token=lambda _url: True)
        emit_failure(LogsFailure(exc.message, shown), LogsOptions(json=as_json), Output(out, err))
        return 1
    except ConfigError as exc:
        return _cli_failed(str(exc), err)
    fetch = gateway_fetcher(
        options,
        target,
        env,
        explicit_url=bool(opts.get("url")),
        refresh=lambda: target_for("logs.tail", opts, env),
    )
    try:
        return trio.run(partial(tail_logs, options, fetch, Output(out, err)))
    except KeyboardInterrupt:
        return 0


def _cli_failed(message: str, err: TextIO) -> int:
    """The official generic failure block for bad options."""
    for line in (
        "The CLI command failed.",
        f"Reason: {message}",
        "Debug: set OPENCLAW_DEBUG=1 to include the stack trace.",
        "Try: openclaw doctor",
        "Help: openclaw --help",
    ):
        print(f"[openclaw] {line}", file=err)
    return 1
