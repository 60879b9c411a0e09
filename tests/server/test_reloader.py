"""The config watcher service and the reload modes, on real files (autojump clock)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.logs import Logger
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.ratelimit import AuthLimiters
from openclaw_gateway.server.hub import Hub
from openclaw_gateway.server.reloader import (
    LiveSettings,
    Reloader,
    ReloadHooks,
    run_config_watcher,
)
from openclaw_gateway.server.restart import Lifecycle


def body(
    mode: str = "hybrid", port: int = 18789, token: str = "tok-a", **extra: Any
) -> dict[str, Any]:
    return {
        "gateway": {
            "mode": "local",
            "port": port,
            "auth": {"mode": "token", "token": token},
            "reload": {"mode": mode, "debounceMs": 300},
            **extra,
        },
    }


def write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def derive(loaded: cfg.LoadedConfig) -> LiveSettings:
    gw = loaded.config.gateway
    return LiveSettings(
        policy=AuthPolicy(mode="token", token=gw.auth.token),
        trusted_proxies=gw.trusted_proxies,
        log_level=loaded.config.logging.level or "info",
    )


@attrs.define
class Rig:
    path: Path
    reloader: Reloader
    out: io.StringIO
    restarts: list[int]

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.out.getvalue().splitlines() if needle in line]


@asynccontextmanager
async def watching(
    tmp_path: Path, data: dict[str, Any], clock: trio.testing.MockClock
) -> AsyncIterator[Rig]:
    """`data` written as openclaw.json, a Reloader over it and its watcher running; the
    watcher stops when the block ends."""
    # The watcher's stat() and reads run in worker threads: give them real time to answer
    # before the clock jumps past the next poll.
    clock.autojump_threshold = 0.05
    path = tmp_path / "openclaw.json"
    write(path, data)
    out = io.StringIO()
    restarts: list[int] = []
    reloader = Reloader(
        derive(cfg.load(path)),
        ReloadHooks(data, derive),
        Logger(stdout=out, stderr=out),
        Hub(),
        AuthLimiters.create(),
        Lifecycle(),
        lambda: restarts.append(1),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(run_config_watcher, reloader, path)
        yield Rig(path, reloader, out, restarts)
        nursery.cancel_scope.cancel()


async def test_a_burst_of_writes_is_read_once_after_it_settles(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with watching(tmp_path, body(), autojump_clock) as r:
        for n in range(8):  # an editor's churn, faster than the debounce
            write(r.path, body(trustedProxies=[f"10.0.0.{n}"]))
            await trio.sleep(0.1)
        await trio.sleep(2)
    assert len(r.lines("config change detected")) == 1
    assert list(r.reloader.trusted_proxies) == ["10.0.0.7"]
    assert r.lines("config hot reload applied (gateway.trustedProxies)")
    assert r.restarts == []


async def test_hot_mode_logs_a_restart_change_and_applies_the_rest(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with watching(tmp_path, body("hot"), autojump_clock) as r:
        write(r.path, body("hot", port=19000, token="tok-b"))
        await trio.sleep(2)
    assert r.restarts == []
    assert r.lines("config change requires gateway restart; not applied in hot mode (gateway.port)")
    assert r.reloader.live.policy.token == "tok-b"


async def test_restart_mode_restarts_for_a_hot_change(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with watching(tmp_path, body("restart"), autojump_clock) as r:
        write(r.path, body("restart", token="tok-b"))
        await trio.sleep(2)
    assert r.restarts == [1]
    assert r.reloader.live.policy.token == "tok-a"  # the restart applies it


async def test_off_mode_watches_nothing(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with watching(tmp_path, body("off"), autojump_clock) as r:
        write(r.path, body("off", port=19000, token="tok-b"))
        await trio.sleep(5)
    assert r.reloader.status == "off"
    assert r.out.getvalue() == "" and r.restarts == []
    assert r.reloader.live.policy.token == "tok-a"


async def test_a_deleted_config_keeps_the_last_good_one(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    async with watching(tmp_path, body(), autojump_clock) as r:
        r.path.unlink()
        await trio.sleep(2)
    assert r.lines(f"config reload skipped: {r.path} is missing")
    assert r.restarts == [] and r.reloader.live.policy.token == "tok-a"
