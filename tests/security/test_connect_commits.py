"""One trip through pairing per signed connect: how many fsync'd commits each connect costs.

A real gateway on 127.0.0.1 with its real SQLite file; the commits are counted in the WAL
file (tests/state/walcount.py), so nothing inside the gateway is patched. The gateway's clock
is ours so "a minute later" needs no waiting.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from openclaw_gateway.state.device_records import SEEN_GRANULARITY_MS
from openclaw_gateway.state.store import db_path
from tests.devicekit import SigningDevice
from tests.helpers import RunningGateway, start_gateway, ws_client
from tests.security.support import (
    APP_CLIENT,
    CLI_CLIENT,
    refused,
    remote_client,
    send_connect,
    snapshot,
)
from tests.state.walcount import wal_commits

BOUND = 10


@attrs.define
class Clock:
    offset_s: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@attrs.frozen
class Gateway:
    gw: RunningGateway
    clock: Clock

    @property
    def db(self) -> Path:
        return db_path(self.gw.settings.state_dir)

    def commits(self) -> int:
        return wal_commits(self.db)


@pytest.fixture(name="g")
async def _g(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[Gateway]:
    clock = Clock()
    gw = await start_gateway(nursery, tmp_path, trusted_proxies=("127.0.0.1",), clock=clock)
    yield Gateway(gw, clock)
    gw.settings.logger.close()


async def _connect(
    nursery: trio.Nursery, g: Gateway, dev: SigningDevice, *, remote: bool = False, **kw: Any
) -> dict[str, Any]:
    opener = remote_client(nursery, g.gw.port) if remote else ws_client(nursery, g.gw.port)
    async with opener as client:
        return await send_connect(client, dev, client=kw.pop("client", CLI_CLIENT), **kw)


async def test_first_local_connect_pairs_silently_in_one_commit(
    g: Gateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"first-connect")
    before = g.commits()
    with trio.fail_after(BOUND):
        frame = await _connect(nursery, g, dev)
    assert frame["ok"], frame
    # Request, silent approval, the device token: one transaction.
    assert g.commits() - before == 1
    state = snapshot(g.gw)
    [paired] = state["paired"]
    assert (paired["deviceId"], paired["approvedVia"]) == (dev.id, "silent")
    assert state["pending"] == []
    assert state["tokens"][dev.id]["operator"]["token"] == frame["payload"]["auth"]["deviceToken"]


async def test_repeat_connects_write_at_most_once_a_minute(
    g: Gateway, nursery: trio.Nursery
) -> None:
    dev = SigningDevice(b"repeat-connect")
    with trio.fail_after(BOUND):
        paired = await _connect(nursery, g, dev)
        token = paired["payload"]["auth"]["deviceToken"]
        by_token = {"auth": {"deviceToken": token}}

        before = g.commits()
        first_use = await _connect(nursery, g, dev, **by_token)
        assert first_use["payload"]["auth"]["method"] == "device-token"
        assert g.commits() - before == 1  # the token's first lastUsedAtMs
        used = snapshot(g.gw)["tokens"][dev.id]["operator"]["lastUsedAtMs"]

        before = g.commits()
        for extra in (by_token, by_token, {}):  # device token twice, then the shared secret
            frame = await _connect(nursery, g, dev, **extra)
            assert frame["ok"], frame
            assert frame["payload"]["auth"]["deviceToken"] == token  # reused, not re-minted
        assert g.commits() - before == 0
        assert snapshot(g.gw)["tokens"][dev.id]["operator"]["lastUsedAtMs"] == used

        g.clock.offset_s += SEEN_GRANULARITY_MS / 1000 + 1
        before = g.commits()
        frame = await _connect(nursery, g, dev, **by_token)
        assert frame["ok"], frame
    assert g.commits() - before == 1
    state = snapshot(g.gw)
    assert state["tokens"][dev.id]["operator"]["lastUsedAtMs"] >= used + SEEN_GRANULARITY_MS
    assert state["paired"][0]["lastSeenAtMs"] >= used + SEEN_GRANULARITY_MS
    assert state["paired"][0]["lastSeenReason"] == "connect"


async def test_a_repeat_connect_needs_no_write_lock(
    g: Gateway, nursery: trio.Nursery, tmp_path: Path
) -> None:
    dev = SigningDevice(b"no-write-lock")
    with trio.fail_after(BOUND):
        token = (await _connect(nursery, g, dev))["payload"]["auth"]["deviceToken"]
        await _connect(nursery, g, dev, auth={"deviceToken": token})  # first use recorded
        # Another writer holds the database: a connect that only reads is not held up by it
        # (one that needed the lock would wait out the 5 s busy timeout, then fail).
        other = sqlite3.connect(g.db, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            frame = await _connect(nursery, g, dev, auth={"deviceToken": token})
            elapsed = time.monotonic() - started
            other.execute("ROLLBACK")
        finally:
            other.close()
    assert frame["ok"], frame
    assert elapsed < 2.0


async def test_refused_connects_commit_nothing(g: Gateway, nursery: trio.Nursery) -> None:
    dev, forger = SigningDevice(b"refused-owner"), SigningDevice(b"refused-forger")
    with trio.fail_after(BOUND):
        await _connect(nursery, g, dev)
        state, before = snapshot(g.gw), g.commits()

        def forge(params: dict[str, Any], challenge: dict[str, Any]) -> None:
            payload = dev.payload(params, challenge["ts"], challenge["nonce"])
            params["device"]["signature"] = forger.sign(payload)

        async with remote_client(nursery, g.gw.port) as client:
            wrong = await send_connect(
                client, dev, client=CLI_CLIENT, auth={"deviceToken": "not-the-token"}
            )
            error, _ = await refused(client, wrong)
        assert error["details"]["code"] == "AUTH_DEVICE_TOKEN_MISMATCH"
        async with ws_client(nursery, g.gw.port) as client:
            error, _ = await refused(
                client, await send_connect(client, dev, mutate=forge, client=CLI_CLIENT)
            )
        assert error["details"]["code"] == "DEVICE_AUTH_SIGNATURE_INVALID"
    assert g.commits() - before == 0
    assert snapshot(g.gw) == state


async def test_a_pairing_refusal_writes_only_its_request(g: Gateway, nursery: trio.Nursery) -> None:
    dev = SigningDevice(b"remote-request")
    with trio.fail_after(BOUND):
        before = g.commits()
        async with remote_client(nursery, g.gw.port) as client:
            error, _ = await refused(client, await send_connect(client, dev, client=APP_CLIENT))
    assert error["code"] == "NOT_PAIRED"
    assert g.commits() - before == 1
    state = snapshot(g.gw)
    assert state["paired"] == []
    assert [p["requestId"] for p in state["pending"]] == [error["details"]["requestId"]]
