"""The async client: one session, or a long-lived one that reconnects.

`reconnect=True` keeps a client connected: reconnect with backoff (1 s doubling to 30 s) and a
tick watchdog (no frame for 2 × tickIntervalMs -> close 4000 `tick timeout` and reconnect).
`seq` gaps are reported on the events themselves (`Event.gap`, see session.py). For scripts,
`GatewayClient.sync(url, token=…)` runs the same client on a background trio thread.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Self

import trio

from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.client.session import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    EVENT_QUEUE,
    ClientIdentity,
    Connector,
    Event,
    GatewayRequestError,
    GatewayTransportError,
    SentCall,
    Session,
    Signer,
    connect_params,
    open_session,
    open_stream,
    with_gap,
)
from openclaw_gateway.client.sync import SyncGatewayClient
from openclaw_gateway.core.errors import GatewayError

BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0


class GatewayClient:
    """Async client. Use as `async with GatewayClient(url, token=…) as gw:`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        password: str | None = None,
        role: str = "operator",
        scopes: tuple[str, ...] = ("operator.admin",),
        identity: ClientIdentity | None = None,
        reconnect: bool = False,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        connector: Connector | None = None,
        device_store: IdentityStore | None = None,
        tls_fingerprint: str | None = None,
    ) -> None:
        self.url = url
        self.role = role
        # With a device store the client signs every connect with its own identity (created
        # on first use) and keeps the device token the gateway issues for the next connect.
        self.device_store = device_store
        self._signer: Signer | None = None
        # How a byte stream to the gateway is opened; tests pass memory streams here.
        # `tls_fingerprint` pins a wss:// gateway's certificate (client/tls.py).
        self._connector = connector or functools.partial(
            open_stream, tls_fingerprint=tls_fingerprint
        )
        self._params = connect_params(
            identity or ClientIdentity(), role=role, scopes=scopes, token=token, password=password
        )
        if device_store is not None:
            self._signer = device_store.load_or_create().device_block
            stored = device_store.device_token(url, role)
            if stored and not (token or password):
                self._params["auth"] = {"deviceToken": stored}
        self.reconnect = reconnect
        self.connect_timeout = connect_timeout
        self.session: Session | None = None
        self._connected = trio.Event()
        self._events_send, self._events_recv = trio.open_memory_channel[Event](EVENT_QUEUE)
        self._nursery: trio.Nursery | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self.connects = 0
        self.backoffs: list[float] = []

    @property
    def hello(self) -> dict[str, Any]:
        return self.session.hello if self.session else {}

    def _remember_device_token(self, hello: dict[str, Any]) -> None:
        if self.device_store is not None:
            self.device_store.remember_issued(self.url, self.role, hello)

    async def __aenter__(self) -> Self:
        # An exit stack, not the nursery's own __aenter__/__aexit__ by hand: whatever the
        # session close raises (a Cancelled, say) must still unwind the nursery with it, or
        # the nursery's cancel scope is left on trio's stack (tests/client/test_node_host_cancel).
        stack = contextlib.AsyncExitStack()
        self._nursery = await stack.enter_async_context(trio.open_nursery())
        stack.push_async_callback(self._close_session)
        self._stack = stack
        try:
            if self.reconnect:
                await self._nursery.start(self._supervise)
            else:
                self.session = await open_session(
                    self._nursery,
                    self.url,
                    self._params,
                    timeout=self.connect_timeout,
                    connector=self._connector,
                    signer=self._signer,
                )
                self._remember_device_token(self.session.hello)
                self.connects += 1
                self._nursery.start_soon(self._pump, self.session)
        except BaseException:
            await stack.aclose()  # the caller sees the connect failure itself, not a group
            raise
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        assert self._stack is not None
        return await self._stack.__aexit__(*exc)

    async def _close_session(self) -> None:
        """The first step of leaving: close the session, then stop the nursery's tasks."""
        assert self._nursery is not None
        try:
            if self.session is not None:
                await self.session.aclose()
        finally:
            self._nursery.cancel_scope.cancel()

    async def _pump(self, session: Session) -> None:
        """Session events to the client's queue; one the consumer had no room for is dropped
        and shows as the gap of the next one delivered (seq counts per connection)."""
        last_delivered: int | None = None
        async for event in session.received:
            event = with_gap(event, last_delivered)
            try:
                self._events_send.send_nowait(event)
            except trio.WouldBlock:
                continue
            if event.seq is not None:
                last_delivered = event.seq

    async def _watchdog(self, session: Session) -> None:
        """Close with 4000 when nothing arrived for 2 × tickIntervalMs."""
        while not session.closed.is_set():
            deadline = session.last_frame_at + 2 * session.tick_interval
            if trio.current_time() >= deadline:
                await session.aclose(4000, "tick timeout")
                return
            with trio.move_on_at(deadline):
                await session.closed.wait()

    async def _supervise(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Keep one session alive: reconnect with backoff (1 s doubling to 30 s)."""
        backoff = BACKOFF_INITIAL
        started = False
        while True:
            failure: GatewayError | None = None
            async with trio.open_nursery() as nursery:
                try:
                    session = await open_session(
                        nursery,
                        self.url,
                        self._params,
                        timeout=self.connect_timeout,
                        connector=self._connector,
                        signer=self._signer,
                    )
                except (GatewayRequestError, GatewayTransportError) as exc:
                    failure = exc
                    nursery.cancel_scope.cancel()
                else:
                    self.session = session
                    self._remember_device_token(session.hello)
                    self.connects += 1
                    backoff = BACKOFF_INITIAL
                    self._connected.set()
                    nursery.start_soon(self._pump, session)
                    nursery.start_soon(self._watchdog, session)
                    if not started:
                        started = True
                        task_status.started()
                    await session.closed.wait()
                    await session.aclose()
                    nursery.cancel_scope.cancel()
            if isinstance(failure, GatewayRequestError) and not started:
                raise failure  # refused credentials will not fix themselves
            self._connected = trio.Event()
            await trio.sleep(backoff)
            self.backoffs.append(backoff)  # waits actually served (not the one cut by close)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def call(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        expect_final: bool = False,
    ) -> Any:
        """One request (session.Session.call: `expect_final` waits past `accepted`)."""
        if self.reconnect and (self.session is None or self.session.closed.is_set()):
            with trio.move_on_after(timeout):
                await self._connected.wait()
        if self.session is None:
            raise GatewayTransportError("closed", "not connected")
        return await self.session.call(method, params, timeout=timeout, expect_final=expect_final)

    async def send_call(self, method: str, params: Any = None) -> SentCall:
        """A request sent without waiting for its answer (session.Session.send_call), on the
        current connection."""
        if self.session is None or self.session.closed.is_set():
            raise GatewayTransportError("closed", "not connected")
        return await self.session.send_call(method, params)

    def events(self) -> trio.MemoryReceiveChannel[Event]:
        """Events from every session, in order; iterate with `async for`."""
        return self._events_recv

    @classmethod
    def sync(cls, url: str, **kwargs: Any) -> SyncGatewayClient:
        return SyncGatewayClient(cls(url, **kwargs))
