"""logs.tail reads the file being written now: after the daily roll, the new date's file."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from openclaw_gateway.core.logs import FileLog, Logger
from openclaw_gateway.server.rpc.context import CallContext, Caller, GatewayState
from openclaw_gateway.server.rpc.methods.logs import logs_tail
from openclaw_gateway.state.presence import PresenceTable


def test_logs_tail_follows_the_daily_roll(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 3, 4, 23, 59, tzinfo=dt.UTC)]
    first = tmp_path / "openclaw-2026-03-04.log"
    file_log = FileLog(first)
    file_log.open()
    logger = Logger(
        file_log=file_log, stdout=io.StringIO(), stderr=io.StringIO(), clock=lambda: now[0]
    )
    state = GatewayState(
        version="0.1.0",
        logger=logger,
        presence=PresenceTable({}, 0),
        config_path=tmp_path / "openclaw.json",
        state_dir=tmp_path,
        auth_mode="token",
        log_file=first,
    )
    ctx = CallContext(state, Caller("c1", "operator", ("operator.read",), "cli", "cli", "::1"))
    logger.info("gateway", "old day")
    now[0] = dt.datetime(2026, 3, 5, 0, 1, tzinfo=dt.UTC)
    logger.info("gateway", "new day")
    answer = logs_tail(ctx, {})
    logger.close()
    assert answer["file"] == str(tmp_path / "openclaw-2026-03-05.log")
    assert len(answer["lines"]) == 1 and "new day" in answer["lines"][0]
