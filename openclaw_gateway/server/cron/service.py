"""The cron service: the scheduler under the live cron settings.

cron.enabled / cron.skipMissedJobs (and OPENCLAW_SKIP_CRON=1, which keeps it off) are read
from the reloader's live settings; a hot reload that changes them sets `cron_changed`, and
the scheduler is stopped (running commands are terminated and their runs recorded, as at
shutdown) and started again with the new ones (official restartCron).
"""

from __future__ import annotations

import os
from functools import partial

import trio

from openclaw_gateway.server.reloader import Reloader
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import Store


async def run_cron_service(
    state: GatewayState,
    store: Store,
    reloader: Reloader,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    started = False
    while True:
        live = reloader.live
        changed = reloader.cron_changed = trio.Event()
        async with trio.open_nursery() as cron:
            if live.cron_enabled and os.environ.get("OPENCLAW_SKIP_CRON") != "1":
                # The scheduler's modules load only when cron runs (issue 17).
                from openclaw_gateway.server.cron.scheduler import run_scheduler

                scheduler = partial(
                    run_scheduler,
                    state,
                    store,
                    now=state.now_ms,
                    skip_missed=live.cron_skip_missed,
                    gateway_secrets=(live.policy.token, live.policy.password),
                )
                await cron.start(scheduler)
            if not started:
                started = True
                task_status.started()
            await changed.wait()
            cron.cancel_scope.cancel()
        state.logger.info("cron", "cron restarted for the new cron settings")
