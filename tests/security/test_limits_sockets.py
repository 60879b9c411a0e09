"""Socket-level limits over a real 127.0.0.1 socket (protocol.md §1.1, §1.4, §1.6 item 5, §7.4;
security.md item 19, reliability items 10-12).

- pre-auth budget: the 33rd concurrent unauthenticated socket from one IP gets HTTP 503;
- frame cap: 20 MB after auth is fine, more than 25 MiB closes 1009 without buffering it whole;
- control-plane writes: 30 per 60 s per (method, device, IP), then retryable UNAVAILABLE.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed

from openclaw_gateway.security import scopes as S
from openclaw_gateway.security.ratelimit import PREAUTH_ENV
from openclaw_gateway.server import dispatch
from openclaw_gateway.server.handshake import MAX_PAYLOAD
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.registry import EXEMPT, Registry
from tests.helpers import TOKEN, RawClient, RunningGateway
from tests.rawws import RawWs, client_frame
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import (
    ADMIN_SCOPES,
    StartGateway,
    http_request,
    read_until_closed,
    ws_client,
    ws_connected,
    ws_rejection,
)

TIMEOUT = 20
CLI = {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"}
MIB = 1024 * 1024


# --- pre-auth socket budget -------------------------------------------------------------------


@asynccontextmanager
async def _unauthenticated(
    nursery: trio.Nursery, gw: RunningGateway, n: int, **headers: str
) -> AsyncIterator[list[RawClient]]:
    """`n` sockets that got their challenge and sent nothing else."""
    async with trio.open_nursery() as holders:
        clients: list[RawClient] = []
        release = trio.Event()
        ready = trio.Semaphore(0)

        async def hold() -> None:
            async with ws_client(nursery, gw.port, **headers) as client:
                await client.read_challenge()
                clients.append(client)
                ready.release()
                await release.wait()

        for _ in range(n):
            holders.start_soon(hold)
        for _ in range(n):
            await ready.acquire()
        try:
            yield clients
        finally:
            release.set()


async def test_the_33rd_unauthenticated_socket_gets_503(
    nursery: trio.Nursery, start: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PREAUTH_ENV, raising=False)
    gw = await start()
    with trio.fail_after(TIMEOUT):
        async with _unauthenticated(nursery, gw, 32):
            rejected = await ws_rejection(gw.port)
            assert rejected is not None
            assert rejected.status_code == 503
            assert rejected.body == b"Too many unauthenticated sockets"
            headers = {k.decode().lower(): v.decode() for k, v in rejected.headers}
            assert headers["content-type"] == "text/plain; charset=utf-8"
            # Plain HTTP probes are not sockets waiting for auth: still answered.
            assert (await http_request(gw.port, "GET", "/healthz")).status == 200
        # All 32 closed: the budget is free again.
        async with ws_connected(nursery, gw.port) as client:
            assert client.hello is not None


async def test_budget_is_per_ip_and_released_on_auth_or_close(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(max_preauth_per_ip=2, trusted_proxies=("127.0.0.1",))
    with trio.fail_after(TIMEOUT):
        async with _unauthenticated(nursery, gw, 2) as held:
            assert (await ws_rejection(gw.port)).status_code == 503  # type: ignore[union-attr]
            # Another client IP (through the trusted proxy) has its own budget.
            async with ws_client(nursery, gw.port, X_Forwarded_For="198.51.100.7") as other:
                frame = await other.connect(client=CLI)
                assert frame["ok"], frame
            # Authenticating one of the held sockets frees its slot.
            frame = await held[0].connect(client=CLI)
            assert frame["ok"], frame
            async with ws_client(nursery, gw.port) as third:
                await third.read_challenge()
                assert (await ws_rejection(gw.port)).status_code == 503  # type: ignore[union-attr]
            # `third` closed: its slot came back.
            async with ws_client(nursery, gw.port) as fourth:
                await fourth.read_challenge()


async def test_env_var_sets_the_budget(
    nursery: trio.Nursery, start: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PREAUTH_ENV, "1")
    gw = await start()
    with trio.fail_after(TIMEOUT):
        async with _unauthenticated(nursery, gw, 1):
            rejected = await ws_rejection(gw.port)
            assert rejected is not None and rejected.status_code == 503


# --- frame size after auth --------------------------------------------------------------------


async def test_a_20_mb_frame_after_auth_is_accepted(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as client:
            pad = "a" * (20 * 1000 * 1000)
            await client.send(
                {"type": "req", "id": "big", "method": "health", "params": {"pad": pad}}
            )
            del pad
            while True:
                frame = await client.recv()
                if frame.get("id") == "big":
                    break
            # Answered (ok or a params error), and the socket is still usable.
            reply = await client.call("health")
            assert reply["ok"], reply


async def test_an_oversized_frame_is_closed_1009_without_buffering_it(
    start: StartGateway,
) -> None:
    """The frame announces 1 GiB; the server must close with 1009 once the 25 MiB cap is
    passed, holding about the cap (not the frame) in memory."""
    gw = await start()
    announced = 1024 * MIB
    chunk = b"a" * (64 * 1024)
    sent = 0
    close_code: list[int] = []
    with trio.fail_after(TIMEOUT):
        async with await trio.open_tcp_stream("127.0.0.1", gw.port) as stream:
            ws = RawWs(stream)
            await ws.upgrade(gw.port)
            await ws.frame()  # connect.challenge
            await ws.send_text(
                {
                    "type": "req",
                    "id": "1",
                    "method": "connect",
                    "params": {
                        "minProtocol": 4,
                        "maxProtocol": 4,
                        "client": CLI,
                        "role": "operator",
                        "scopes": ADMIN_SCOPES,
                        "auth": {"token": TOKEN},
                    },
                }
            )
            _op, hello = await ws.frame()
            assert json.loads(hello)["ok"] is True
            tracemalloc.start()
            try:

                async def read_close() -> None:
                    while True:
                        try:
                            opcode, payload = await ws.frame()
                        except (EOFError, trio.BrokenResourceError):
                            return
                        if opcode == 8:
                            close_code.append(struct.unpack("!H", payload[:2])[0])
                            return

                async with trio.open_nursery() as inner:
                    inner.start_soon(read_close)
                    try:
                        await stream.send_all(
                            client_frame(0x81, b'{"type":"req","pad":"', length=announced)
                        )
                        while sent < 40 * MIB and not close_code:
                            await stream.send_all(chunk)
                            sent += len(chunk)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        pass
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert close_code == [1009]
    assert sent < MAX_PAYLOAD + 8 * MIB  # the server stopped reading right after the cap
    # Client and server share this process: about the cap, not a second copy of the frame.
    assert peak < MAX_PAYLOAD + 8 * MIB, peak / MIB


# --- control-plane write budget ---------------------------------------------------------------


def _registry_with_a_write_method() -> Registry:
    registry = Registry()

    @registry.method("health", scope=EXEMPT)
    def health(ctx: CallContext, params: Any) -> dict[str, Any]:
        return {"ok": True}

    # `cron.add` is flagged controlPlaneWrite(30/60s) in the official method table.
    @registry.method("cron.add", scope=S.ADMIN, control_plane_write=True)
    def cron_add(ctx: CallContext, params: Any) -> dict[str, Any]:
        calls.append(ctx.caller.conn_id)
        return {"ok": True}

    @registry.method("cron.list", scope=S.READ)
    def cron_list(ctx: CallContext, params: Any) -> dict[str, Any]:
        return {"jobs": []}

    return registry


calls: list[str] = []


async def test_control_plane_writes_are_limited_to_30_per_minute(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    calls.clear()
    gw = await start(registry_factory=_registry_with_a_write_method)
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, client=CLI, scopes=ADMIN_SCOPES) as client:
            for _ in range(30):
                assert (await client.call("cron.add"))["ok"]
            denied = await client.call("cron.add")
            error = denied["error"]
            assert list(error) == ["code", "message", "retryable", "retryAfterMs", "details"]
            assert error["code"] == "UNAVAILABLE"
            assert error["retryable"] is True
            assert 0 < error["retryAfterMs"] <= 60_000
            seconds = -(-error["retryAfterMs"] // 1000)
            assert error["message"] == f"rate limit exceeded for cron.add; retry after {seconds}s"
            assert error["details"] == {"method": "cron.add", "limit": "30 per 60s"}
            assert len(calls) == 30  # the 31st never reached the handler
            # Unflagged methods are not limited; the same IP on another socket shares the key.
            for _ in range(40):
                assert (await client.call("cron.list"))["ok"]
        async with ws_connected(nursery, gw.port, client=CLI, scopes=ADMIN_SCOPES) as again:
            assert (await again.call("cron.add"))["error"]["code"] == "UNAVAILABLE"
    assert "control-plane write rate-limited method=cron.add" in gw.stdout.getvalue() + (
        gw.stderr.getvalue()
    )


def test_only_officially_flagged_methods_are_control_plane_writes() -> None:
    from openclaw_gateway import cli
    from openclaw_gateway.server.rpc import methods

    tsv = Path(cli.__file__).parent / "method-scopes.tsv"
    flagged = set()
    for line in tsv.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        if "controlPlaneWrite" in cols[3]:
            flagged.add(cols[0])
    registry = methods.load()
    for name in registry.names():
        spec = registry.get(name)
        assert spec is not None
        assert spec.control_plane_write is (name in flagged), name


# --- slow consumers ---------------------------------------------------------------------------


def _stop_growing_receive_buffer(client: RawClient) -> None:
    """Pin the client's kernel receive buffer so back-pressure does not depend on how far
    this host's TCP autotuning would grow it (tcp_rmem max is 32 MiB on some hosts)."""
    sock = client.ws._stream.socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)


async def _fill_presence(admin: RawClient, size: int) -> None:
    """One presence row with a `size`-byte text: every presence broadcast carries it."""
    reply = await admin.call("system-event", {"text": "x" * size, "deviceId": "big-row"})
    assert reply["ok"], reply


async def test_slow_consumer_misses_drop_if_slow_events_with_a_visible_gap(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(max_buffered_bytes=MIB)
    events = 60
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as slow:
            _stop_growing_receive_buffer(slow)
            async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as driver:
                # `slow` does not read while 60 presence events of ~256 KiB are broadcast
                # (15 MiB: more than the kernel buffers plus the 1 MiB allowance) ...
                for _ in range(events):
                    await _fill_presence(driver, 256 * 1024)
                # ... then one small one, which always fits in what the allowance has left
                # (at most three 256 KiB frames are queued), so it marks the end.
                await _fill_presence(driver, 16)
            seqs = []
            while not seqs or seqs[-1] < events + 1:
                frame = await slow.recv()
                if frame.get("event") == "presence":
                    seqs.append(frame["seq"])
            assert (await slow.call("health"))["ok"]  # still connected: nothing was fatal
    assert seqs == sorted(set(seqs))
    assert seqs[-1] == events + 1
    assert len(seqs) < events + 1, "nothing was dropped: the test made no back-pressure"
    # The gap is visible: the seq numbers of the dropped events are missing, not reused.
    assert any(b - a > 1 for a, b in itertools.pairwise(seqs))


async def test_slow_consumer_of_direct_responses_is_closed_1008(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    """Responses are never dropped: a client that keeps asking but stops reading is closed."""
    gw = await start(max_buffered_bytes=MIB)
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as driver:
            await _fill_presence(driver, 256 * 1024)
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as slow:
            _stop_growing_receive_buffer(slow)
            frame = json.dumps({"type": "req", "id": "p", "method": "system-presence"})
            try:
                for _ in range(200):  # ~50 MiB of answers requested, none read
                    await slow.ws.send_message(frame)
            except ConnectionClosed:
                pass
            closed = await read_until_closed(slow)
    assert closed.code == 1008
    assert closed.reason == "slow consumer"
    # What was queued before the verdict still arrived, whole and in order, then the close.
    assert closed.frames
    assert len(closed.frames) < 200
    assert all(f["type"] == "res" and f["id"] == "p" and f["ok"] for f in closed.frames)


async def test_a_slow_consumer_that_never_reads_is_dropped_after_the_grace(
    nursery: trio.Nursery, start: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "SLOW_CONSUMER_GRACE", 0.2)
    gw = await start(max_buffered_bytes=MIB)
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as driver:
            await _fill_presence(driver, 256 * 1024)
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as slow:
            _stop_growing_receive_buffer(slow)
            frame = json.dumps({"type": "req", "id": "p", "method": "system-presence"})
            try:
                for _ in range(200):
                    await slow.ws.send_message(frame)
            except ConnectionClosed:
                pass
            await trio.sleep(1)  # real time: longer than the (patched) grace
            closed = await read_until_closed(slow)
    # The stream was dropped without a close frame: the close could never get out.
    assert closed.code == 1006
