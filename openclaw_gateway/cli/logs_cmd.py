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

The line format and the options live in logs_format.py, the fetching in logs_fetch.py.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TextIO

import attrs
import trio

from openclaw_gateway.cli.logs_fetch import Fetch, LogsFailure, gateway_fetcher
from openclaw_gateway.cli.logs_format import (
    DEFAULT_INTERVAL_MS,
    DEFAULT_LIMIT,
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT_MS,
    ERROR,
    MUTED,
    WARN,
    LogsOptions,
    format_log_line,
    meta_record,
    paint,
    parse_log_line,
    reset_notice,
    source_identity,
)
from openclaw_gateway.cli.rpc_cmds import target_block_lines, target_for
from openclaw_gateway.cli.target import CliFailure, generic_failure_lines
from openclaw_gateway.core.errors import ConfigError, is_interrupt
from openclaw_gateway.core.logs import Redactor

MAX_FOLLOW_RETRIES = 8
BACKOFF_INITIAL_MS = 1000
BACKOFF_MAX_MS = 30_000
BACKOFF_FACTOR = 2
BACKOFF_JITTER = 0.2

LOCAL_FALLBACK_NOTICE = "Local Gateway RPC unavailable; reading configured file log instead."
TRUNCATED_NOTICE = "Log tail truncated (increase --limit or --max-bytes)."
HINT = "Hint: run `openclaw doctor`."


def positive_int(raw: str | None, default: int, flag: str) -> int:
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdigit() or int(text) <= 0:
        raise CliFailure("cli_error", f"{flag} must be a positive integer.")
    return int(text)


def backoff_ms(attempt: int, rand: Callable[[], float]) -> int:
    base = min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * int(BACKOFF_FACTOR ** max(attempt - 1, 0)))
    return min(BACKOFF_MAX_MS, round(base + base * BACKOFF_JITTER * rand()))


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
    if not output.error(paint(opts.rich, ERROR, text)):
        return
    if details and not output.error(str(details["message"])):
        return
    output.error(paint(opts.rich, MUTED, HINT))


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
                    else output.error(paint(opts.rich, WARN, notice))
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
                else output.error(paint(opts.rich, MUTED, notice))
            )
            if not written:
                return 0
        retries = 0
        if not _emit(payload, opts, output, first=first, last_source=last_source):
            return 0
        source = source_identity(payload)
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
    source = source_identity(payload)
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
        writes.append((True, paint(opts.rich, WARN, LOCAL_FALLBACK_NOTICE)))
    if announce and payload.get("file"):
        label = paint(opts.rich, MUTED, "Log file:") if opts.pretty else "Log file:"
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
    except BaseException as exc:
        if is_interrupt(exc):
            return 0
        raise


def _cli_failed(message: str, err: TextIO) -> int:
    """Bad options: the official generic failure block."""
    print("\n".join(generic_failure_lines(message)), file=err)
    return 1
