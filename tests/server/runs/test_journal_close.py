"""Closing the run journal at shutdown waits for the commit its worker thread is running.

Found by a whole-suite run: a gateway cancelled mid-turn closed the journal's sqlite connection
while the worker thread was inside `chat_run_put`, and the process died with a segfault. A task
cancelled while it waits for `trio.to_thread.run_sync` does not stop the thread, so only the
journal can wait for it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.runs.journal import JournalClosed, RunJournal
from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.sessions import SessionBook, text_message
from openclaw_gateway.state.store import Store
from openclaw_gateway.state.transcript_tail import TranscriptTail

KEY = K.parse("main", None, default_agent="main")


async def test_close_waits_for_the_running_commit_and_later_commits_are_refused(
    tmp_path: Path,
) -> None:
    Store.open(tmp_path).close()  # the schema, as the gateway's own store creates it
    journal = RunJournal(tmp_path / "state" / "gateway.sqlite", TranscriptTail())
    entered, release = threading.Event(), threading.Event()
    finished: list[str] = []
    real_begin = SessionBook.begin_run

    def slow_begin(self: SessionBook, *args: Any) -> Any:
        entered.set()
        release.wait(5)
        result = real_begin(self, *args)
        finished.append("committed")
        return result

    message = text_message("user", "hello", 1)
    with pytest.MonkeyPatch.context() as patch, trio.fail_after(10):
        patch.setattr(SessionBook, "begin_run", slow_begin)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(journal.begin_run, KEY, "run-1", message, {}, 1)
            await trio.to_thread.run_sync(entered.wait, 5)
            closing = trio.Event()

            async def close() -> None:
                await journal.aclose()
                closing.set()

            nursery.start_soon(close)
            await trio.sleep(0.05)
            assert not closing.is_set()  # still waiting for the thread's commit
            release.set()
            await closing.wait()
        assert finished == ["committed"]
        with pytest.raises(RpcError) as refused:
            await journal.begin_run(KEY, "run-2", message, {}, 2)
        assert refused.value.code == "UNAVAILABLE"
        with pytest.raises(JournalClosed):
            await journal.finish_run(KEY, "run-1", "ok", None, {}, 3)
