"""The Python client SDK: connect (challenge, connect, hello-ok), call, events, close.

    async with GatewayClient("ws://127.0.0.1:18789", token="…") as gw:
        print(await gw.call("health"))
        async for event in gw.events():
            print(event.name, event.payload)

`reconnect=True` keeps a long-lived client connected: reconnect with backoff (1 s doubling to
30 s) and a tick watchdog (no frame for 2 × tickIntervalMs -> close 4000 `tick timeout` and
reconnect). `seq` gaps are reported on the events themselves (`Event.gap`). For scripts,
`GatewayClient.sync(url, token=…)` runs the same client on a background trio thread.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self
from urllib.parse import urlsplit

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    wrap_client_stream,
)

from openclaw_gateway import __version__
from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.client.invoke_context import CURRENT_INVOKE
from openclaw_gateway.core.errors import GatewayError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import PROTOCOL_VERSION

DEFAULT_CALL_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 10.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0
EVENT_QUEUE = 1024
CLIENT_MAX_PAYLOAD = 26_214_400


# Opens a byte stream to the gateway: (stream, Host header, resource path).
Connector = Callable[[str], Awaitable[tuple[trio.abc.Stream, str, str]]]
# Builds the signed connect `device` block from (params, challenge nonce, challenge ts).
Signer = Callable[[dict[str, Any], str, int], dict[str, Any]]


class GatewayRequestError(GatewayError):
    """The gateway answered with an error frame (ok:false)."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.code = str(error.get("code", "UNKNOWN"))
        self.message = str(error.get("message", ""))
        self.details = error.get("details")
        self.retryable = bool(error.get("retryable", False))
        self.retry_after_ms = error.get("retryAfterMs")
        self.error = error
        # For a refused `connect`: the close frame the gateway sent with it, when one came.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        super().__init__(self.message)


class GatewayTransportError(GatewayError):
    """The connection failed or closed. `kind`: refused | closed | timeout | protocol."""

    def __init__(
        self, kind: str, message: str, *, reason: str | None = None, close_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
        self.close_code = close_code


@attrs.frozen
class Event:
    name: str
    payload: Any
    seq: int | None = None
    state_version: dict[str, int] | None = None
    # (expected, received) when this event's seq skipped some numbers.
    gap: tuple[int, int] | None = None


@attrs.frozen
class ClientIdentity:
    client_id: str = "gateway-client"
    mode: str = "backend"
    version: str = __version__
    platform: str = "linux"
    display_name: str | None = None
    instance_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))


class _Pending:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.frame: dict[str, Any] | None = None


class Session:
    """One live connection (after hello-ok)."""

    def __init__(
        self, ws: WebSocketConnection, hello: dict[str, Any], stream: trio.abc.Stream | None = None
    ) -> None:
        self.ws = ws
        self._stream = stream
        self.hello = hello
        self._pending: dict[str, _Pending] = {}
        self._ids = 1
        self._send_events, self.received = trio.open_memory_channel[Event](EVENT_QUEUE)
        self._last_seq: int | None = None
        self.last_frame_at = trio.current_time()
        self.closed = trio.Event()
        self.close_code: int | None = None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close politely (bounded), then make sure the TCP stream is gone."""
        with trio.move_on_after(1, shield=True):
            await self.ws.aclose(code, reason)
        if self._stream is not None:
            await trio.aclose_forcefully(self._stream)

    @property
    def tick_interval(self) -> float:
        policy = self.hello.get("policy") or {}
        return float(policy.get("tickIntervalMs", 30_000)) / 1000

    async def call(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> Any:
        self._ids += 1
        rid = f"{self._ids}:{uuid.uuid4()}"
        pending = self._pending[rid] = _Pending()
        frame: dict[str, Any] = {"type": "req", "id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        try:
            with trio.move_on_after(timeout) as scope:
                try:
                    await self.ws.send_message(codec.encode(frame))
                except ConnectionClosed as exc:
                    raise _closed(exc) from None
                await pending.done.wait()
            if scope.cancelled_caught:
                raise GatewayTransportError(
                    "timeout", f"gateway timeout after {int(timeout * 1000)}ms"
                )
        finally:
            self._pending.pop(rid, None)
        if pending.frame is None:
            raise GatewayTransportError(
                "closed", "gateway closed the connection", close_code=self.close_code
            )
        if pending.frame.get("ok"):
            return pending.frame.get("payload")
        raise GatewayRequestError(pending.frame.get("error") or {})

    async def reader(self) -> None:
        try:
            while True:
                message = await self.ws.get_message()
                self.last_frame_at = trio.current_time()
                try:
                    frame = codec.parse_json(message)
                except GatewayError:
                    continue
                if not isinstance(frame, dict):
                    continue
                if frame.get("type") == "res":
                    pending = self._pending.get(str(frame.get("id")))
                    if pending is not None:
                        pending.frame = frame
                        pending.done.set()
                elif frame.get("type") == "event":
                    self._deliver(frame)
        except ConnectionClosed as exc:
            self.close_code = exc.reason.code if exc.reason else None
        finally:
            for pending in self._pending.values():
                pending.done.set()
            self._send_events.close()
            self.closed.set()

    def _deliver(self, frame: dict[str, Any]) -> None:
        seq = frame.get("seq")
        gap = None
        if isinstance(seq, int):
            if self._last_seq is not None and seq != self._last_seq + 1:
                gap = (self._last_seq + 1, seq)
            self._last_seq = seq
        event = Event(
            str(frame.get("event")), frame.get("payload"), seq, frame.get("stateVersion"), gap
        )
        with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError):
            # A consumer that does not read loses events; the next delivered one shows the gap.
            self._send_events.send_nowait(event)


def _closed(exc: ConnectionClosed) -> GatewayTransportError:
    code = exc.reason.code if exc.reason else None
    reason = exc.reason.reason if exc.reason else None
    return GatewayTransportError(
        "closed", f"gateway closed ({code}): {reason or ''}".strip(), reason=reason, close_code=code
    )


def connect_params(
    identity: ClientIdentity,
    *,
    role: str,
    scopes: tuple[str, ...],
    token: str | None,
    password: str | None,
    min_protocol: int = PROTOCOL_VERSION,
) -> dict[str, Any]:
    """`min_protocol=3` is what probe-mode clients (`gateway probe`/`status`) send."""
    client: dict[str, Any] = {
        "id": identity.client_id,
        "version": identity.version,
        "platform": identity.platform,
        "mode": identity.mode,
        "instanceId": identity.instance_id,
    }
    if identity.display_name:
        client["displayName"] = identity.display_name
    params: dict[str, Any] = {
        "minProtocol": min_protocol,
        "maxProtocol": PROTOCOL_VERSION,
        "client": client,
        "caps": [],
        "role": role,
        "scopes": list(scopes),
    }
    auth = {k: v for k, v in (("token", token), ("password", password)) if v}
    if auth:
        params["auth"] = auth
    return params


def _errno_of(exc: BaseException) -> int | None:
    """trio reports a failed connect as one OSError caused by a group of per-address errors."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        for sub in cause.exceptions:
            found = _errno_of(sub)
            if found:
                return found
    elif cause is not None:
        return _errno_of(cause)
    return None


async def _open_stream(url: str) -> tuple[trio.abc.Stream, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise GatewayTransportError("protocol", f"invalid gateway URL: {url}")
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        tcp = await trio.open_tcp_stream(parts.hostname, port)
    except OSError as exc:
        code = _errno_of(exc)
        text = errno.errorcode.get(code, "") if code else ""
        kind = "refused" if code == errno.ECONNREFUSED else "closed"
        raise GatewayTransportError(
            kind, exc.strerror or str(exc), reason=text or str(exc)
        ) from None
    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] = tcp
    if parts.scheme == "wss":
        stream = trio.SSLStream(tcp, ssl.create_default_context(), server_hostname=parts.hostname)
    host = parts.netloc.rsplit("@", 1)[-1]
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return stream, host, resource


async def open_session(
    nursery: trio.Nursery,
    url: str,
    params: dict[str, Any],
    *,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    connector: Connector | None = None,
    signer: Signer | None = None,
) -> Session:
    """Connect and complete the handshake; the session's reader runs in `nursery`.

    Resource handling: the TCP stream is opened here and closed here on every failure path,
    including cancellation and timeout, so a failed connect leaks nothing.
    """
    stream: trio.abc.Stream | None = None
    try:
        with trio.fail_after(timeout):
            stream, host, resource = await (connector or _open_stream)(url)
            try:
                ws = await wrap_client_stream(
                    nursery,
                    stream,  # type: ignore[arg-type]  # any trio Stream works
                    host,
                    resource,
                    max_message_size=CLIENT_MAX_PAYLOAD,
                )
            except HandshakeError as exc:
                raise GatewayTransportError(
                    "closed", f"websocket handshake failed: {exc}"
                ) from None
            except (OSError, trio.BrokenResourceError) as exc:
                raise GatewayTransportError("closed", str(exc), reason=str(exc)) from None
            try:
                challenge = codec.parse_json(await ws.get_message())
                if not (
                    isinstance(challenge, dict) and challenge.get("event") == "connect.challenge"
                ):
                    raise GatewayTransportError(
                        "protocol", "gateway did not send connect.challenge"
                    )
                if signer is not None:
                    payload = challenge.get("payload") or {}
                    nonce, ts = payload.get("nonce"), payload.get("ts")
                    if not isinstance(nonce, str) or not isinstance(ts, int):
                        raise GatewayTransportError(
                            "protocol", "connect.challenge has no usable nonce/ts to sign"
                        )
                    params = {**params, "device": signer(params, nonce, ts)}
                request = {
                    "type": "req",
                    "id": f"1:{uuid.uuid4()}",
                    "method": "connect",
                    "params": params,
                }
                await ws.send_message(codec.encode(request))
                reply = codec.parse_json(await ws.get_message())
            except ConnectionClosed as exc:
                raise _closed(exc) from None
    except trio.TooSlowError:
        if stream is not None:
            await trio.aclose_forcefully(stream)
        raise GatewayTransportError(
            "timeout", f"gateway timeout after {int(timeout * 1000)}ms"
        ) from None
    except BaseException:
        if stream is not None:
            await trio.aclose_forcefully(stream)
        raise
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        with trio.move_on_after(1, shield=True):
            await ws.aclose()
        await trio.aclose_forcefully(stream)
        failure = GatewayRequestError(error or {"code": "UNAVAILABLE", "message": "connect failed"})
        if ws.closed is not None:
            failure.close_code, failure.close_reason = ws.closed.code, ws.closed.reason
        raise failure
    session = Session(ws, reply.get("payload") or {}, stream)
    nursery.start_soon(session.reader)
    return session


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
    ) -> None:
        self.url = url
        self.role = role
        # With a device store the client signs every connect with its own identity (created
        # on first use) and keeps the device token the gateway issues for the next connect.
        self.device_store = device_store
        self._signer: Signer | None = None
        # How a byte stream to the gateway is opened; tests pass memory streams here.
        self._connector = connector or _open_stream
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
        self._nursery_cm: Any = None
        self.connects = 0
        self.backoffs: list[float] = []

    @property
    def hello(self) -> dict[str, Any]:
        return self.session.hello if self.session else {}

    def _remember_device_token(self, hello: dict[str, Any]) -> None:
        if self.device_store is not None:
            self.device_store.remember_issued(self.url, self.role, hello)

    async def __aenter__(self) -> Self:
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
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
            assert self._nursery is not None
            self._nursery.cancel_scope.cancel()
            await self._nursery_cm.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> bool | None:
        assert self._nursery is not None
        if self.session is not None:
            await self.session.aclose()
        self._nursery.cancel_scope.cancel()
        return await self._nursery_cm.__aexit__(*exc)  # type: ignore[no-any-return]

    async def _pump(self, session: Session) -> None:
        async for event in session.received:
            with contextlib.suppress(trio.WouldBlock):
                self._events_send.send_nowait(event)

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
    ) -> Any:
        if self.reconnect and (self.session is None or self.session.closed.is_set()):
            with trio.move_on_after(timeout):
                await self._connected.wait()
        if self.session is None:
            raise GatewayTransportError("closed", "not connected")
        return await self.session.call(method, params, timeout=timeout)

    def events(self) -> trio.MemoryReceiveChannel[Event]:
        """Events from every session, in order; iterate with `async for`."""
        return self._events_recv

    @classmethod
    def sync(cls, url: str, **kwargs: Any) -> SyncGatewayClient:
        return SyncGatewayClient(cls(url, **kwargs))


class SyncGatewayClient:
    """`with GatewayClient.sync(url, token=…) as gw: gw.call("health")` — for scripts."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="openclaw-client")

    def _main(self) -> None:
        async def body() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            try:
                async with self._client:
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._error = exc
                self._ready.set()

        trio.run(body)

    def __enter__(self) -> SyncGatewayClient:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None and self._stop is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join()

    def call(self, method: str, params: Any = None, timeout: float = DEFAULT_CALL_TIMEOUT) -> Any:
        assert self._token is not None
        return trio.from_thread.run(
            lambda: self._client.call(method, params, timeout=timeout), trio_token=self._token
        )

    @property
    def hello(self) -> dict[str, Any]:
        return self._client.hello


NodeCommand = Callable[[Any], Any]


class NodeHost:
    """A node in Python: declare commands with `@node.command(name)`, then `await node.serve()`.

        node = NodeHost("ws://127.0.0.1:18789", token="…", device_store=IdentityStore(dir))

        @node.command("agent.turn")
        async def turn(params):
            return {"text": "hi"}

    It connects with role `node` (client id `node-host`, mode `node`) and a signed device,
    declares the commands, and answers each `node.invoke.request` with `node.invoke.result`
    (the handler's return value as payloadJSON, or its exception as the error). An operator
    must approve the declared commands (`node.pair.approve`) before they can be invoked.
    """

    def __init__(
        self,
        url: str,
        *,
        device_store: IdentityStore,
        token: str | None = None,
        display_name: str | None = None,
        caps: tuple[str, ...] = (),
        reconnect: bool = True,
        connector: Connector | None = None,
    ) -> None:
        self.url = url
        self.device_store = device_store
        self.token = token
        self.display_name = display_name
        self.caps = caps
        self.reconnect = reconnect
        self._connector = connector
        self.commands: dict[str, NodeCommand] = {}
        self.client: GatewayClient | None = None

    def command(self, name: str) -> Callable[[NodeCommand], NodeCommand]:
        def record(fn: NodeCommand) -> NodeCommand:
            if name in self.commands:
                raise ValueError(f"node command {name!r} registered twice")
            self.commands[name] = fn
            return fn

        return record

    async def serve(self) -> None:
        """Run until cancelled."""
        async with self.running():
            await trio.sleep_forever()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[NodeHost]:
        """Connected (after the first hello-ok) and answering invokes inside the block."""
        identity = ClientIdentity(
            client_id="node-host", mode="node", display_name=self.display_name
        )
        client = GatewayClient(
            self.url,
            token=self.token,
            role="node",
            scopes=(),
            identity=identity,
            reconnect=self.reconnect,
            connector=self._connector,
            device_store=self.device_store,
        )
        client._params["caps"] = list(self.caps)
        client._params["commands"] = list(self.commands)
        async with client, trio.open_nursery() as nursery:
            self.client = client
            nursery.start_soon(self._dispatch, client, nursery)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    async def _dispatch(self, client: GatewayClient, nursery: trio.Nursery) -> None:
        async for event in client.events():
            if event.name == "node.invoke.request" and isinstance(event.payload, dict):
                nursery.start_soon(self._answer, client, event.payload)
            self.observe(event)

    def observe(self, event: Event) -> None:
        """Sees every event this node receives (AgentNode: `node.invoke.cancel`)."""

    async def _answer(self, client: GatewayClient, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request.get("id"), "nodeId": request.get("nodeId")}
        handler = self.commands.get(str(request.get("command")))
        try:
            if handler is None:
                raise LookupError(f"unknown command: {request.get('command')}")
            text = request.get("paramsJSON")
            params = json.loads(text) if isinstance(text, str) and text else None
            CURRENT_INVOKE.set(request)
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
            reply |= {"ok": True, "payloadJSON": json.dumps(result)}
        except Exception as exc:  # the node reports it; the operator sees "<code>: <message>"
            code = "UNKNOWN_COMMAND" if handler is None else "COMMAND_FAILED"
            reply |= {"ok": False, "error": {"code": code, "message": str(exc) or repr(exc)}}
        with contextlib.suppress(GatewayError):
            await client.call("node.invoke.result", reply)
