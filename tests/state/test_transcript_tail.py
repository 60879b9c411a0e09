"""The in-memory transcript tail: always what the database holds (two books on one file, as
the loop and the run journal), dropped when it could be stale, bounded; and as a property
against random operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.sessions import SessionBook, message_text, text_message
from openclaw_gateway.state.store import Store
from openclaw_gateway.state.transcript_tail import Entry, TranscriptTail

KEY = K.parse("main")


def texts(entries: list[Entry]) -> list[str]:
    return [text for _seq, _message, text in entries]


def from_db(book: SessionBook, limit: int) -> list[str]:
    return [message_text(m) for m in book.history(str(KEY), limit)[1]]


def two_books(tmp_path: Path) -> tuple[SessionBook, SessionBook]:
    tail = TranscriptTail(max_sessions=4, max_messages=8)
    path = tmp_path / "db.sqlite"
    return SessionBook(Store(path), tail=tail), SessionBook(Store(path), tail=tail)


def test_recent_follows_writes_of_both_books(tmp_path: Path) -> None:
    loop, journal = two_books(tmp_path)
    assert loop.recent(str(KEY), 5) == []
    loop.append(KEY, text_message("user", "a", 1), 1)
    assert texts(loop.recent(str(KEY), 5)) == ["a"]  # loaded, now held
    journal.begin_run(KEY, "r1", text_message("user", "b", 2, run_id="r1"), {}, 2)
    journal.finish_run(KEY, "r1", "ok", text_message("assistant", "c", 3, run_id="r1"), {}, 3)
    held = loop.recent(str(KEY), 5)
    assert texts(held) == ["a", "b", "c"] == from_db(loop, 5)
    assert [seq for seq, _m, _t in held] == [1, 2, 3]
    assert held[1][1]["runId"] == "r1" and "__openclaw" not in held[1][1]
    assert texts(loop.recent(str(KEY), 2)) == ["b", "c"]
    loop.reset(KEY, 4)
    assert loop.recent(str(KEY), 5) == []
    journal.append(KEY, text_message("user", "d", 5), 5)
    assert texts(loop.recent(str(KEY), 5)) == ["d"]
    assert loop.delete(str(KEY))
    assert loop.recent(str(KEY), 5) == []


def test_more_than_held_reads_the_database(tmp_path: Path) -> None:
    loop, _journal = two_books(tmp_path)
    for i in range(12):
        loop.append(KEY, text_message("user", f"m{i}", i), i)
    assert texts(loop.recent(str(KEY), 3)) == ["m9", "m10", "m11"]
    assert texts(loop.recent(str(KEY), 10)) == [f"m{i}" for i in range(2, 12)]  # over 8


def test_a_gap_drops_the_entry() -> None:
    tail = TranscriptTail()
    loads: list[int] = []

    def load(count: int) -> list[Entry]:
        loads.append(count)
        return [(1, {}, "one")]

    assert texts(tail.newest("s", 5, load)) == ["one"]
    tail.note("s", (2, {}, "two"))
    assert texts(tail.newest("s", 5, load)) == ["one", "two"] and len(loads) == 1
    tail.note("s", (4, {}, "four"))  # seq 3 was never noted: no longer trusted
    assert texts(tail.newest("s", 5, load)) == ["one"] and len(loads) == 2


def test_a_note_during_the_load_is_not_lost() -> None:
    tail = TranscriptTail()
    db: list[Entry] = [(1, {}, "one")]

    def racing_load(count: int) -> list[Entry]:
        snapshot = list(db)
        db.append((2, {}, "two"))  # the journal commits while the loop reads
        tail.note("s", db[-1])
        return snapshot

    assert texts(tail.newest("s", 5, racing_load)) == ["one"]
    assert texts(tail.newest("s", 5, lambda count: list(db))) == ["one", "two"]
    assert texts(tail.newest("s", 5, lambda count: pytest.fail("held"))) == ["one", "two"]


def test_bounded_sessions_and_messages() -> None:
    tail = TranscriptTail(max_sessions=2, max_messages=3)
    for sid in ("a", "b", "c"):
        tail.newest(sid, 3, lambda count: [(1, {}, "x")])
    assert tail.newest("b", 3, lambda count: pytest.fail("held")) == [(1, {}, "x")]
    reloaded: list[str] = []
    tail.newest("a", 3, lambda count: reloaded.append("a") or [])  # the oldest was evicted
    assert reloaded == ["a"]
    for seq in range(2, 6):
        tail.note("b", (seq, {}, str(seq)))
    assert texts(tail.newest("b", 3, lambda count: pytest.fail("held"))) == ["3", "4", "5"]


def test_a_callers_transaction_is_not_trusted(tmp_path: Path) -> None:
    loop, _journal = two_books(tmp_path)
    loop.append(KEY, text_message("user", "a", 1), 1)
    assert texts(loop.recent(str(KEY), 5)) == ["a"]

    def append_then_fail() -> None:
        with loop.store.transaction():
            loop.append(KEY, text_message("user", "rolled back", 2), 2)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        append_then_fail()
    assert texts(loop.recent(str(KEY), 5)) == ["a"] == from_db(loop, 5)


OPS = st.lists(
    st.tuples(st.sampled_from(["loop", "journal", "run", "reset", "read"]), st.integers(0, 9)),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(ops=OPS)
def test_recent_always_matches_the_database(tmp_path_factory: Any, ops: list[Any]) -> None:
    loop, journal = two_books(tmp_path_factory.mktemp("tail"))
    for step, (op, n) in enumerate(ops):
        if op == "loop":
            loop.append(KEY, text_message("user", f"u{step}", step), step)
        elif op == "journal":
            journal.append(KEY, text_message("assistant", f"a{step}", step), step)
        elif op == "run":
            rid = f"r{step}"
            journal.begin_run(
                KEY, rid, text_message("user", f"q{step}", step, run_id=rid), {}, step
            )
        elif op == "reset":
            journal.reset(KEY, step)
        elif n:
            assert texts(loop.recent(str(KEY), n)) == from_db(loop, n)
    for limit in (0, 1, 5, 8, 9):
        assert texts(loop.recent(str(KEY), limit)) == (from_db(loop, limit) if limit else [])
