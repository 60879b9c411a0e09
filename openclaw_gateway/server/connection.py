"""One WebSocket connection: challenge -> connect -> hello-ok -> requests and events.

handshake.py admits the socket (or refuses it); dispatch.py serves it once admitted. This
module owns the socket's life around both: the ws log lines, the pre-auth budget release,
and the close on every exit path. Nothing raised by a peer escapes it (errors are mapped to
close codes).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import trio

from openclaw_gateway.server import admission, dispatch
from openclaw_gateway.server.dispatch import CLOSE_TIMEOUT, admit
from openclaw_gateway.server.handshake import (
    TICK_INTERVAL_MS,
    CloseCause,
    Deps,
    close_cause,
    handshake,
)
from openclaw_gateway.server.wssocket import ServerWebSocket, WebSocketClosed

# Our size cap, a malformed frame, a text that is not UTF-8: closed with the code, an empty
# reason (as the official server's `ws`).
PEER_FAULT_CODES = (1009, 1002, 1007)
# The supervisor builds a connection's Deps here, next to the handler that takes them.
__all__ = ["TICK_INTERVAL_MS", "Deps", "handle_connection"]


async def handle_connection(
    ws: ServerWebSocket,
    peer: admission.Peer,
    deps: Deps,
    abort_stream: Callable[[], Any],
    on_authenticated: Callable[[], None] | None = None,
) -> None:
    """Serve one upgraded socket until it closes. Never raises for peer behaviour.

    `on_authenticated` runs once hello-ok is decided: the socket leaves the pre-auth budget."""
    state = deps.state
    log = state.logger
    conn_id = str(uuid.uuid4())
    opened = time.monotonic()
    close = CloseCause()
    log.ws_open(conn_id, peer.remote_ip, "")
    try:
        granted_pair = await handshake(ws, peer, deps, conn_id, close)
        state.metrics.handshake(close.code, granted_pair is not None)
        if granted_pair is None:
            return
        request, granted = granted_pair
        if on_authenticated is not None:
            on_authenticated()
        # The request loop runs here, in the socket's task, not in a coroutine of its own: an
        # idle socket parks one frame fewer (dispatch._Socket.handle does the work).
        async with trio.open_nursery() as handlers:
            sock = admit(ws, peer, deps, conn_id, request, granted, close, abort_stream, handlers)
            try:
                while not sock.handle(await ws.get_message()):
                    pass
            except WebSocketClosed as exc:
                if exc.code in PEER_FAULT_CODES:
                    close_cause(close, exc.code, "")
            finally:
                sock.leave()
    except WebSocketClosed as exc:
        if exc.code in PEER_FAULT_CODES:
            close_cause(close, exc.code, "")
    finally:
        # A slow consumer gets longer: its queued frames go first, then the 1008 close.
        grace = dispatch.SLOW_CONSUMER_GRACE if close.stalled else CLOSE_TIMEOUT
        if not close.dropped:
            with trio.move_on_after(grace, shield=True) as scope:
                await ws.aclose(close.code or 1000, close.reason)
            if scope.cancelled_caught:
                await abort_stream()
        log.ws_close(conn_id, close.code, (time.monotonic() - opened) * 1000, "closed")
