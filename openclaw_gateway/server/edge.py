"""The listener: one TCP port serving HTTP probes and the WebSocket upgrade.

Why h11 in front of trio-websocket: trio-websocket (via wsproto) only understands upgrade
requests, but the official gateway answers plain HTTP (`/healthz`, `/readyz`, 404/405) on the
same port. We read the request head with h11 (bounded size and time), answer plain requests
ourselves, and hand upgrades to trio-websocket through a stream that replays the bytes already
read. Both libraries are sans-IO-cored and maintained by the same group. With gateway.tls all of
this runs inside TLS: server/tls.py does the (bounded) handshake first, on the same port.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio
import trio_websocket

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.security import ingress
from openclaw_gateway.security.ratelimit import PreauthBudget
from openclaw_gateway.server.admission import Peer
from openclaw_gateway.server.http.messages import (
    HttpRequest,
    HttpResponse,
    Response,
    json_response,
    render,
    render_head,
    text,
)
from openclaw_gateway.server.http.reader import RequestReader
from openclaw_gateway.server.http.router import RequestContext, Router
from openclaw_gateway.server.tls import TlsAcceptor

LISTEN_RETRIES = 20
LISTEN_RETRY_DELAY = 0.5
PREAUTH_MAX_PAYLOAD = 65_536
PREAUTH_BUDGET_MESSAGE = "Too many unauthenticated sockets"


class ReplayStream(trio.abc.Stream):
    """A stream that first yields `prefix`, then whatever the inner stream yields."""

    def __init__(self, inner: trio.abc.Stream, prefix: bytes) -> None:
        self.inner = inner
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            await trio.lowlevel.checkpoint()
            return chunk
        return await self.inner.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.inner.aclose()


@attrs.frozen
class EdgeHooks:
    """What the listener needs from the rest of the gateway."""

    # (ws, peer, abort_stream, on_authenticated): the last one releases the pre-auth budget.
    on_websocket: Callable[
        [
            trio_websocket.WebSocketConnection,
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
    """Serve one TCP connection. Never raises: one bad client must not stop the listener."""
    try:
        async with stream:
            peer_ip = str(stream.socket.getpeername()[0])
            if hooks.tls is None:
                await _handle_stream(stream, peer_ip, hooks)
            else:  # the handshake first; then the same request handling inside TLS
                await hooks.tls.serve(
                    stream, peer_ip, hooks.preauth, lambda tls: _handle_stream(tls, peer_ip, hooks)
                )
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    except trio_websocket.HandshakeError:
        pass
    except Exception as exc:
        hooks.log_error(f"connection handler failed: {type(exc).__name__}: {exc}")


async def _handle_stream(stream: trio.abc.Stream, peer_ip: str, hooks: EdgeHooks) -> None:
    reader = RequestReader(stream)
    head = await reader.head()
    if isinstance(head, int):
        if head:
            await stream.send_all(render(text(head, "Bad Request")))
        return
    upgrade = head.headers.get("upgrade", "")
    local = is_loopback(peer_ip)
    proxied = ingress.has_proxy_headers(head.headers)
    if not upgrade:
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
    budget = hooks.preauth
    client_ip = attribution.client_ip
    if budget is not None and not budget.acquire(client_ip):
        await stream.send_all(render(text(503, PREAUTH_BUDGET_MESSAGE)))
        return
    claimed = budget is not None

    def release_preauth() -> None:
        nonlocal claimed
        if claimed and budget is not None:
            claimed = False
            budget.release(client_ip)

    try:
        await _upgrade(stream, head, hooks, attribution, release_preauth)
    finally:
        release_preauth()


async def _upgrade(
    stream: trio.abc.Stream,
    head: HttpRequest,
    hooks: EdgeHooks,
    attribution: ingress.Attribution,
    release_preauth: Callable[[], None],
) -> None:
    peer = Peer(
        remote_ip=attribution.client_ip,
        is_loopback=is_loopback(attribution.peer_ip),
        has_proxy_headers=ingress.has_proxy_headers(head.headers),
        origin=head.headers.get("origin"),
        host=head.headers.get("host"),
    )
    replay = ReplayStream(stream, head.raw)

    async def abort() -> None:
        await trio.aclose_forcefully(stream)

    async with trio.open_nursery() as nursery:
        request = await trio_websocket.wrap_server_stream(
            nursery, replay, max_message_size=PREAUTH_MAX_PAYLOAD
        )
        ws = await request.accept()
        await hooks.on_websocket(ws, peer, abort, release_preauth)
        nursery.cancel_scope.cancel()


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

    async def handler(stream: trio.SocketStream) -> None:
        await handle_stream(stream, hooks)

    task_status.started(bound_addresses(listeners))
    await trio.serve_listeners(handler, list(listeners), handler_nursery=handler_nursery)
