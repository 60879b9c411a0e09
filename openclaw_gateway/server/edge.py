"""The listener: one TCP port serving HTTP probes and the WebSocket upgrade.

The official gateway answers plain HTTP (`/healthz`, `/readyz`, 404/405, routes) and the
WebSocket upgrade on the same port. We read the request head with h11 (bounded size and time),
answer plain requests through the router, check an upgrade on that same parsed head
(protocol/wsupgrade.py) and hand the socket to server/wssocket.py, which then owns it: no
replaying stream wrapper, no second parse. With gateway.tls all of this runs inside TLS:
server/tls.py does the (bounded) handshake first, on the same port.
"""

from __future__ import annotations

import contextlib
import errno
import functools
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.protocol import wsupgrade
from openclaw_gateway.security import ingress
from openclaw_gateway.security.ratelimit import PreauthBudget
from openclaw_gateway.server.admission import Peer
from openclaw_gateway.server.http.messages import (
    HttpResponse,
    Response,
    json_response,
    render,
    render_head,
    text,
)
from openclaw_gateway.server.http.reader import REQUEST_HEAD_TIMEOUT, RequestReader
from openclaw_gateway.server.http.router import RequestContext, Router
from openclaw_gateway.server.socket_limits import (
    OVER_BUDGET_HEAD_TIMEOUT,
    ConnectionSlots,
    PreauthClaim,
    Slot,
    accept_loop,
)
from openclaw_gateway.server.tls import TlsAcceptor
from openclaw_gateway.server.wssocket import ServerWebSocket, WebSocketClosed

LISTEN_RETRIES = 20
LISTEN_RETRY_DELAY = 0.5
PREAUTH_MAX_PAYLOAD = 65_536
PREAUTH_BUDGET_MESSAGE = "Too many unauthenticated sockets"


@attrs.frozen
class EdgeHooks:
    """What the listener needs from the rest of the gateway."""

    # (ws, peer, abort_stream, on_authenticated): the last one releases the pre-auth budget.
    on_websocket: Callable[
        [
            ServerWebSocket,
            Peer,
            Callable[[], Awaitable[None]],
            Callable[[], None],
        ],
        Awaitable[None],
    ]
    router: Router  # every plain HTTP request (probes, web page, HTTP entry points)
    bearer_ok: Callable[[str], bool]
    trusted_proxies: Sequence[str] = ()
    allow_real_ip_fallback: bool = False
    # Concurrent unauthenticated sockets per client IP; None = unlimited (unit tests only).
    preauth: PreauthBudget | None = None
    log_error: Callable[[str], None] = lambda _msg: None
    # The listener's provenance: the managed Tailscale ingress attributes by Tailscale's rules.
    transport: ingress.Transport = ingress.ORDINARY
    # gateway.tls: every byte on this listener goes through TLS (server/tls.py); None = plain.
    tls: TlsAcceptor | None = None
    # The global cap on concurrent connections (gateway.maxConnections); None = uncapped.
    slots: ConnectionSlots | None = None


async def send_response(
    stream: trio.abc.SendStream,
    response: Response,
    peer_closed: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Write one response; a streamed body is written as it is produced, then we close. When
    the client goes away mid-stream (`peer_closed` returns) the body is closed at once, so
    its producer's cleanup (e.g. cancelling an agent run) runs now."""
    if isinstance(response, HttpResponse):
        await stream.send_all(render(response))
        return
    async with contextlib.aclosing(response.body) as body, trio.open_nursery() as nursery:
        if peer_closed is not None:

            async def cancel_when_gone() -> None:
                await peer_closed()
                nursery.cancel_scope.cancel()

            nursery.start_soon(cancel_when_gone)
        await stream.send_all(render_head(response.status, response.headers))
        async for chunk in body:
            if chunk:
                await stream.send_all(chunk)
        nursery.cancel_scope.cancel()


async def handle_stream(stream: trio.SocketStream, hooks: EdgeHooks) -> None:
    """Serve one TCP connection. Never raises: one bad client must not stop the listener.

    The socket's limits start here, at accept (server/socket_limits.py): its place under the
    connection cap and its claim on the pre-auth budget of its address. Its one nursery is
    opened here too: its cancel scope is the one the cap sheds, and the WebSocket's on-demand
    writer task runs in it (a scope and a nursery of their own would be ~1 KB more per idle
    socket)."""
    slots = hooks.slots
    slot = None
    try:
        async with trio.open_nursery() as nursery:
            slot = slots.take(nursery.cancel_scope) if slots is not None else None
            if slots is not None and slot is None:
                await trio.aclose_forcefully(stream)
                return
            try:
                try:
                    peer_ip = str(stream.socket.getpeername()[0])
                    claim = PreauthClaim(hooks.preauth, peer_ip)
                    conn = _Accepted(peer_ip, claim, slots, slot, nursery)
                    try:
                        if hooks.tls is None:
                            await _handle_stream(stream, conn, hooks)
                        elif claim.held:  # the handshake first (in the budget), then the same
                            await hooks.tls.serve(
                                stream, peer_ip, None, lambda tls: _handle_stream(tls, conn, hooks)
                            )
                    finally:
                        claim.release()
                finally:
                    # SocketStream.aclose is this close plus a checkpoint: one more turn of the
                    # run loop per connection, right before the nursery's exit makes one.
                    stream.socket.close()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            except Exception as exc:
                hooks.log_error(f"connection handler failed: {type(exc).__name__}: {exc}")
    except Exception as exc:  # the writer task failed in a way it does not expect
        hooks.log_error(f"connection writer failed: {type(exc).__name__}: {exc}")
    finally:
        if slots is not None and slot is not None:
            slots.give_back(slot)


@attrs.define
class _Accepted:
    """What accept decided about one socket, for the request handling inside (TLS or not)."""

    peer_ip: str
    claim: PreauthClaim
    slots: ConnectionSlots | None
    slot: Slot | None
    nursery: trio.Nursery  # the socket's (handle_stream): its writer task runs here

    def keep(self) -> None:
        """Doing real work now: never shed to make room, out of the pre-auth budget."""
        self.claim.release()
        if self.slots is not None and self.slot is not None:
            self.slots.busy(self.slot)


async def _handle_stream(stream: trio.abc.Stream, conn: _Accepted, hooks: EdgeHooks) -> None:
    peer_ip = conn.peer_ip
    reader = RequestReader(stream)
    # Over its address's budget, a socket may still ask for a probe, but may not idle.
    head = await reader.head(REQUEST_HEAD_TIMEOUT if conn.claim.held else OVER_BUDGET_HEAD_TIMEOUT)
    if isinstance(head, int):
        if head:
            await stream.send_all(render(text(head, "Bad Request")))
        return
    upgrade = head.headers.get("upgrade", "")
    local = is_loopback(peer_ip)
    proxied = ingress.has_proxy_headers(head.headers)
    if not upgrade:
        conn.keep()
        context = RequestContext(
            peer_ip=peer_ip,
            local=local and not proxied,
            bearer_ok=hooks.bearer_ok,
            read_body=reader.body,
            peer_closed=reader.wait_closed,
        )
        response = await hooks.router.handle(head, context)
        await send_response(stream, response, reader.wait_closed)
        return
    if "websocket" not in upgrade.lower():
        await stream.send_all(render(text(400, "Bad Request")))
        return
    if hooks.transport.kind == "managed-tailscale" and hooks.transport.mode is not None:
        attribution = ingress.attribute_tailscale(peer_ip, head.headers, hooks.transport.mode)
    else:
        attribution = ingress.attribute(
            peer_ip,
            head.headers,
            hooks.trusted_proxies,
            allow_real_ip_fallback=hooks.allow_real_ip_fallback,
        )
    if attribution.kind == "unattributable-proxy":
        # Forwarded headers we cannot vouch for: never let them make a client look local.
        error = {
            "error": {
                "message": ingress.PROXY_ATTRIBUTION_MESSAGE,
                "type": "proxy_attribution_required",
            }
        }
        await stream.send_all(render(json_response(403, error)))
        return
    if not conn.claim.move_to(attribution.client_ip):
        await stream.send_all(render(text(503, PREAUTH_BUDGET_MESSAGE)))
        return
    peer = Peer(
        remote_ip=attribution.client_ip,
        is_loopback=is_loopback(attribution.peer_ip),
        has_proxy_headers=proxied,
        origin=head.headers.get("origin"),
        host=head.headers.get("host"),
    )
    try:
        switching = wsupgrade.switching_protocols(head.method, head.headers)
    except wsupgrade.UpgradeRefused as refused:
        await stream.send_all(render(text(refused.status, refused.reason, refused.headers)))
        return
    trailing = reader.trailing()
    # The socket may live for days: neither its HTTP parser (h11 state) nor the parsed head
    # (headers dict, attribution) is needed past here; this frame stays alive with it. The
    # upgrade is completed here rather than in a coroutine of its own (one frame fewer).
    del reader, head, attribution
    ws = ServerWebSocket(stream, PREAUTH_MAX_PAYLOAD)
    try:
        await ws.accept(switching, trailing, conn.nursery)
    except WebSocketClosed:  # the peer went away before the upgrade's answer
        return
    del switching, trailing
    abort = functools.partial(trio.aclose_forcefully, stream)
    await hooks.on_websocket(ws, peer, abort, conn.keep)


async def open_listeners(
    hosts: Sequence[tuple[str, bool]], port: int, log: Callable[[str], None]
) -> list[trio.SocketListener]:
    """Bind each (host, required) pair. EADDRINUSE is retried 20 x 500 ms, like the official."""
    listeners: list[trio.SocketListener] = []
    try:
        for host, required in hosts:
            for attempt in range(LISTEN_RETRIES):
                try:
                    listeners.extend(await trio.open_tcp_listeners(port, host=host))
                    break
                except OSError as exc:
                    if exc.errno == errno.EADDRINUSE and attempt < LISTEN_RETRIES - 1:
                        await trio.sleep(LISTEN_RETRY_DELAY)
                        continue
                    if not required:
                        log(f"gateway: failed to bind loopback alias {host}:{port}: {exc.strerror}")
                        break
                    if exc.errno == errno.EADDRINUSE:
                        raise StartupError(
                            f"another gateway instance is already listening on ws://{host}:{port}"
                            f" | listen EADDRINUSE: address already in use {host}:{port}"
                        ) from None
                    raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except BaseException:
        for listener in listeners:
            await listener.aclose()
        raise
    return listeners


def bound_addresses(listeners: Sequence[trio.SocketListener]) -> list[tuple[str, int]]:
    out = []
    for listener in listeners:
        host, port, *_ = listener.socket.getsockname()
        out.append((str(host), int(port)))
    return out


async def run_server(
    listeners: Sequence[trio.SocketListener],
    hooks: EdgeHooks,
    handler_nursery: trio.Nursery,
    *,
    task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept until cancelled; connections live in `handler_nursery` so they can drain."""

    # A partial, not a wrapper coroutine: one frame fewer parked under every open socket.
    handler = functools.partial(handle_stream, hooks=hooks)

    async with trio.open_nursery() as accepting:
        for listener in listeners:
            accepting.start_soon(
                accept_loop, listener, handler, handler_nursery, hooks.slots, hooks.log_error
            )
        task_status.started(bound_addresses(listeners))
