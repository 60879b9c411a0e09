"""store: what its docstring promises about durability and cost matches the connection."""

from __future__ import annotations

from pathlib import Path

from openclaw_gateway.state import store as store_module
from openclaw_gateway.state.store import Store


def test_docstring_states_the_commit_cost_truthfully(tmp_path: Path) -> None:
    """Issue 13: under synchronous=FULL every commit waits for an fsync of the WAL, so the
    docstring must not promise microsecond answers; it names the fsync and the loop stall."""
    db = Store.open(tmp_path)
    try:
        assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    doc = " ".join((store_module.__doc__ or "").split())
    assert "microsecond" not in doc
    assert "fsync" in doc
    assert "event loop" in doc
