"""Console and JSONL file logs, WebSocket traffic lines, and secret redaction (cli.md §8).

Console: `<ISO ts with ms and offset> [subsystem] message`; warnings and errors on stderr.
File: one JSON object a line at <tmp root>/openclaw[-<profile>]-YYYY-MM-DD.log (or
`logging.file`), in the official tslog layout so `openclaw logs` readers parse it. The tmp root
is /tmp/openclaw when safe, else <tmpdir>/openclaw-<uid> (core/tmpdir.py). As the official: a
dated file rolls to the next date at local midnight and `openclaw-*.log` files older than 24 h
are pruned from its directory; files are created 0600 and never through a symlink. Rotation at
`maxFileBytes` keeps 5 numbered archives. Every line passes the Redactor first: the secrets the
gateway knows (tokens, passwords) never reach a console, a file or `logs.tail`. Then control
characters are escaped (`\\n`, `\\x1b`, ...), so a client-chosen string (a client version, a
method name, a property quoted in an error) can neither forge a log line nor drive a terminal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from openclaw_gateway.core.tmpdir import ensure_private_dir, is_tmp_root, secure_tmp_root

DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
ROTATE_KEEP = 5
MAX_LOG_AGE_S = 24 * 3600  # the official MAX_LOG_AGE_MS: rolling logs older than this go
MAX_PROFILE_SEGMENT = 220
LEVELS = {"trace": 1, "debug": 2, "info": 3, "warn": 4, "error": 5, "fatal": 6}
WS_STYLES = ("auto", "full", "compact")
SLOW_RESPONSE_MS = 50
MASK = "***"
# Values after these words are masked even when we do not know the secret (e.g. a mistyped
# --password on a command line quoted in an error).
_INLINE_SECRET = re.compile(
    r"(?i)(--(?:token|password)[= ]|\b(?:token|password|secret)[\"']?\s*[:=]\s*[\"']?)([^\s\"',}&]+)"
)
_URL_SECRET = re.compile(r"(?i)([?&#](?:token|password|access_token|key)=)([^&#\s]+)")
# C0 controls but tab, DEL and C1, the Unicode line/paragraph separators, and lone surrogates
# (which no UTF-8 sink can write).
_UNSAFE_CHAR = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str) -> str:
    """`text` on one line, printable: the characters above as backslash escapes."""
    return _UNSAFE_CHAR.sub(_escape_char, text)


class Redactor:
    """Masks known secret values and inline `token=...`-style secrets."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        # Very short values would mask ordinary words; the start-up refuses them anyway.
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _INLINE_SECRET.sub(lambda m: m.group(1) + MASK, text)
        return _URL_SECRET.sub(lambda m: m.group(1) + MASK, text)


def _profile_segment(profile: str) -> str:
    """The official encodeLogProfileSegment: a-z0-9 kept, `-` -> `--`, `_` -> `-0`, A-Z ->
    `-1` + lower case, anything else `-2<hex>-`; too long -> `-3<sha256>`."""
    out = []
    for char in profile:
        if "a" <= char <= "z" or "0" <= char <= "9":
            out.append(char)
        elif char == "-":
            out.append("--")
        elif char == "_":
            out.append("-0")
        elif "A" <= char <= "Z":
            out.append("-1" + char.lower())
        else:
            out.append(f"-2{ord(char):x}-")
    encoded = "".join(out)
    if len(encoded) <= MAX_PROFILE_SEGMENT:
        return encoded
    return "-3" + hashlib.sha256(profile.encode("utf-8", "surrogatepass")).hexdigest()


def default_log_path(profile: str | None, now: dt.datetime, *, log_dir: Path | None = None) -> Path:
    """The dated default in the tmp root (resolved, and created 0700, when not given)."""
    base = secure_tmp_root() if log_dir is None else log_dir
    name = "openclaw-"
    if profile and profile.strip() and profile.strip().lower() != "default":
        name = f"openclaw-{_profile_segment(profile.strip())}-"
    return base / f"{name}{now.strftime('%Y-%m-%d')}.log"


def configured_log_path(setting: str | None, profile: str | None, now: dt.datetime) -> Path:
    """The file log the gateway writes: `logging.file` when set, else the dated default."""
    return Path(setting).expanduser() if setting else default_log_path(profile, now)


_ROLLING = re.compile(r"^(openclaw(?:-.+)?-)\d{4}-\d\d-\d\d\.log$")


def rolled_path(path: Path, now: dt.datetime) -> Path:
    """A dated log file's name for `now`'s date (same family); other files as they are."""
    match = _ROLLING.match(path.name)
    if match is None:
        return path
    return path.with_name(f"{match.group(1)}{now.strftime('%Y-%m-%d')}.log")


def prune_rolling_logs(directory: Path, keep: Path, now_s: float) -> None:
    """The official pruneOldRollingLogs: regular files named openclaw-*.log whose mtime is
    older than 24 h are removed (best effort)."""
    cutoff = now_s - MAX_LOG_AGE_S
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith("openclaw-") and name.endswith(".log")) or name == keep.name:
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                os.unlink(entry.path)


def newest_rolling_log(path: Path) -> Path:
    """`path` if it exists; for a missing dated default (a new day, gateway idle), the newest
    file of the same family (`openclaw[-<profile>]-YYYY-MM-DD.log`), as the official reader."""
    match = _ROLLING.match(path.name)
    if path.exists() or match is None:
        return path
    try:
        family = [
            p for p in path.parent.iterdir() if p.is_file() and _family(p.name) == match.group(1)
        ]
    except OSError:
        return path
    return max(family, key=lambda p: p.stat().st_mtime, default=path)


def _family(name: str) -> str | None:
    match = _ROLLING.match(name)
    return match.group(1) if match else None


def iso_local(now: dt.datetime) -> str:
    text = now.isoformat(timespec="milliseconds")
    if text.endswith("+00:00") or now.utcoffset() is not None:
        return text
    return text


def short_id(value: str) -> str:
    """UUIDs are shortened to the first 8 characters, `…`, then the last 4."""
    return f"{value[:8]}…{value[-4:]}" if len(value) > 16 else value


_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_append(path: Path) -> TextIO:
    """Open for appending: created 0600 (no window with a wider mode), never through a
    symlink, only a regular file; an existing file of ours is tightened to 0600."""
    fd = os.open(path, _APPEND_FLAGS, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"refusing to append to a non-file: {path}")
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        return open(fd, "a", encoding="utf-8", closefd=True)
    except BaseException:
        os.close(fd)
        raise


class FileLog:
    """Append-only JSONL log with size rotation and, for a dated file, the daily roll. Writes
    are small and synchronous by design."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.rolling = _ROLLING.match(path.name) is not None
        self._fh: TextIO | None = None
        self._size = 0

    def open(self) -> None:
        parent = self.path.parent
        if is_tmp_root(parent):
            ensure_private_dir(parent)  # the shared tmp root: ours, 0700, no symlink
        else:
            parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fh = _open_append(self.path)
        self._size = self._fh.tell()
        if self.rolling:
            prune_rolling_logs(parent, self.path, time.time())

    def _roll(self, now: dt.datetime) -> None:
        target = rolled_path(self.path, now)
        if target == self.path or self._fh is None:
            return
        self._fh.close()
        self._fh = None
        self.path = target
        with contextlib.suppress(OSError):  # a failed roll stops file logging, not the gateway
            self.open()

    def write(self, line: str, now: dt.datetime | None = None) -> None:
        if self.rolling and now is not None:
            self._roll(now)
        if self._fh is None:
            return
        data = line + "\n"
        size = len(data.encode("utf-8"))
        if self._size + size > self.max_bytes:
            self._rotate()
        assert self._fh is not None
        self._fh.write(data)
        self._fh.flush()
        self._size += size

    def _rotate(self) -> None:
        assert self._fh is not None
        self._fh.close()
        stem, suffix = self.path.stem, self.path.suffix
        for n in range(ROTATE_KEEP, 0, -1):
            src = self.path if n == 1 else self.path.with_name(f"{stem}.{n - 1}{suffix}")
            dst = self.path.with_name(f"{stem}.{n}{suffix}")
            if src.exists():
                os.replace(src, dst)
        self._fh = _open_append(self.path)
        self._size = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Logger:
    """The gateway's logger. One instance, passed to whoever logs."""

    def __init__(
        self,
        *,
        redactor: Redactor | None = None,
        file_log: FileLog | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        level: str = "info",
        verbose: bool = False,
        ws_style: str = "auto",
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.redact = redactor or Redactor()
        self.file_log = file_log
        self._stdout = stdout if stdout is not None else sys.stdout
        self._stderr = stderr if stderr is not None else sys.stderr
        self._level = LEVELS.get(level, 3)
        self.verbose = verbose
        self.ws_style = ws_style
        self._clock = clock or (lambda: dt.datetime.now().astimezone())
        self._hostname = socket.gethostname()
        self._last_ws_conn: str | None = None

    @property
    def level_name(self) -> str:
        return next((name for name, rank in LEVELS.items() if rank == self._level), "info")

    def set_level(self, level: str) -> None:
        """logging.level changed on a config reload."""
        self._level = LEVELS.get(level, 3)

    # -- plain lines -------------------------------------------------------------------
    def log(self, level: str, subsystem: str, message: str, **fields: Any) -> None:
        rank = LEVELS[level]
        if rank < self._level and not (self.verbose and rank >= LEVELS["debug"]):
            return
        now = self._clock()
        tail = "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
        text = escape_controls(self.redact(f"{message}{tail}"))
        subsystem = escape_controls(subsystem)
        line = f"{iso_local(now)} [{subsystem}] {text}"
        out = self._stderr if rank >= LEVELS["warn"] else self._stdout
        try:
            out.write(line + "\n")
            out.flush()
        except (OSError, ValueError):
            pass  # a closed console must not take the gateway down
        if self.file_log is not None:
            self.file_log.write(self._file_record(now, level, subsystem, text), now)

    def _file_record(self, now: dt.datetime, level: str, subsystem: str, text: str) -> str:
        name = json.dumps({"subsystem": subsystem}, separators=(",", ":"))
        utc = now.astimezone(dt.UTC)
        record = {
            "0": name,
            "1": text,
            "_meta": {
                "runtime": "python",
                "runtimeVersion": sys.version.split()[0],
                "hostname": self._hostname,
                "date": utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z",
                "logLevelId": LEVELS[level],
                "logLevelName": level.upper(),
                "name": name,
                "parentNames": ["openclaw"],
            },
            "time": iso_local(now),
            "hostname": self._hostname,
            "message": text,
        }
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    def debug(self, subsystem: str, message: str, **fields: Any) -> None:
        self.log("debug", subsystem, message, **fields)

    def info(self, subsystem: str, message: str, **fields: Any) -> None:
        self.log("info", subsystem, message, **fields)

    def warn(self, subsystem: str, message: str, **fields: Any) -> None:
        self.log("warn", subsystem, message, **fields)

    def error(self, subsystem: str, message: str, **fields: Any) -> None:
        self.log("error", subsystem, message, **fields)

    # -- WebSocket traffic ---------------------------------------------------------------
    def ws_open(self, conn_id: str, remote: str, local: str) -> None:
        if self.verbose:
            self.info("ws", f"← open endpoint={remote}->{local} conn={short_id(conn_id)}")

    def ws_connect(self, conn_id: str, client: str, version: str, mode: str, auth: str) -> None:
        if self.verbose:
            self.info(
                "ws",
                f"← connect client={client} version={version} mode={mode} "
                f"clientId={client} auth={auth}",
            )

    def ws_response(
        self,
        conn_id: str,
        method: str,
        req_id: str,
        ok: bool,
        duration_ms: float,
        error: dict[str, Any] | None = None,
    ) -> None:
        slow = duration_ms >= SLOW_RESPONSE_MS
        if not (self.verbose or not ok or slow):
            return
        mark = "✓" if ok else "✗"
        err = ""
        if error is not None:
            err = f" errorCode={error.get('code')} errorMessage={str(error.get('message'))[:240]}"
        dur = f"{int(duration_ms)}ms"
        if self.verbose and self.ws_style == "full":
            self.info("ws", f"← req {method} conn={short_id(conn_id)} id={short_id(req_id)}")
            self.info(
                "ws",
                f"→ res {mark} {method} {dur}{err} conn={short_id(conn_id)} id={short_id(req_id)}",
            )
            return
        conn = ""
        if not self.verbose or self._last_ws_conn != conn_id:
            conn = f" conn={short_id(conn_id)}"
            self._last_ws_conn = conn_id
        level = "info" if ok else "warn"
        self.log(level, "ws", f"⇄ res {mark} {method} {dur}{err}{conn} id={short_id(req_id)}")

    def ws_close(self, conn_id: str, code: int | None, duration_ms: float, handshake: str) -> None:
        if self.verbose:
            self.info(
                "ws",
                f"→ close code={code} durationMs={int(duration_ms)} "
                f"handshake={handshake} conn={short_id(conn_id)}",
            )

    def close(self) -> None:
        if self.file_log is not None:
            self.file_log.close()


def read_tail(path: Path, cursor: int | None, limit: int, max_bytes: int) -> dict[str, Any]:
    """The `logs.tail` read.

    Without a cursor: the last `limit` whole lines within the last `max_bytes`. With a cursor
    (a byte offset from an earlier answer): the next whole lines after it, at most `limit`
    lines and `max_bytes` bytes; `cursor` in the answer is where to continue. A cursor past the
    end means the file was rotated or truncated: answer `reset:true` and start over.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return {"file": str(path), "cursor": 0, "size": 0, "lines": []}
    reset = cursor is not None and cursor > size
    following = cursor is not None and not reset
    start = cursor if following and cursor is not None else max(0, size - max_bytes)
    end = min(size, start + max_bytes)
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    head_skip = 0
    if start > 0 and not following:
        nl = data.find(b"\n")
        head_skip = nl + 1 if nl >= 0 else len(data)
    last_nl = data.rfind(b"\n")
    body = data[head_skip : last_nl + 1] if last_nl >= head_skip else b""
    raw_lines = body.split(b"\n")[:-1] if body else []
    truncated = end < size
    if len(raw_lines) > limit:
        truncated = True
        if following:
            raw_lines = raw_lines[:limit]
            body = b"".join(x + b"\n" for x in raw_lines)
        else:
            dropped = raw_lines[:-limit]
            head_skip += sum(len(x) + 1 for x in dropped)
            raw_lines = raw_lines[-limit:]
            body = b"".join(x + b"\n" for x in raw_lines)
    out: dict[str, Any] = {
        "file": str(path),
        "cursor": start + head_skip + len(body),
        "size": size,
        "lines": [x.decode("utf-8", errors="replace") for x in raw_lines],
    }
    if truncated:
        out["truncated"] = True
    if reset:
        out["reset"] = True
    if head_skip:
        out["skippedBytes"] = head_skip
    return out
