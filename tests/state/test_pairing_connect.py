"""Book.connect (one read, at most one commit), reads without the write lock, and the
last-seen granularity of DeviceRecords; over a real SQLite file."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.security import scopes as S
from openclaw_gateway.state.device_records import (
    PENDING_TTL_MS,
    SEEN_GRANULARITY_MS,
    DeviceRecords,
)
from openclaw_gateway.state.pairing import Book
from openclaw_gateway.state.store import Store
from tests.state.walcount import wal_commits

T0 = 1_800_000_000_000


@pytest.fixture(name="book")
def _book(tmp_path: Path) -> Iterator[Book]:
    store = Store.open(tmp_path)
    ids = (f"req-{n}" for n in itertools.count(1))
    tokens = (f"tok-{n}" for n in itertools.count(1))
    yield Book(store, new_id=lambda: next(ids), mint=lambda: next(tokens))
    store.close()


def _req(scopes: list[str], device: str = "dev") -> dict[str, Any]:
    return {"deviceId": device, "publicKey": "KEY", "role": "operator", "scopes": scopes}


def _pair(book: Book, device: str = "dev") -> None:
    book.request(_req([S.READ], device), T0)
    assert isinstance(
        book.approve(book.store.pending_for(device)[0]["requestId"], [S.READ], T0), dict
    )


class WriteLock:
    """Another connection holding the database's write lock: code under it that asked for
    the lock would wait out the store's 5 s busy timeout and fail."""

    def __init__(self, db: Path) -> None:
        self.db = sqlite3.connect(db, isolation_level=None, timeout=0)

    def __enter__(self) -> WriteLock:
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


def test_a_connect_that_changes_nothing_commits_nothing(book: Book) -> None:
    _pair(book)
    before = wal_commits(book.store.path)
    with WriteLock(book.store.path):
        seen = book.connect("dev", T0, lambda r: (r.paired or {}).get("deviceId"))
        token = book.connect("dev", T0, lambda r: r.ensure_token("operator", [S.READ], T0))
    assert seen == "dev"
    assert token is not None and token["token"] == "tok-1"
    assert wal_commits(book.store.path) == before


def test_token_reads_outside_a_connect_take_no_write_lock(book: Book) -> None:
    """Issue 13 §4: Book.ensure_token / verify_token / touch that change nothing are reads;
    they neither BEGIN IMMEDIATE (they would wait out the busy timeout here) nor commit."""
    _pair(book)
    assert book.verify_token("dev", "operator", "tok-1", [S.READ], T0) is None  # first use
    book.touch("dev", {"displayName": "laptop"})
    before = wal_commits(book.store.path)
    with WriteLock(book.store.path):
        reused = book.ensure_token("dev", "operator", [S.READ], T0 + 1)
        assert reused is not None and reused["token"] == "tok-1"
        assert book.verify_token("dev", "operator", "tok-1", [S.READ], T0 + 2) is None
        book.touch("dev", {"displayName": "laptop"})
    assert wal_commits(book.store.path) == before
    # A change still commits, once, through the write lock.
    assert book.ensure_token("dev", "operator", [], T0 + 3) is not None
    book.touch("dev", {"displayName": "desk"})
    assert wal_commits(book.store.path) == before + 1
    assert (book.paired("dev")[0] or {})["displayName"] == "desk"


def test_a_connect_commits_all_its_changes_once(book: Book) -> None:
    before = wal_commits(book.store.path)

    def pair_silently(records: DeviceRecords) -> Any:
        req = records.request(_req([S.READ]), T0)
        approved = records.approve(req.request["requestId"], [S.READ], T0, "silent")
        assert isinstance(approved, dict)
        return records.ensure_token("operator", [S.READ], T0)

    issued = book.connect("dev", T0, pair_silently)
    assert wal_commits(book.store.path) - before == 1
    assert issued is not None and issued["token"] == "tok-1"
    paired, tokens = book.paired("dev")
    assert paired is not None and paired["approvedVia"] == "silent"
    assert tokens["operator"]["token"] == "tok-1"
    assert book.store.list_pending() == []


def test_a_connect_decides_again_when_the_records_changed_before_the_write(
    book: Book, tmp_path: Path
) -> None:
    """Another writer commits between the lock-free read and the write: the decision is made
    again on what is in the database now, so nothing it wrote is overwritten blindly."""
    other = Store.open(tmp_path)
    calls: list[str | None] = []

    def decide(records: DeviceRecords) -> str:
        calls.append((records.paired or {}).get("displayName"))
        if len(calls) == 1:
            other.put_paired({"deviceId": "dev", "publicKey": "KEY", "displayName": "theirs"})
        records.touch({"remoteIp": "10.0.0.9"})
        return str(len(calls))

    try:
        _pair(book)
        assert book.connect("dev", T0, decide) == "2"
    finally:
        other.close()
    assert calls == [None, "theirs"]
    paired, _ = book.paired("dev")
    assert paired is not None
    assert (paired["displayName"], paired["remoteIp"]) == ("theirs", "10.0.0.9")


def test_reads_take_no_write_lock_and_leave_expired_requests_to_the_next_write(
    book: Book,
) -> None:
    _pair(book, "paired-dev")
    book.request(_req([S.READ]), T0)
    expired = T0 + PENDING_TTL_MS
    with WriteLock(book.store.path):
        assert book.pending("req-2", expired - 1) is not None
        assert book.pending("req-2", expired) is None
        pending, paired = book.listing(expired)
        assert pending == [] and [p["deviceId"] for p, _ in paired] == ["paired-dev"]
        assert book.paired("paired-dev")[0] is not None
    assert [p["requestId"] for p in book.store.list_pending()] == ["req-2"]  # still stored
    book.reject("nothing-by-this-id", expired)  # any write drops what expired
    assert book.store.list_pending() == []


def test_no_write_inside_a_read(book: Book) -> None:
    with book.store.reading(), pytest.raises(RuntimeError), book.store.transaction():
        pass


def _records(paired: dict[str, Any] | None = None, **tokens: dict[str, Any]) -> DeviceRecords:
    return DeviceRecords("dev", paired, dict(tokens), [], new_id=lambda: "id", mint=lambda: "t")


def test_touch_moves_last_seen_at_most_once_a_minute() -> None:
    seen = {"deviceId": "dev", "remoteIp": "127.0.0.1", "lastSeenAtMs": T0}
    seen["lastSeenReason"] = "connect"
    patch = {"remoteIp": "127.0.0.1", "lastSeenReason": "connect", "displayName": None}
    records = _records(dict(seen))
    records.touch({**patch, "lastSeenAtMs": T0 + SEEN_GRANULARITY_MS - 1})
    assert records.paired == seen
    records.touch({**patch, "lastSeenAtMs": T0 + SEEN_GRANULARITY_MS})
    assert records.paired == {**seen, "lastSeenAtMs": T0 + SEEN_GRANULARITY_MS}
    # Anything else that changed is written at once, with the time it was seen.
    records = _records(dict(seen))
    records.touch({**patch, "remoteIp": "10.0.0.2", "lastSeenAtMs": T0 + 5})
    assert records.paired == {**seen, "remoteIp": "10.0.0.2", "lastSeenAtMs": T0 + 5}
    # A first sighting, and a clock that went backwards, are recorded too.
    first = _records({"deviceId": "dev"})
    first.touch({"lastSeenAtMs": T0})
    assert first.paired == {"deviceId": "dev", "lastSeenAtMs": T0}
    back = _records(dict(seen))
    back.touch({**patch, "lastSeenAtMs": T0 - 1})
    assert back.paired is not None and back.paired["lastSeenAtMs"] == T0 - 1


def test_verify_token_records_use_at_most_once_a_minute() -> None:
    paired = {"deviceId": "dev", "role": "operator", "scopes": [S.READ]}
    paired["approvedScopes"] = [S.READ]
    token = {"token": "tok", "role": "operator", "scopes": [S.READ], "createdAtMs": T0}
    records = _records(paired, operator=token)
    assert records.verify_token("operator", "tok", [S.READ], T0 + 1) is None
    assert records.tokens["operator"]["lastUsedAtMs"] == T0 + 1
    assert token.get("lastUsedAtMs") is None  # the record read is never changed in place
    assert records.verify_token("operator", "tok", [S.READ], T0 + SEEN_GRANULARITY_MS) is None
    assert records.tokens["operator"]["lastUsedAtMs"] == T0 + 1
    assert records.verify_token("operator", "tok", [], T0 + 1 + SEEN_GRANULARITY_MS) is None
    assert records.tokens["operator"]["lastUsedAtMs"] == T0 + 1 + SEEN_GRANULARITY_MS
    assert records.verify_token("operator", "nope", [], T0) == "token-mismatch"
