from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.helpers import RunningGateway, start_gateway
from tests.server.integration.support import StartGateway


@pytest.fixture(name="start")
async def _start(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[StartGateway]:
    """Start in-process gateways with RunSettings overrides; each gets its own directory."""
    started: list[RunningGateway] = []

    async def start(**overrides: Any) -> RunningGateway:
        base = tmp_path / f"gw{len(started)}"
        base.mkdir()
        gw = await start_gateway(nursery, base, **overrides)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.settings.logger.close()
