"""TLS on the gateway port: the server's SSL context (reloadable) and the bounded handshake.

`load_served` (synchronous; a worker thread) reads and checks the pair through host/tls_material
and builds the context: TLS 1.3 minimum, as the official (`minVersion: "TLSv1.3"`); a CA bundle
(gateway.tls.caPath) goes into the trust store, so the chain the server sends is completed from
it, and no client certificate is asked for (the official passes `ca` without `requestCert`).

`TlsAcceptor` holds what is served. A replaced pair is picked up for new connections without a
restart (the official watches the files every second and renews its listeners' secure
context): at most once per RELOAD_CHECK_INTERVAL an accept stats the files (three stat calls);
when they changed, the pair is loaded again in a worker thread. A pair that does not load
(half-written, mismatched) keeps the previous one serving and is logged once; live connections
are never touched. `reload()` is the same refresh on demand (for the config watcher);
gateway.reload.mode "off" turns the periodic check off, as it pauses the official's renewal.

`secure()` wraps one accepted socket: the handshake counts in the pre-auth budget of the peer's
address and is bounded by TLS_HANDSHAKE_TIMEOUT; a plaintext client, a failed or slow
handshake just closes the socket (as the official's https server does), never a plaintext
answer.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable

import attrs
import trio

from openclaw_gateway.core.logs import Logger
from openclaw_gateway.core.tls import TlsFiles
from openclaw_gateway.host.tls_material import (
    FileIdentity,
    TlsError,
    TlsMaterial,
    file_identity,
    load_material,
)
from openclaw_gateway.security.ratelimit import PreauthBudget

TLS_HANDSHAKE_TIMEOUT = 10.0  # as long as the HTTP request head may take (server/http/reader)
RELOAD_CHECK_INTERVAL = 1.0  # the official's watchFile interval
TLS_CLOSE_TIMEOUT = 1.0  # close_notify to a peer that stopped reading must not hold the task
LOAD_ATTEMPTS = 3
RENEWAL_QUEUE = 4  # a pair rewritten while we read it is read again


@attrs.frozen
class Served:
    material: TlsMaterial
    context: ssl.SSLContext = attrs.field(repr=False)


def build_context(material: TlsMaterial) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    files = material.files
    try:
        context.load_cert_chain(files.cert, files.key)
        if files.ca is not None:
            context.load_verify_locations(cafile=files.ca)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise TlsError(f"gateway tls: failed to load cert ({files.cert}: {reason})") from None
    return context


def load_served(files: TlsFiles) -> Served:
    """The checked pair and its context. The files are stat'ed before and after: the context
    must hold the very bytes whose fingerprint we report."""
    for _ in range(LOAD_ATTEMPTS):
        material = load_material(files)
        context = build_context(material)
        if file_identity(files) == material.identity:
            return Served(material, context)
    raise TlsError(f"gateway tls: failed to load cert ({files.cert}: kept changing while read)")


class TlsAcceptor:
    """What the listener serves; see the module docstring."""

    def __init__(
        self,
        served: Served,
        logger: Logger | None = None,
        *,
        check_interval: float | None = RELOAD_CHECK_INTERVAL,  # None: only reload() renews
        handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT,
    ) -> None:
        self.served = served
        self._logger = logger
        self._interval = check_interval
        self.handshake_timeout = handshake_timeout
        self._next_check = 0.0
        self._lock = trio.Lock()
        self._refused: FileIdentity | None = None  # the last identity that failed to load
        # The fingerprint of each renewed pair, for discovery's TXT (bounded; a consumer that
        # is not there, or is slow, loses the oldest news: the newest pair is all that counts).
        self._renewed_send, self.renewed = trio.open_memory_channel[str](RENEWAL_QUEUE)

    @property
    def files(self) -> TlsFiles:
        return self.served.material.files

    @property
    def fingerprint(self) -> str:
        return self.served.material.certificate.fingerprint

    async def reload(self) -> bool:
        """Load the files again if they changed since the served pair was read; True when a new
        pair now serves. A failure keeps the old pair (and is logged once per file state)."""
        async with self._lock:
            current = file_identity(self.files)
            if current in (self.served.material.identity, self._refused):
                return False
            try:
                fresh = await trio.to_thread.run_sync(load_served, self.files)
            except (TlsError, OSError, ValueError) as exc:  # never fail an accept over this
                self._refused = current
                self._log("warn", f"gateway TLS renewal failed; keeping accepted material: {exc}")
                return False
            self.served, self._refused = fresh, None
            self._log("info", "gateway TLS certificate renewed without restarting listeners")
            with contextlib.suppress(trio.WouldBlock):
                self._renewed_send.send_nowait(fresh.material.certificate.fingerprint)
            return True

    async def context(self) -> ssl.SSLContext:
        """The context for a new connection, after the cheap periodic change check."""
        if self._interval is None:  # gateway.reload.mode "off" pauses renewal (official)
            return self.served.context
        now = trio.current_time()
        if now >= self._next_check and not self._lock.locked():
            self._next_check = now + self._interval
            await self.reload()
        return self.served.context

    async def secure(
        self, stream: trio.SocketStream, peer_ip: str, budget: PreauthBudget | None
    ) -> trio.SSLStream[trio.SocketStream] | None:
        """The stream after a completed handshake, or None (the caller closes the socket)."""
        if budget is not None and not budget.acquire(peer_ip):
            return None
        try:
            secured = trio.SSLStream(
                stream, await self.context(), server_side=True, https_compatible=True
            )
            with trio.move_on_after(self.handshake_timeout):
                try:
                    await secured.do_handshake()
                except trio.BrokenResourceError:
                    return None  # plaintext, an old protocol version, or a client that left
                return secured
            return None
        finally:
            if budget is not None:
                budget.release(peer_ip)

    async def serve(
        self,
        stream: trio.SocketStream,
        peer_ip: str,
        budget: PreauthBudget | None,
        handler: Callable[[trio.abc.Stream], Awaitable[None]],
    ) -> None:
        """Handshake, then `handler` over TLS, then close_notify (bounded; the caller closes
        the TCP socket). Nothing is served when the handshake does not complete."""
        secured = await self.secure(stream, peer_ip, budget)
        if secured is None:
            return
        try:
            await handler(secured)
        finally:
            with trio.move_on_after(TLS_CLOSE_TIMEOUT):
                await secured.aclose()

    def _log(self, level: str, message: str) -> None:
        if self._logger is not None:
            self._logger.log(level, "tls", message)
