"""The listener: one TCP port serving HTTP probes and the WebSocket upgrade.

Why h11 in front of trio-websocket: trio-websocket (via wsproto) only understands upgrade
requests, but the official gateway answers plain HTTP (`/healthz`, `/readyz`, 404/405) on the
same port. We read the request head with h11 (bounded size and time), answer plain requests
ourselves, and hand upgrades to trio-websocket through a stream that replays the bytes already
read. Both libraries are sans-IO-cored and maintained by the same group.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Awaitable, Callable, Sequence

import attrs
import h11
import trio
import trio_websocket

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.security import ingress
from openclaw_gateway.security.ratelimit import PreauthBudget
from openclaw_gateway.server import probes
from openclaw_gateway.server.admission import Peer

REQUEST_HEAD_TIMEOUT = 10.0
MAX_REQUEST_HEAD = 16_384
LISTEN_RETRIES = 20
LISTEN_RETRY_DELAY = 0.5
PREAUTH_MAX_PAYLOAD = 65_536
PREAUTH_BUDGET_MESSAGE = "Too many unauthenticated sockets"


class ReplayStream(trio.abc.Stream):
    """A stream that first yields `prefix`, then whatever the inner stream yields."""

    def __init__(self, inner: trio.SocketStream, prefix: bytes) -> None:
        self.inner = inner
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
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
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    raw: bytes


async def read_request_head(stream: trio.abc.ReceiveStream) -> HttpRequest | int:
    """Read one request head. Returns it, or an HTTP status to answer with (0 = just close)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
    raw = bytearray()
    with trio.move_on_after(REQUEST_HEAD_TIMEOUT):
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                return exc.error_status_hint
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                if not data:
                    return 0
                raw += data
                conn.receive_data(bytes(data))
                continue
            if isinstance(event, h11.Request):
                headers: dict[str, str] = {}
                for name, value in event.headers:
                    key = name.decode("latin-1").lower()
                    text = value.decode("latin-1")
                    headers[key] = f"{headers[key]}, {text}" if key in headers else text
                return HttpRequest(
                    event.method.decode("ascii"),
                    event.target.decode("latin-1"),
                    headers,
                    bytes(raw),
                )
            return 400
    return 408


def render(response: probes.HttpResponse) -> bytes:
    reasons = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        408: "Request Timeout",
        431: "Request Header Fields Too Large",
        503: "Service Unavailable",
    }
    lines = [f"HTTP/1.1 {response.status} {reasons.get(response.status, 'Error')}"]
    lines += [f"{k}: {v}" for k, v in response.headers]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + response.body


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
    probe_view: Callable[[], probes.ProbeView]
    bearer_ok: Callable[[str], bool]
    trusted_proxies: Sequence[str] = ()
    allow_real_ip_fallback: bool = False
    # Concurrent unauthenticated sockets per client IP; None = unlimited (unit tests only).
    preauth: PreauthBudget | None = None
    log_error: Callable[[str], None] = lambda _msg: None
    # The listener's provenance: the managed Tailscale ingress attributes by Tailscale's rules.
    transport: ingress.Transport = ingress.ORDINARY


async def handle_stream(stream: trio.SocketStream, hooks: EdgeHooks) -> None:
    """Serve one TCP connection. Never raises: one bad client must not stop the listener."""
    try:
        async with stream:
            await _handle_stream(stream, hooks)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    except trio_websocket.HandshakeError:
        pass
    except Exception as exc:
        hooks.log_error(f"connection handler failed: {type(exc).__name__}: {exc}")


async def _handle_stream(stream: trio.SocketStream, hooks: EdgeHooks) -> None:
    peer_ip = str(stream.socket.getpeername()[0])
    head = await read_request_head(stream)
    if isinstance(head, int):
        if head:
            await stream.send_all(render(probes.text(head, "Bad Request")))
        return
    upgrade = head.headers.get("upgrade", "")
    local = is_loopback(peer_ip)
    proxied = ingress.has_proxy_headers(head.headers)
    if not upgrade:
        auth_header = head.headers.get("authorization", "")
        token = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else ""
        response = probes.route(
            head.method,
            head.target,
            local=local and not proxied,
            bearer_ok=lambda: bool(token) and hooks.bearer_ok(token),
            view=hooks.probe_view,
        )
        await stream.send_all(render(response))
        return
    if "websocket" not in upgrade.lower():
        await stream.send_all(render(probes.text(400, "Bad Request")))
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
        body = json.dumps(
            {
                "error": {
                    "message": ingress.PROXY_ATTRIBUTION_MESSAGE,
                    "type": "proxy_attribution_required",
                }
            }
        ).encode()
        await stream.send_all(
            render(
                probes.HttpResponse(
                    403,
                    (
                        ("Content-Type", "application/json; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                    ),
                    body,
                )
            )
        )
        return
    budget = hooks.preauth
    client_ip = attribution.client_ip
    if budget is not None and not budget.acquire(client_ip):
        text = PREAUTH_BUDGET_MESSAGE.encode()
        await stream.send_all(
            render(
                probes.HttpResponse(
                    503,
                    (
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(text))),
                    ),
                    text,
                )
            )
        )
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
    stream: trio.SocketStream,
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
