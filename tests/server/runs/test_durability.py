"""What an acknowledged chat.send leaves survives `kill -9` of a real gateway process: the
transcript, the finished run's idempotency record, and the cut-short run closed as error."""

from __future__ import annotations

import json
import signal
import sys
from functools import partial
from pathlib import Path

import trio

from tests.helpers import ws_client
from tests.server.integration.support import free_port, wait_http_ok
from tests.server.integration.test_cli_subprocess import (
    CLI_TOKEN,
    START_BOUND,
    STOP_BOUND,
    Home,
    launch,
)
from tests.server.runs.support import chat_until_terminal, send_params

ADMIN = {"scopes": ["operator.admin"], "auth": {"token": CLI_TOKEN}}


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home", tmp_path / "gw.log")
    home.state_dir.mkdir(parents=True)
    config = {"gateway": {"mode": "local"}, "logging": {"file": str(home.log_file)}}
    (home.state_dir / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    return home


AGENT_SCRIPT = """
import sys, pathlib, trio
from openclaw_gateway.client.agent import AgentNode
from openclaw_gateway.client.identity import IdentityStore

node = AgentNode(sys.argv[1], token=sys.argv[2], device_store=IdentityStore(pathlib.Path(sys.argv[3])),
                 display_name="durable-agent", reconnect=False)

@node.turn
async def reply(turn):
    yield "you said: " + turn.message + " "
    if turn.message == "hang":
        await trio.sleep_forever()

trio.run(node.serve)
"""


async def test_kill_9_after_acknowledged_sends(nursery: trio.Nursery, tmp_path: Path) -> None:
    home, port = _home(tmp_path), free_port()
    script = tmp_path / "agent.py"
    script.write_text(AGENT_SCRIPT, encoding="utf-8")
    argv = [sys.executable, str(script), f"ws://127.0.0.1:{port}", CLI_TOKEN, str(tmp_path / "id")]
    async with launch(home, port, "first") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with ws_client(nursery, port) as op:
                assert (await op.connect(**ADMIN))["ok"]
                async with trio.open_nursery() as agents:
                    agent: trio.Process = await agents.start(
                        partial(trio.run_process, argv, check=False)
                    )
                    ev = await op.next_event("node.pair.requested")
                    approve = {"requestId": ev["payload"]["requestId"]}
                    assert (await op.call("node.pair.approve", approve))["ok"]
                    assert (await op.call("chat.send", send_params("first", "k-first")))["ok"]
                    await chat_until_terminal(op, "k-first")
                    ack = await op.call("chat.send", send_params("hang", "k-hang"))
                    assert ack["payload"]["status"] == "started"
                    delta = (await op.next_event("chat"))["payload"]
                    assert (delta["runId"], delta["state"]) == ("k-hang", "delta")
                    gw.process.send_signal(signal.SIGKILL)
                    assert await gw.process.wait() == -signal.SIGKILL
                    agent.kill()
    async with launch(home, port, "second") as gw:
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, port)
        with trio.fail_after(STOP_BOUND):
            async with ws_client(nursery, port) as op:
                assert (await op.connect(**ADMIN))["ok"]
                got = (await op.call("chat.history", {"sessionKey": "main"}))["payload"]
                texts = [(m["role"], m["content"][0]["text"]) for m in got["messages"]]
                assert texts == [
                    ("user", "first"),
                    ("assistant", "you said: first "),
                    ("user", "hang"),
                ]
                first = await op.call("chat.send", send_params("first", "k-first"))
                assert first["payload"] == {"runId": "k-first", "status": "ok"}
                hang = await op.call("chat.send", send_params("hang", "k-hang"))
                assert hang["payload"] == {"runId": "k-hang", "status": "error"}
                waited = await op.call("agent.wait", {"runId": "k-hang", "timeoutMs": 10})
                assert waited["payload"]["status"] == "error"
            gw.process.send_signal(signal.SIGTERM)
            assert await gw.process.wait() == 0, gw.output()
