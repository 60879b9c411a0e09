from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_gateway.server.assembly import build_state
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store
from tests.helpers import make_settings
from tests.server.cron.support import wall


@pytest.fixture(name="env")
def _env(tmp_path: Path) -> Iterator[tuple[GatewayState, Store]]:
    """Gateway state on the virtual wall clock, with a real store."""
    settings, _, _ = make_settings(tmp_path)
    state = build_state(settings)
    state.clock = lambda: wall() / 1000
    store = Store.open(tmp_path / "state")
    state.store = store
    yield state, store
    store.close()
    settings.logger.close()
