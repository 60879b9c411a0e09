"""The loopback penalty (protocol.md §3.3) in virtual time: a local client is never locked
out, but each wrong secret is answered 250 ms x 2^(n-1) later, capped at 5 s.

The socket is an in-memory stream pair (no real network wait is the point here), so the
whole sequence runs under trio's autojump clock and the delays are exact.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection, wrap_client_stream

from openclaw_gateway.protocol import wsupgrade
from openclaw_gateway.server.admission import Peer
from openclaw_gateway.server.assembly import build_state
from openclaw_gateway.server.connection import handle_connection
from openclaw_gateway.server.edge import PREAUTH_MAX_PAYLOAD
from openclaw_gateway.server.handshake import Deps
from openclaw_gateway.server.http.reader import RequestReader
from openclaw_gateway.server.hub import Hub
from openclaw_gateway.server.rpc import methods
from openclaw_gateway.server.wssocket import ServerWebSocket
from tests.helpers import TOKEN, connect_params, make_settings

LOCAL = Peer(remote_ip="127.0.0.1", is_loopback=True)


async def _connect_once(
    nursery: trio.Nursery, deps: Deps, peer: Peer, auth: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    """One connect over a fresh in-memory socket: the response and how long it took."""
    server_stream, client_stream = trio.testing.memory_stream_pair()

    async def serve() -> None:
        # The edge's path on a stream without a descriptor (as under TLS): the writer task.
        reader = RequestReader(server_stream)
        head = await reader.head()
        assert not isinstance(head, int)
        ws = ServerWebSocket(server_stream, PREAUTH_MAX_PAYLOAD)
        async with trio.open_nursery() as writer:
            switching = wsupgrade.switching_protocols(head.method, head.headers)
            await ws.accept(switching, reader.trailing(), writer)
            await handle_connection(ws, peer, deps, server_stream.aclose)

    nursery.start_soon(serve)
    client: WebSocketConnection = await wrap_client_stream(nursery, client_stream, "localhost", "/")
    await client.get_message()  # connect.challenge
    started = trio.current_time()
    await client.send_message(
        json.dumps(
            {
                "type": "req",
                "id": f"1:{uuid.uuid4()}",
                "method": "connect",
                "params": connect_params(auth=auth),
            }
        )
    )
    frame = json.loads(await client.get_message())
    elapsed = trio.current_time() - started
    await client.aclose()
    return frame, elapsed


@pytest.fixture(name="deps")
def _deps(tmp_path: Path) -> Iterator[Deps]:
    settings, _out, _err = make_settings(tmp_path)
    state = build_state(settings)
    yield Deps(state=state, hub=Hub(), registry=methods.load(), auth_policy=lambda: settings.policy)
    settings.logger.close()


async def test_loopback_failures_are_delayed_never_locked(
    nursery: trio.Nursery, deps: Deps, autojump_clock: trio.testing.MockClock
) -> None:
    delays = []
    for _ in range(12):  # more than maxAttempts: a remote IP would be locked out by now
        frame, elapsed = await _connect_once(nursery, deps, LOCAL, {"token": "wrong"})
        assert frame["error"]["details"]["code"] == "AUTH_TOKEN_MISMATCH"
        delays.append(round(elapsed, 3))
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0] + [5.0] * 7
    frame, elapsed = await _connect_once(nursery, deps, LOCAL, {"token": TOKEN})
    assert frame["ok"], frame
    assert elapsed == 0
    # Success reset the history: the next failure starts at 250 ms again.
    _frame, elapsed = await _connect_once(nursery, deps, LOCAL, {"token": "wrong"})
    assert round(elapsed, 3) == 0.25


async def test_remote_and_browser_failures_are_not_delayed(
    nursery: trio.Nursery, deps: Deps, autojump_clock: trio.testing.MockClock
) -> None:
    remote = Peer(remote_ip="203.0.113.9", is_loopback=False)
    page = Peer(remote_ip="127.0.0.1", is_loopback=True, origin="http://localhost:5173")
    for peer in (remote, page):
        for _ in range(3):
            frame, elapsed = await _connect_once(nursery, deps, peer, {"token": "wrong"})
            assert frame["error"]["details"]["code"] == "AUTH_TOKEN_MISMATCH"
            assert elapsed == 0
