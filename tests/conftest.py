from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from openclaw_gateway.core.tls import TlsFiles
from tests.helpers import RunningGateway, start_gateway
from tests.tlskit import make_pair
from tests.virtualtime import run_sync_holding_time

# Never mDNS from the host namespace (it would multicast off this machine): in-process CLI
# code reads os.environ. tests/discovery turns it back on inside its own network namespaces.
os.environ["OPENCLAW_DISABLE_BONJOUR"] = "1"


@pytest.fixture(autouse=True)
def _hold_virtual_time_during_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under an autojump clock, virtual time stands still while a worker thread runs
    (tests/virtualtime.py says why)."""
    monkeypatch.setattr(trio.to_thread, "run_sync", run_sync_holding_time)


@pytest.fixture(name="gateway")
async def _gateway(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """An in-process gateway (token auth, 127.0.0.1:0) torn down with the test."""
    gw = await start_gateway(nursery, tmp_path)
    yield gw
    gw.settings.logger.close()


@pytest.fixture(name="tls_pairs", scope="session")
def _tls_pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[TlsFiles, TlsFiles]:
    """Two generated certificate pairs (RSA keygen is slow-ish: once per session)."""
    base = tmp_path_factory.mktemp("tls-pairs")
    return make_pair(base / "a"), make_pair(base / "b")
