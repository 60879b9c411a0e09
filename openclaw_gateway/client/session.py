"""One connection to the gateway: challenge -> connect -> hello-ok, then calls and events.

`open_session` opens the byte stream (or takes one from a `Connector`, the seam tests use),
signs the connect with the device identity when a `Signer` is given, and returns a `Session`
whose reader runs in the caller's nursery. A refused connect raises `GatewayRequestError`
(with the close frame that came with it); a stream that fails, closes or times out raises
`GatewayTransportError`. Reconnecting and the tick watchdog live in reconnecting.py.
"""

from __future__ import annotations

import errno
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection

from openclaw_gateway import __version__
from openclaw_gateway.client import tls as client_tls
from openclaw_gateway.client.websocket import wrap_client_stream
from openclaw_gateway.core.errors import GatewayError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import PROTOCOL_VERSION

DEFAULT_CALL_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 10.0
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
    """The connection failed or closed. `kind`: refused | closed | timeout | protocol | tls
    (handshake, certificate trust or a fingerprint pin)."""

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
    def __init__(self, expect_final: bool, close_code: Callable[[], int | None]) -> None:
        self.done = trio.Event()
        self.frame: dict[str, Any] | None = None
        # Wait past an `ok` response whose payload says status "accepted" (official
        # expectFinal): the request resolves with the next response for its id.
        self.expect_final = expect_final
        self._close_code = close_code

    def outcome(self) -> Any:
        """The answered request's payload, or its error raised (the connection closed first:
        GatewayTransportError "closed")."""
        if self.frame is None:
            raise GatewayTransportError(
                "closed", "gateway closed the connection", close_code=self._close_code()
            )
        if self.frame.get("ok"):
            return self.frame.get("payload")
        raise GatewayRequestError(self.frame.get("error") or {})


class SentCall:
    """A request sent without waiting for its answer (Session.send_call)."""

    def __init__(self, pending: _Pending) -> None:
        self._pending = pending

    @property
    def answered(self) -> bool:
        return self._pending.done.is_set()

    async def answer(self, timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        """Wait until it is answered (or the connection closed); bounded by `timeout`."""
        with trio.move_on_after(timeout) as scope:
            await self._pending.done.wait()
        if scope.cancelled_caught:
            raise GatewayTransportError("timeout", f"gateway timeout after {int(timeout * 1000)}ms")

    def outcome(self) -> Any:
        """Once answered: the payload, or the error raised."""
        assert self.answered, "not answered yet"
        return self._pending.outcome()


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
        expect_final: bool = False,
    ) -> Any:
        """The payload of the response; `expect_final` skips an `accepted` acknowledgment
        (as `agent` sends first) and returns the final response. `timeout` bounds it all."""
        rid, pending = self._request(expect_final)
        try:
            with trio.move_on_after(timeout) as scope:
                await self._send_request(rid, method, params)
                await pending.done.wait()
            if scope.cancelled_caught:
                raise GatewayTransportError(
                    "timeout", f"gateway timeout after {int(timeout * 1000)}ms"
                )
        finally:
            self._pending.pop(rid, None)
        return pending.outcome()

    async def send_call(self, method: str, params: Any = None) -> SentCall:
        """Send a request and return without waiting for its answer: the gateway answers one
        connection's requests in order, so a stream of them (an agent's progress chunks)
        need not pay a round trip each. The answer is kept until it arrives (or the
        connection closes); SentCall.outcome() reads it."""
        rid, pending = self._request(False)
        try:
            await self._send_request(rid, method, params)
        except BaseException:
            self._pending.pop(rid, None)
            raise
        return SentCall(pending)

    def _request(self, expect_final: bool) -> tuple[str, _Pending]:
        self._ids += 1
        rid = f"{self._ids}:{uuid.uuid4()}"
        pending = self._pending[rid] = _Pending(expect_final, lambda: self.close_code)
        return rid, pending

    async def _send_request(self, rid: str, method: str, params: Any) -> None:
        frame: dict[str, Any] = {"type": "req", "id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        try:
            await self.ws.send_message(codec.encode(frame))
        except ConnectionClosed as exc:
            raise _closed(exc) from None

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
                    self._resolve(frame)
                elif frame.get("type") == "event":
                    self._deliver(frame)
        except ConnectionClosed as exc:
            self.close_code = exc.reason.code if exc.reason else None
        finally:
            for pending in self._pending.values():
                pending.done.set()
            self._send_events.close()
            self.closed.set()

    def _resolve(self, frame: dict[str, Any]) -> None:
        """Hand a response to its request; the first one that resolves it retires it, so a
        later frame for the same id (a final after an accepted) cannot overwrite it."""
        rid = str(frame.get("id"))
        pending = self._pending.get(rid)
        if pending is None:
            return
        payload = frame.get("payload")
        if (
            pending.expect_final
            and frame.get("ok")
            and isinstance(payload, dict)
            and payload.get("status") == "accepted"
        ):
            return
        del self._pending[rid]
        pending.frame = frame
        pending.done.set()

    def _deliver(self, frame: dict[str, Any]) -> None:
        seq = frame.get("seq")
        event = Event(
            str(frame.get("event")), frame.get("payload"), seq, frame.get("stateVersion"), None
        )
        event = with_gap(event, self._last_seq)
        try:
            self._send_events.send_nowait(event)
        except (trio.WouldBlock, trio.BrokenResourceError):
            # A consumer that does not read loses events. `_last_seq` is the last one *queued*,
            # so the next delivered event shows the loss as its gap.
            return
        if isinstance(seq, int):
            self._last_seq = seq


def with_gap(event: Event, last_delivered: int | None) -> Event:
    """`event`, its gap set when its seq does not follow the last one delivered onwards."""
    seq = event.seq
    if not isinstance(seq, int) or last_delivered is None or seq == last_delivered + 1:
        return event
    return attrs.evolve(event, gap=(last_delivered + 1, seq))


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


async def open_stream(
    url: str, *, tls_fingerprint: str | None = None
) -> tuple[trio.abc.Stream, str, str]:
    """TCP, then for wss:// TLS (system trust, or the pinned fingerprint: client/tls.py)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise GatewayTransportError("protocol", f"invalid gateway URL: {url}")
    if tls_fingerprint and parts.scheme != "wss":
        raise GatewayTransportError("tls", client_tls.PIN_REQUIRES_WSS)
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
        try:
            stream = await client_tls.secure(tcp, parts.hostname, tls_fingerprint)
        except client_tls.TlsFailure as exc:
            await trio.aclose_forcefully(tcp)
            raise GatewayTransportError("tls", str(exc), reason=str(exc)) from None
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
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
    tls_fingerprint: str | None = None,
) -> Session:
    """Connect and complete the handshake; the session's reader runs in `nursery`.

    `tls_fingerprint` pins a wss:// gateway's certificate (ignored with a `connector`).

    Resource handling: the TCP stream is opened here and closed here on every failure path,
    including cancellation and timeout, so a failed connect leaks nothing.
    """
    stream: trio.abc.Stream | None = None
    try:
        with trio.fail_after(timeout):
            if connector is not None:
                stream, host, resource = await connector(url)
            else:
                stream, host, resource = await open_stream(url, tls_fingerprint=tls_fingerprint)
            try:
                ws = await wrap_client_stream(
                    nursery,
                    stream,
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
