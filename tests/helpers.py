"""Test helpers: an in-process gateway on 127.0.0.1:0 and a raw protocol client.

`start_gateway(nursery, ...)` runs the real supervisor (real sockets, no signals) and returns
a `RunningGateway` with its port and a `shutdown` event. `RawClient` speaks the wire protocol
by hand so tests can send anything, including garbage.
"""

from __future__ import annotations

import io
import json
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
from trio_websocket import WebSocketConnection, wrap_client_stream

from openclaw_gateway.core.logs import FileLog, Logger, Redactor
from openclaw_gateway.host.netbind import BindPlan
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.run_settings import RunSettings
from openclaw_gateway.server.supervisor import run_gateway
from tests.devicekit import SigningDevice
from tests.virtualtime import autojump_active

TOKEN = "test-token-0123456789abcdef"
LOOPBACK_ONLY = BindPlan("loopback", (("127.0.0.1", True),))


@attrs.define
class RunningGateway:
    port: int
    shutdown: trio.Event
    settings: RunSettings
    stdout: io.StringIO
    stderr: io.StringIO

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def make_settings(tmp_path: Path, **overrides: Any) -> tuple[RunSettings, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    policy = overrides.pop("policy", AuthPolicy(mode="token", token=TOKEN))
    log_file = tmp_path / "gateway.log"
    file_log = FileLog(log_file)
    file_log.open()
    logger = Logger(
        redactor=Redactor([policy.token, policy.password]),
        file_log=file_log,
        stdout=out,
        stderr=err,
        verbose=overrides.pop("verbose", False),
    )
    state_dir = tmp_path / "state"
    if "keepalive_interval" not in overrides and autojump_active():
        # Virtual time can jump a whole keepalive round while a pong is still in the kernel's
        # loopback queue (more likely on a loaded machine); the server would then drop a
        # healthy client. Tests of the keepalive itself pass an interval.
        overrides["keepalive_interval"] = math.inf
    settings = RunSettings(
        version="0.1.0",
        port=0,
        bind=LOOPBACK_ONLY,
        policy=policy,
        state_dir=state_dir,
        config_path=state_dir / "openclaw.json",
        logger=logger,
        log_file=log_file,
        handle_signals=False,
        **overrides,
    )
    return settings, out, err


async def start_gateway(nursery: trio.Nursery, tmp_path: Path, **overrides: Any) -> RunningGateway:
    settings, out, err = make_settings(tmp_path, **overrides)
    shutdown = trio.Event()
    addresses = await nursery.start(
        lambda task_status: run_gateway(settings, shutdown=shutdown, task_status=task_status)
    )
    return RunningGateway(addresses[0][1], shutdown, settings, out, err)


def connect_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {"id": "cli", "version": "test", "platform": "linux", "mode": "cli"},
        "role": "operator",
        "scopes": ["operator.read"],
        "auth": {"token": TOKEN},
    }
    params.update(overrides)
    return params


class RawClient:
    """A hand-driven protocol client over one WebSocket."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.challenge: dict[str, Any] | None = None
        self.hello: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self._ids = 0

    async def recv(self) -> dict[str, Any]:
        value = json.loads(await self.ws.get_message())
        assert isinstance(value, dict)
        return value

    async def send(self, value: Any) -> None:
        await self.ws.send_message(value if isinstance(value, str) else json.dumps(value))

    async def read_challenge(self) -> dict[str, Any]:
        frame = await self.recv()
        assert frame["event"] == "connect.challenge"
        self.challenge = frame["payload"]
        return frame

    async def connect(self, **overrides: Any) -> dict[str, Any]:
        """Send connect and return the response frame (hello-ok or error)."""
        if self.challenge is None:
            await self.read_challenge()
        params = connect_params(**overrides)
        device = params.get("device")
        if isinstance(device, SigningDevice):
            # Sign for this socket's challenge, as the official client does.
            assert self.challenge is not None
            params["device"] = device.block(params, self.challenge["nonce"], self.challenge["ts"])
        await self.send(
            {
                "type": "req",
                "id": "1:" + str(uuid.uuid4()),
                "method": "connect",
                "params": params,
            }
        )
        frame = await self.recv()
        if frame.get("ok"):
            self.hello = frame["payload"]
        return frame

    async def call(
        self, method: str, params: Any = None, *, omit_params: bool = False
    ) -> dict[str, Any]:
        """Send a request and return its response frame; events seen meanwhile are kept."""
        self._ids += 1
        rid = f"{self._ids + 1}:{uuid.uuid4()}"
        frame: dict[str, Any] = {"type": "req", "id": rid, "method": method}
        if not omit_params:
            frame["params"] = {} if params is None else params
        await self.send(frame)
        while True:
            got = await self.recv()
            if got.get("type") == "res" and got.get("id") == rid:
                return got
            self.events.append(got)

    async def next_event(self, name: str | None = None) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if name is None or ev.get("event") == name:
                return self.events.pop(i)
        while True:
            got = await self.recv()
            if got.get("type") == "event" and (name is None or got.get("event") == name):
                return got
            self.events.append(got)


@asynccontextmanager
async def ws_client(nursery: trio.Nursery, port: int, **headers: str) -> AsyncIterator[RawClient]:
    """A RawClient whose reader runs in `nursery` and whose TCP stream this helper owns and
    always closes.

    Not trio-websocket's `open_websocket`: 0.12.2 never closes the client's TCP stream when the
    *server* starts the close (the reader stops at EOF and `aclose()` returns early because a
    close reason is already recorded), and the socket it leaves to the garbage collector fails
    some later test under filterwarnings=error.
    """
    extra = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        ws = await wrap_client_stream(nursery, stream, "127.0.0.1", "/", extra_headers=extra)
        try:
            yield RawClient(ws)
        finally:
            with trio.move_on_after(2, shield=True):
                await ws.aclose()


@asynccontextmanager
async def raw_client(port: int, **headers: str) -> AsyncIterator[RawClient]:
    """`ws_client` with a nursery of its own for the reader."""
    try:
        async with trio.open_nursery() as nursery:
            try:
                async with ws_client(nursery, port, **headers) as client:
                    yield client
            finally:
                nursery.cancel_scope.cancel()  # the reader, if the close did not end it
    except BaseExceptionGroup as group:
        # One failure (the caller's, or the reader's ConnectionClosed) is raised as itself,
        # as `open_websocket` does, so callers can `pytest.raises` it.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


@asynccontextmanager
async def connected(port: int, **overrides: Any) -> AsyncIterator[RawClient]:
    async with raw_client(port) as client:
        frame = await client.connect(**overrides)
        assert frame["ok"], frame
        yield client
