"""cron.enabled / cron.skipMissedJobs hot-apply: the scheduler restarts (autojump clock)."""

from __future__ import annotations

import attrs
import trio
import trio.testing

from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.ratelimit import AuthLimiters
from openclaw_gateway.server.cron.service import run_cron_service
from openclaw_gateway.server.hub import Hub
from openclaw_gateway.server.reloader import LiveSettings, Reloader, ReloadHooks
from openclaw_gateway.server.restart import Lifecycle
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store


async def test_cron_settings_restart_the_scheduler(
    autojump_clock: trio.testing.MockClock, env: tuple[GatewayState, Store]
) -> None:
    state, store = env
    live = LiveSettings(policy=AuthPolicy(mode="token", token="t"), cron_enabled=False)
    reloader = Reloader(
        live,
        ReloadHooks({}, lambda loaded: live),
        state.logger,
        Hub(),
        AuthLimiters.create(),
        Lifecycle(),
        lambda: None,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(run_cron_service, state, store, reloader)
        assert state.cron is None  # cron.enabled: false
        reloader._apply(attrs.evolve(live, cron_enabled=True))
        await trio.sleep(1)
        first = state.cron
        assert first is not None
        reloader._apply(attrs.evolve(live, cron_enabled=True, cron_skip_missed=True))
        await trio.sleep(1)
        second = state.cron
        assert second is not None and second is not first  # a fresh scheduler
        reloader._apply(attrs.evolve(live, cron_enabled=True, cron_skip_missed=True))
        await trio.sleep(1)
        assert state.cron is second  # nothing changed: the same scheduler keeps running
        nursery.cancel_scope.cancel()
    assert state.cron is None
