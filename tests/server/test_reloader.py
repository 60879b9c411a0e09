"""The config watcher service and the reload modes, on real files (autojump clock)."""

from __future__ import annotations

import io
import json
import os
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
    reloader: Reloader
    out: io.StringIO
    restarts: list[int]

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.out.getvalue().splitlines() if needle in line]


def rig(path: Path, data: dict[str, Any], clock: trio.testing.MockClock) -> Rig:
    # The watcher's stat() and reads run in worker threads: give them real time to answer
    # before the clock jumps past the next poll.
    clock.autojump_threshold = 0.05
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
    return Rig(reloader, out, restarts)


async def test_a_burst_of_writes_is_read_once_after_it_settles(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "openclaw.json"
    r = rig(path, body(), autojump_clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_config_watcher, r.reloader, path)
        for n in range(8):  # an editor's churn, faster than the debounce
            write(path, body(trustedProxies=[f"10.0.0.{n}"]))
            await trio.sleep(0.1)
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert len(r.lines("config change detected")) == 1
    assert list(r.reloader.trusted_proxies) == ["10.0.0.7"]
    assert r.lines("config hot reload applied (gateway.trustedProxies)")
    assert r.restarts == []


async def test_hot_mode_logs_a_restart_change_and_applies_the_rest(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "openclaw.json"
    r = rig(path, body("hot"), autojump_clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_config_watcher, r.reloader, path)
        write(path, body("hot", port=19000, token="tok-b"))
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert r.restarts == []
    assert r.lines("config change requires gateway restart; not applied in hot mode (gateway.port)")
    assert r.reloader.live.policy.token == "tok-b"


async def test_restart_mode_restarts_for_a_hot_change(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "openclaw.json"
    r = rig(path, body("restart"), autojump_clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_config_watcher, r.reloader, path)
        write(path, body("restart", token="tok-b"))
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert r.restarts == [1]
    assert r.reloader.live.policy.token == "tok-a"  # the restart applies it


async def test_off_mode_watches_nothing(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "openclaw.json"
    r = rig(path, body("off"), autojump_clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_config_watcher, r.reloader, path)
        write(path, body("off", port=19000, token="tok-b"))
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert r.reloader.status == "off"
    assert r.out.getvalue() == "" and r.restarts == []
    assert r.reloader.live.policy.token == "tok-a"


async def test_a_deleted_config_keeps_the_last_good_one(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "openclaw.json"
    r = rig(path, body(), autojump_clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_config_watcher, r.reloader, path)
        path.unlink()
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    assert r.lines(f"config reload skipped: {path} is missing")
    assert r.restarts == [] and r.reloader.live.policy.token == "tok-a"
