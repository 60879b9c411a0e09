"""Floods of idle sockets (issue 13 §4 first bullet and §7): a real `gateway run` child with
a lowered descriptor limit, thousands of idle TCP sockets from 127.0.0.1 that never send an HTTP
head, and a real client from another loopback address whose `health` must stay fast.

- under the usual 1024 limit the gateway caps itself below it (default gateway.maxConnections),
  sheds the oldest idle unauthenticated sockets, and its descriptor use stays under the limit;
- with a cap set above the descriptor limit, accept hits EMFILE: logged, survived, still serving.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import wrap_client_stream

from tests.helpers import RawClient
from tests.server.integration.support import free_port, wait_http_ok

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")

TOKEN = "flood-token-0123456789abcdef"
START_BOUND = 30
FLOOD_BOUND = 60
HEALTH_BOUND = 1.0  # the check: a real client's health answers within 1 s
CONNECT_BOUND = 10.0  # its connect, past the flood (generous: the machine may be loaded)
CLIENT_ADDRESS = "127.0.0.2"  # "another client": its own pre-auth budget

# The child lowers its own RLIMIT_NOFILE (soft and hard) before the gateway starts.
LIMITED_RUN = (
    "import resource, runpy, sys; n = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
    "sys.argv[0] = 'openclaw_gateway'; runpy.run_module('openclaw_gateway', run_name='__main__')"
)


@asynccontextmanager
async def limited_gateway(
    tmp_path: Path, nofile: int, gateway_config: dict[str, Any]
) -> AsyncIterator[tuple[trio.Process, int, Path]]:
    home = tmp_path / "home"
    state = home / ".openclaw"
    state.mkdir(parents=True)
    config = {"gateway": {"mode": "local", **gateway_config}}
    (state / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=str(home), OPENCLAW_STATE_DIR=str(state), PYTHONUNBUFFERED="1")
    port = free_port()
    argv = [sys.executable, "-c", LIMITED_RUN, str(nofile), "gateway", "run"]
    argv += ["--port", str(port), "--bind", "loopback", "--allow-unconfigured", "--token", TOKEN]
    output = tmp_path / "gw.out"
    with output.open("wb") as out:
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                partial(
                    trio.run_process, argv, env=env, stdin=b"", stdout=out, stderr=out, check=False
                )
            )
            try:
                yield process, port, output
            finally:
                if process.returncode is None:
                    process.kill()
                    with trio.move_on_after(5, shield=True):
                        await process.wait()


async def _idle_flood(port: int, count: int) -> list[trio.SocketStream]:
    """`count` TCP sockets from 127.0.0.1 that never send a byte (the gateway may shed them)."""
    held = []
    for _ in range(count):
        held.append(await trio.open_tcp_stream("127.0.0.1", port))
    return held


async def _health_from_another_address(
    nursery: trio.Nursery, port: int
) -> tuple[dict[str, Any], float]:
    """The health answer and its round trip (s), on a connection made past the flood."""
    sock = trio.socket.socket()
    await sock.bind((CLIENT_ADDRESS, 0))
    await sock.connect(("127.0.0.1", port))
    async with trio.SocketStream(sock) as stream:
        ws = await wrap_client_stream(nursery, stream, "127.0.0.1", "/")
        try:
            client = RawClient(ws)
            frame = await client.connect(auth={"token": TOKEN})
            assert frame["ok"], frame
            started = trio.current_time()
            res = await client.call("health")
            return res, trio.current_time() - started
        finally:
            with trio.move_on_after(2, shield=True):
                await ws.aclose()


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _close_all(streams: list[trio.SocketStream]) -> None:
    for stream in streams:
        await trio.aclose_forcefully(stream)


async def test_2000_idle_sockets_leave_health_fast_and_descriptors_under_the_limit(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    async with limited_gateway(tmp_path, 1024, {}) as (process, port, output):
        with trio.fail_after(START_BOUND):
            await wait_http_ok(_Proc(process, output), port)
        with trio.fail_after(FLOOD_BOUND):
            held = await _idle_flood(port, 2000)
        try:
            await trio.sleep(0.2)  # let the gateway accept the backlog
            assert _descriptors(process.pid) < 1024
            with trio.fail_after(CONNECT_BOUND):  # the connect itself sheds an idle socket
                res, took = await _health_from_another_address(nursery, port)
            assert res["ok"] is True, res
            assert took < HEALTH_BOUND
            assert _descriptors(process.pid) < 1024
            assert process.returncode is None
        finally:
            await _close_all(held)
    assert "EMFILE" not in output.read_text(errors="replace")  # the cap kept it below the limit


async def test_emfile_at_accept_is_survived(nursery: trio.Nursery, tmp_path: Path) -> None:
    """A cap above the descriptor limit (set on purpose) makes accept fail with EMFILE."""
    async with limited_gateway(tmp_path, 256, {"maxConnections": 5000}) as (process, port, out):
        with trio.fail_after(START_BOUND):
            await wait_http_ok(_Proc(process, out), port)
        with trio.fail_after(FLOOD_BOUND):
            held = await _idle_flood(port, 400)
        try:
            with trio.fail_after(START_BOUND):
                while "EMFILE" not in out.read_text(errors="replace"):  # noqa: ASYNC110 (another process writes it)
                    await trio.sleep(0.05)
            with trio.fail_after(CONNECT_BOUND):
                res, took = await _health_from_another_address(nursery, port)
            assert res["ok"] is True, res
            assert took < HEALTH_BOUND
            assert process.returncode is None
        finally:
            await _close_all(held)
    text = out.read_text(errors="replace")
    assert text.count("accept failed: EMFILE") == 1  # rate-limited, not one line per retry


class _Proc:
    """What wait_http_ok needs from a GatewayProcess."""

    def __init__(self, process: trio.Process, output: Path) -> None:
        self.process = process
        self._output = output

    def output(self) -> str:
        return self._output.read_text(errors="replace")
