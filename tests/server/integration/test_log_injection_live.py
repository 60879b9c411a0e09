"""Log injection over real sockets (issue 13): client-chosen strings reach the console and
file logs with their control characters escaped, so a newline cannot forge a log line."""

from __future__ import annotations

import json

import trio

from tests.helpers import RunningGateway
from tests.server.integration.support import StartGateway, ws_connected

FORGED = "2026-01-01T00:00:00.000+00:00 [gateway] forged"


async def test_client_version_and_method_names_cannot_forge_lines(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw: RunningGateway = await start(verbose=True)
    client = {"id": "cli", "version": f"1\n{FORGED}", "platform": "linux", "mode": "cli"}
    with trio.fail_after(10):
        async with ws_connected(nursery, gw.port, client=client) as c:
            res = await c.call(f"no.such\n{FORGED}")
            assert res["ok"] is False
            res = await c.call("cron.status", {f"x\r\n{FORGED}": 1})
            assert res["ok"] is False
    console = gw.stdout.getvalue() + gw.stderr.getvalue()
    file_text = gw.settings.log_file.read_text() if gw.settings.log_file else ""
    assert console, "the verbose gateway logged the traffic"
    for line in console.splitlines():
        assert not line.startswith("2026-01-01T00:00:00.000+00:00"), line
    assert f"\\n{FORGED}" in console
    for raw in file_text.splitlines():
        message = json.loads(raw)["message"]
        assert "\n" not in message and "\r" not in message
