"""Shared helpers for the live (real 127.0.0.1 socket) integration tests.

Every helper that waits is bounded by the caller's `trio.fail_after`; nothing here sleeps.
WebSocket clients are opened with `tests.helpers.ws_client` (its reader in the test's nursery)
or `ws_connected`, which own and always close the TCP stream; see `ws_client` for why.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import h11
import trio
from trio_websocket import CloseReason, ConnectionClosed, ConnectionRejected, wrap_client_stream

from tests.devicekit import SigningDevice
from tests.helpers import RawClient, RunningGateway, ws_client

# The `start` fixture (conftest.py): start(**RunSettings overrides) -> RunningGateway.
StartGateway = Callable[..., Awaitable[RunningGateway]]

# The events the official 2026.9.6 gateway announces, in its order (protocol.md §2.5).
OFFICIAL_EVENTS = [
    "connect.challenge",
    "agent",
    "chat",
    "chat.metadata.changed",
    "models.snapshot",
    "ui.command",
    "session.approval",
    "session.message",
    "session.observer",
    "session.operation",
    "session.sharing",
    "session.sharing.evidence",
    "session.suggestion",
    "session.typing",
    "session.tool",
    "sessions.changed",
    "controlUi.sessionPullRequests.changed",
    "plugins.controlUi.changed",
    "presence",
    "tick",
    "talk.mode",
    "talk.event",
    "talk.voice.change",
    "shutdown",
    "gateway.suspension",
    "health",
    "heartbeat",
    "cron",
    "task",
    "task.suggestion",
    "node.pair.requested",
    "node.pair.resolved",
    "node.presence",
    "node.hostStats",
    "node.runnerInventory.changed",
    "node.invoke.cancel",
    "node.invoke.input",
    "node.invoke.request",
    "device.pair.changed",
    "device.pair.requested",
    "device.pair.resolved",
    "device.pair.setup.completed",
    "device.pair.setup.deliveryUncertain",
    "users.prefs.changed",
    "skills.changed",
    "plugins.changed",
    "plugins.install.progress",
    "voicewake.changed",
    "voicewake.routing.changed",
    "exec.approval.requested",
    "exec.approval.resolved",
    "question.requested",
    "question.resolved",
    "plugin.approval.requested",
    "plugin.approval.resolved",
    "openclaw.approval.requested",
    "openclaw.approval.resolved",
    "terminal.data",
    "terminal.exit",
    "update.available",
    "update.run.changed",
    "portal.changed",
    "progressCard.changed",
    "mentions.changed",
]

# A client that keeps the scopes it asks for with a shared token (the local CLI path).
ADMIN_SCOPES = ["operator.admin"]
READ_SCOPES = ["operator.read"]


def node_device(seed: str = "node-device-1") -> SigningDevice:
    """A real ed25519 device identity; RawClient.connect signs it for each socket's challenge
    (a local node with the shared token is then paired silently, protocol.md §4.5)."""
    return SigningDevice(seed.encode())


NODE_CONNECT: dict[str, Any] = {
    "client": {"id": "node-host", "version": "test", "platform": "linux", "mode": "node"},
    "role": "node",
    "scopes": [],
    "device": node_device(),
}

# A tracked (non-ephemeral) operator: the macOS app in UI mode. With a shared token and no
# device its scopes are cleared (protocol.md §4.4), but it still creates a presence row.
MAC_APP_CONNECT: dict[str, Any] = {
    "client": {
        "id": "openclaw-macos",
        "version": "test",
        "platform": "macos",
        "mode": "ui",
        "displayName": "Test Mac",
    },
    "scopes": ["operator.read"],
}


async def ws_rejection(port: int, **headers: str) -> ConnectionRejected | None:
    """Try a WebSocket upgrade that should be refused; the rejection, or None if accepted.

    The stream is ours (see `tests.helpers.ws_client`): trio-websocket leaks it on a rejected
    handshake too.
    """
    extra = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    rejected: list[ConnectionRejected] = []
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        try:
            async with trio.open_nursery() as nursery:
                ws = await wrap_client_stream(
                    nursery, stream, "127.0.0.1", "/", extra_headers=extra
                )
                await ws.aclose()
        except* ConnectionRejected as group:
            rejected.extend(e for e in group.exceptions if isinstance(e, ConnectionRejected))
    return rejected[0] if rejected else None


@asynccontextmanager
async def ws_connected(
    nursery: trio.Nursery, port: int, **overrides: Any
) -> AsyncIterator[RawClient]:
    """An authenticated RawClient (hello-ok received); `overrides` go into connect params."""
    async with ws_client(nursery, port) as client:
        frame = await client.connect(**overrides)
        assert frame["ok"], frame
        yield client


@attrs.frozen
class Closed:
    """How a socket ended, and what arrived before the close."""

    code: int
    reason: str
    frames: list[dict[str, Any]]


async def read_until_closed(client: RawClient) -> Closed:
    """Collect frames until the server closes the socket. Bound it with trio.fail_after."""
    frames: list[dict[str, Any]] = []
    while True:
        try:
            text = await client.ws.get_message()
        except ConnectionClosed as exc:
            reason: CloseReason | None = exc.reason
            assert reason is not None, "closed without a close reason"
            return Closed(reason.code, reason.reason or "", frames)
        frames.append(json.loads(text))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.frozen
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def http_request(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> HttpReply:
    """One request on a fresh raw TCP connection, parsed with h11 (server closes after it)."""
    conn = h11.Connection(h11.CLIENT)
    head = [("Host", f"127.0.0.1:{port}"), *(headers or [])]
    if body:
        head.append(("Content-Length", str(len(body))))
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        out = conn.send(h11.Request(method=method, target=target, headers=head))
        if body:
            out += conn.send(h11.Data(data=body))
        out += conn.send(h11.EndOfMessage())
        await stream.send_all(out)
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    assert response is not None
    got = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
    return HttpReply(response.status_code, got, b"".join(chunks))


async def raw_http(port: int, data: bytes) -> bytes:
    """Send raw bytes, return everything the server answers until it closes."""
    received = bytearray()
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(data)
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            received += chunk
    return bytes(received)


@attrs.define
class GatewayProcess:
    """A real `openclaw gateway run` child and the files its output goes to."""

    process: trio.Process
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


@asynccontextmanager
async def launch_gateway(
    args: Sequence[str], env: Mapping[str, str], out_dir: Path, name: str = "gw"
) -> AsyncIterator[GatewayProcess]:
    """`python -m openclaw_gateway gateway run <args>`; killed on the way out if still alive
    (a failing test must not leak it)."""
    argv = [sys.executable, "-m", "openclaw_gateway", "gateway", "run", *args]
    out_path, err_path = out_dir / f"{name}.stdout", out_dir / f"{name}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                partial(
                    trio.run_process,
                    argv,
                    env=dict(env),
                    stdin=b"",
                    stdout=out,
                    stderr=err,
                    check=False,
                )
            )
            try:
                yield GatewayProcess(process, out_path, err_path)
            finally:
                if process.returncode is None:
                    process.kill()
                    with trio.move_on_after(5, shield=True):
                        await process.wait()


async def wait_http_ok(gw: GatewayProcess, port: int, path: str = "/healthz") -> None:
    """Poll `path` until it answers 200; fails at once if the process exits (bound the caller
    with fail_after)."""
    while True:
        if gw.process.returncode is not None:
            raise AssertionError(f"gateway exited {gw.process.returncode}:\n{gw.output()}")
        try:
            reply = await http_request(port, "GET", path)
        except OSError:
            await trio.sleep(0.05)
            continue
        if reply.status == 200:
            return
        await trio.sleep(0.05)
