"""The session book on a real SQLite file: keys, bounds, one transaction per change,
interrupted runs after a restart; key parsing as a property."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state import sessions as SB
from openclaw_gateway.state.sessions import SessionBook, text_message
from openclaw_gateway.state.store import Store


def test_key_shapes() -> None:
    assert str(K.parse("main")) == "agent:main:main"
    assert str(K.parse("Main", "Ops")) == "agent:ops:main"
    assert str(K.parse("agent:Main:Work")) == "agent:main:work"
    assert str(K.parse("work", default_agent="ops")) == "agent:ops:work"
    for bad, reason in (
        ("", "sessionKey required"),
        ("global", "per-agent"),
        ("x" * 600, "longer than"),
        ("x" * 510, "longer than"),  # agent:main:xxx… would not fit
        (":", "malformed"),
        (":x", "malformed"),
        ("agent:", "malformed"),
        ("Agent:main", "malformed"),
        ("agent:main:", "malformed"),
        ("agent::main", "malformed"),
        ("agent:main::x", "malformed"),
    ):
        with pytest.raises(K.SessionKeyError, match=reason):
            K.parse(bad)
    with pytest.raises(K.SessionKeyError, match='belongs to agent "a", not "b"'):
        K.parse("agent:a:main", "b")
    assert K.normalize_agent_id(" My Agent! ") == "my-agent"
    with pytest.raises(K.SessionKeyError):
        K.normalize_agent_id("!!!")


@given(st.text(min_size=1, max_size=80))
def test_parse_is_canonical(raw: str) -> None:
    try:
        key = K.parse(raw)
    except K.SessionKeyError:
        return
    again = K.parse(str(key))
    assert again == key  # canonical keys parse to themselves
    assert str(key) == str(key).lower()
    assert K.split_agent_key(str(key)) == (key.agent_id, key.rest)


def test_transcript_is_bounded_and_survives_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SB, "MAX_TRANSCRIPT_MESSAGES", 5)
    store = Store(tmp_path / "db.sqlite")
    book = SessionBook(store)
    key = K.parse("main")
    for i in range(8):
        book.append(key, text_message("user", f"m{i}", i), i)
    rec, messages = book.history(str(key), 100)
    assert [m["content"][0]["text"] for m in messages] == ["m3", "m4", "m5", "m6", "m7"]
    assert [m["__openclaw"]["seq"] for m in messages] == [4, 5, 6, 7, 8]
    assert rec is not None and rec["derivedTitle"] == "m0" and rec["messageCount"] == 5
    store.close()
    reopened = SessionBook(Store(tmp_path / "db.sqlite"))
    assert len(reopened.history(str(key), 100)[1]) == 5


def test_failed_change_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    book = SessionBook(store)
    with pytest.raises(AssertionError):
        book.finish_run(K.parse("main"), "r1", "bogus", text_message("assistant", "x", 1), {}, 1)
    assert store.session_count() == 0 and book.run_record("r1") is None


def test_unfinished_runs_close_as_interrupted(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    book = SessionBook(store)
    key = K.parse("main")
    book.begin_run(key, "r1", text_message("user", "hi", 1), {"message": "hi"}, 1)
    store.close()
    book = SessionBook(Store(tmp_path / "db.sqlite"))
    assert book.close_interrupted(2) == 1
    session_key, status, meta = book.run_record("r1") or ("", "", {})
    assert (session_key, status, meta["error"]) == ("agent:main:main", "error", SB.INTERRUPTED)
    assert [m["role"] for m in book.history("agent:main:main", 10)[1]] == ["user"]


def test_the_index_is_the_listing_without_decoding_records(tmp_path: Path) -> None:
    """health/status read (key, agentId, updatedAt) from the columns: the same rows, in the
    same order, as the decoded listing."""
    book = SessionBook(Store(tmp_path / "db.sqlite"))
    for name, at in (("main", 5), ("a", 9), ("b", 9), ("c", 1)):
        book.ensure(K.parse(name), at)
    book.append(K.parse("c"), text_message("user", "later", 12), 12)
    listing = [(r["key"], r["agentId"], r["updatedAt"]) for r in book.listing()]
    assert book.index() == listing
    assert [key for key, _agent, _at in listing][:1] == ["agent:main:c"]
