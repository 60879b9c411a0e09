"""Receipt times of many WebSocket listeners, read by one thread with epoll.

The fan-out benchmarks measure when the gateway's frames reach each listener. Reading 100 or
1000 sockets with a trio task each (or a WebSocket library) in the bench process made the
reading itself the figure: each wake-up of a task costs tens of µs, so the last listener's
"receipt" waited for the bench's own scheduler, not for the gateway. Here one thread sleeps in
epoll over every listener's descriptor and stamps CLOCK_MONOTONIC the moment bytes arrive, then
scans them with a regular expression; the gateway's pings are answered (an idle listener that
never pongs is rightly dropped).

The listeners' trio streams must not be read while a ReceiptReader runs: it reads duplicates
of their descriptors. Bounded: it stops when told, or after `cap_s`.
"""

from __future__ import annotations

import re
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench_common import BenchError, percentile

# The servers' keepalive: an empty, unmasked ping. 0x89 followed by 0x00 never occurs in JSON
# text sent as UTF-8 (no raw NUL), so a byte search finds exactly the pings.
PING = b"\x89\x00"
PONG = b"\x8a\x80\x00\x00\x00\x00"  # an empty pong, masked with a zero key (clients must mask)
KEEP = 4096  # bytes kept per listener for a match split across two reads


def pongs_owed(data: bytes) -> bytes:
    """The pongs that answer the pings in `data` (b"" when there are none)."""
    return PONG * data.count(PING) if PING in data else b""


class ReceiptReader:
    """Stamps each match of `pattern` on each listener; `on_match(key, listener_index, ns)`
    runs in the reader thread for every match, where `key` is the pattern's first group.
    The pattern must start with a literal: bytes without it are skipped by a plain search
    (a 48 KB presence frame to each of 1000 listeners is 48 MB a round to look through)."""

    def __init__(
        self,
        fds: Sequence[int],
        pattern: re.Pattern[bytes],
        on_match: Callable[[bytes, int, int], None],
        pending: Sequence[bytes] = (),
        cap_s: float = 60.0,
    ) -> None:
        self._socks = [socket.socket(fileno=socket.dup(fd)) for fd in fds]
        self._pattern = pattern
        self._needle = _literal_prefix(pattern)
        self._on_match = on_match
        self._buffers = list(pending) or [b""] * len(fds)
        self._cap_s = cap_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="receipts", daemon=True)
        self.closed = 0  # listeners the gateway closed meanwhile

    def __enter__(self) -> ReceiptReader:
        for sock in self._socks:
            sock.setblocking(False)
        for index, data in enumerate(self._buffers):  # what came with the last trio read
            self._buffers[index] = b""
            self._scan(index, data, time.monotonic_ns())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self._socks:
            sock.close()

    def _run(self) -> None:
        poller = select.epoll()
        by_fd = {sock.fileno(): index for index, sock in enumerate(self._socks)}
        for fd in by_fd:
            poller.register(fd, select.EPOLLIN)
        deadline = time.monotonic() + self._cap_s
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                ready = poller.poll(0.05)
                now = time.monotonic_ns()  # every ready listener's bytes were there by now
                for fd, _events in ready:
                    index = by_fd[fd]
                    try:
                        data = self._socks[index].recv(65_536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        poller.unregister(fd)
                        self.closed += 1
                        continue
                    if owed := pongs_owed(data):
                        self._socks[index].send(owed)
                    self._scan(index, data, now)
        finally:
            poller.close()

    def _scan(self, index: int, data: bytes, now: int) -> None:
        buf = self._buffers[index] + data
        end = 0
        start = buf.find(self._needle)
        if start >= 0:
            for match in self._pattern.finditer(buf, start):
                self._on_match(match.group(1), index, now)
                end = match.end()
        self._buffers[index] = buf[end:][-KEEP:]


def _literal_prefix(pattern: re.Pattern[bytes]) -> bytes:
    """The bytes every match starts with (up to the first regex metacharacter)."""
    source = pattern.pattern
    out = bytearray()
    i = 0
    while i < len(source):
        char = source[i : i + 1]
        if char == b"\\" and i + 1 < len(source) and not source[i + 1 : i + 2].isalnum():
            out += source[i + 1 : i + 2]  # an escaped punctuation mark is itself
            i += 2
            continue
        if char in b".^$*+?{}[]()|\\":
            if char in b"*?{" and out:
                out = out[:-1]  # the literal before a quantifier may be absent
            break
        out += char
        i += 1
    if not out:
        raise ValueError(f"pattern {source!r} must start with a literal")
    return bytes(out)


class RoundReceipts:
    """The fan-out rounds' bookkeeping: when each listener first saw round r's marker
    (`fanout-<r>-<nonce>`), fed by a ReceiptReader (`pattern`, `on_match`), and each round's
    time from its start to the last listener's receipt."""

    def __init__(self, listeners: int, rounds: int) -> None:
        self._listeners = listeners
        self.nonce = secrets.token_hex(4)
        self.pattern = re.compile(rb"fanout-(\d+)-" + self.nonce.encode())
        self._seen: dict[int, dict[int, int]] = {}  # round -> listener -> first receipt ns
        self._complete = {r: threading.Event() for r in range(rounds)}
        self.last_ms: list[float] = []  # per finished round

    def marker(self, round_: int) -> str:
        return f"fanout-{round_}-{self.nonce}"

    def on_match(self, round_: bytes, index: int, now: int) -> None:  # in the reader thread
        seen = self._seen.setdefault(int(round_), {})
        seen.setdefault(index, now)
        if len(seen) == self._listeners:
            self._complete[int(round_)].set()

    def finish(self, round_: int, started_ns: int, timeout_s: float, what: str) -> None:
        """Wait (blocking) until every listener saw the round; record its last receipt."""
        if not self._complete[round_].wait(timeout_s):
            got = len(self._seen.get(round_, {}))
            raise BenchError(f"{what} round {round_}: {got}/{self._listeners} listeners got it")
        self.last_ms.append((max(self._seen[round_].values()) - started_ns) / 1e6)

    def summary(self, cpu_s: float | None) -> dict[str, Any]:
        """p50/p99 of the last receipts, the server's CPU per recipient, every round's time."""
        last = self.last_ms
        per = len(last) * self._listeners
        return {
            "listeners": self._listeners,
            "rounds": len(last),
            "last_receipt_p50_ms": round(percentile(last, 50), 2),
            "last_receipt_p99_ms": round(percentile(last, 99), 2),
            "cpu_per_recipient_us": round(cpu_s / per * 1e6, 1) if cpu_s and per else None,
            "last_receipt_ms": [round(ms, 3) for ms in last],  # every round (bench_compare pools)
        }
