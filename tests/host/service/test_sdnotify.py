"""sd_notify against real AF_UNIX datagram sockets (file path and abstract `@` names)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from openclaw_gateway.host import sdnotify
from tests.host.service.conftest import Home

RECV_TIMEOUT = 15.0


@pytest.fixture(params=["path", "abstract"])
def notify_socket(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    else:
        name = f"@openclaw-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name[1:])
    sock.settimeout(RECV_TIMEOUT)
    with sock:
        yield sock, name


def _fields(datagram: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in datagram.decode().splitlines())


def test_notify_sends_one_datagram(notify_socket: tuple[socket.socket, str]) -> None:
    sock, name = notify_socket
    notifier = sdnotify.Notifier({"NOTIFY_SOCKET": name})
    assert notifier.active
    assert notifier.ready("listening on port 18789")
    assert _fields(sock.recv(4096)) == {
        "READY": "1",
        "STATUS": "listening on port 18789",
        "MAINPID": str(os.getpid()),
    }
    assert notifier.stopping()
    assert _fields(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "shutting down"}


def test_without_a_socket_nothing_is_sent(tmp_path: Path) -> None:
    assert sdnotify.notify("READY=1", {}) is False
    assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": "relative/path"}) is False
    # A socket path nobody listens on: reported, not raised.
    assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False


def test_watchdog_interval() -> None:
    pid = os.getpid()
    assert sdnotify.watchdog_interval({}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "abc"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "2000000"}) == 1.0
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(pid)}) == 1.0
    # Meant for another process (we inherited its environment): do not ping.
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None


async def test_pinger_sends_watchdog_every_half_interval(
    notify_socket: tuple[socket.socket, str], autojump_clock: trio.abc.Clock
) -> None:
    sock, name = notify_socket
    sock.setblocking(False)
    env = {"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "10000000"}  # 10 s -> a ping every 5 s
    async with trio.open_nursery() as nursery:
        start = trio.current_time()
        notifier = await nursery.start(sdnotify.run_notifier, env)
        assert isinstance(notifier, sdnotify.Notifier)
        pings = []
        while len(pings) < 3:
            await trio.lowlevel.wait_readable(sock)
            assert sock.recv(4096) == b"WATCHDOG=1"
            pings.append(trio.current_time() - start)
        nursery.cancel_scope.cancel()
    assert pings == pytest.approx([0.0, 5.0, 10.0])


async def test_pinger_idles_without_a_watchdog(autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        notifier = await nursery.start(sdnotify.run_notifier, {})
        assert not notifier.active
        await trio.sleep(3600)  # nothing to send, nothing raised
        nursery.cancel_scope.cancel()


def test_real_gateway_reports_ready_then_stopping(
    notify_socket: tuple[socket.socket, str], home: Home
) -> None:
    """READY=1 only once the port accepts connections; STOPPING=1 when SIGTERM arrives."""
    sock, name = notify_socket
    env = {**home.env, "NOTIFY_SOCKET": name}
    proc = subprocess.Popen(
        [sys.executable, "-m", "openclaw_gateway", "gateway", "run"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = _fields(sock.recv(4096))
        assert ready == {
            "READY": "1",
            "STATUS": f"listening on port {home.port}",
            "MAINPID": str(proc.pid),
        }
        with socket.create_connection(("127.0.0.1", home.port), timeout=2):
            pass  # already listening when READY arrived
        proc.send_signal(signal.SIGTERM)
        assert _fields(sock.recv(4096))["STOPPING"] == "1"
        assert proc.wait(RECV_TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
