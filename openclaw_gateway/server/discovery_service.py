"""The discovery service: the Bonjour announcer and wide-area zone under the live plan.

A hot reload that changes the plan (discovery.mdns.mode full/minimal/off, or what gates the
announcer) sets `discovery_changed`: the current advertisements say goodbye and the new plan
is announced (official: "Discovery mode changes replace the current advertisements without
interrupting Gateway connections"). The supervisor withdraws `LiveDiscovery` at shutdown.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import attrs
import trio

from openclaw_gateway.core.logs import Logger
from openclaw_gateway.discovery.runtime import run_discovery
from openclaw_gateway.server.reloader import Reloader
from openclaw_gateway.server.tls import TlsAcceptor

if TYPE_CHECKING:
    from openclaw_gateway.discovery.announcer import Announcer


@attrs.define
class LiveDiscovery:
    announcer: Announcer | None = None

    async def withdraw(self) -> None:
        if self.announcer is not None:
            await self.announcer.withdraw()


async def run_discovery_service(
    reloader: Reloader,
    log: Logger,
    tailscale_url: str | None,
    *,
    tls: TlsAcceptor | None = None,
    task_status: trio.TaskStatus[LiveDiscovery] = trio.TASK_STATUS_IGNORED,
) -> None:
    live = LiveDiscovery()
    started = False
    while True:
        plan = reloader.live.discovery
        changed = reloader.discovery_changed = trio.Event()
        async with trio.open_nursery() as inner:
            if plan is not None:
                renewals = None
                if tls is not None:  # the fingerprint served now (a renewal may have come
                    # before this config change), then each renewal's
                    ctx = attrs.evolve(plan.ctx, tls_fingerprint_sha256=tls.fingerprint)
                    plan, renewals = attrs.evolve(plan, ctx=ctx), tls.renewed
                # Never fails the start: a broken announcer is a warning (discovery off).
                announce = partial(
                    run_discovery,
                    plan,
                    log,
                    tailscale_url=tailscale_url,
                    tls_renewals=renewals,
                )
                live.announcer = await inner.start(announce)
            if not started:
                started = True
                task_status.started(live)
            await changed.wait()
            await live.withdraw()
            live.announcer = None
            inner.cancel_scope.cancel()
        log.info("discovery", "discovery advertisements replaced for the new config")
