from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.helpers import RunningGateway, start_gateway


@pytest.fixture(name="gw")
async def _gw(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """Token auth; 127.0.0.1 is a trusted proxy so a test can present a *remote* peer by
    sending X-Forwarded-For (a plain loopback socket is direct-local and pairs silently)."""
    gw = await start_gateway(nursery, tmp_path, trusted_proxies=("127.0.0.1",))
    yield gw
    gw.settings.logger.close()
