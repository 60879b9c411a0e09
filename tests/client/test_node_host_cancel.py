"""Cancelling a task that is inside `NodeHost.running()` (right after its gateway went away,
or while it is connected) leaves trio's task tree intact.

The bug this guards: GatewayClient opened its nursery by hand and awaited `session.aclose()`
before exiting it; under a pending cancellation `Session.aclose` raises Cancelled at
`trio.aclose_forcefully(stream)`, the nursery was never exited, and trio reported "Cancel
scope stack corrupted". GatewayClient now leaves through an AsyncExitStack, so whatever the
close raises still unwinds the nursery.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from openclaw_gateway.client import NodeHost
from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.core.logs import Logger
from tests.helpers import TOKEN, start_gateway


@pytest.mark.parametrize("gateway_dies", [True, False], ids=["gateway-died", "gateway-alive"])
async def test_cancel_inside_node_host_running(tmp_path: Path, gateway_dies: bool) -> None:
    loggers: list[Logger] = []  # closed whatever the corruption left behind
    try:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                gateway = await start_gateway(nursery, tmp_path / "gw")
                loggers.append(gateway.settings.logger)
                node = NodeHost(
                    gateway.url,
                    token=TOKEN,
                    device_store=IdentityStore(tmp_path / "node"),
                    display_name="doomed",
                    reconnect=False,
                )
                inside = trio.Event()

                async def host(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
                    with trio.CancelScope() as scope:
                        task_status.started(scope)
                        async with node.running():
                            inside.set()
                            await trio.sleep_forever()

                scope = await nursery.start(host)
                await inside.wait()
                if gateway_dies:
                    gateway.shutdown.set()  # the gateway stops and closes the node's socket
                    assert node.client is not None and node.client.session is not None
                    await node.client.session.closed.wait()
                scope.cancel()  # e.g. the node's owner shuts it down
                await trio.sleep(0.1)
                gateway.shutdown.set()
    finally:
        for logger in loggers:
            logger.close()
