"""ports.py: /proc listener lookup, the owner listing, and --force (SIGTERM -> SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.host.ports import (
    ForceRefused,
    Listener,
    _hex_addr,
    describe_owners,
    free_port,
    listeners_on,
    looks_like_gateway,
    port_bindable,
    port_hints,
)
from tests.host.procs import listener, wait_dead


def test_hex_addresses_from_proc_net() -> None:
    assert _hex_addr("0100007F") == "127.0.0.1"
    assert _hex_addr("00000000") == "0.0.0.0"
    assert _hex_addr("00000000000000000000000001000000") == "::1"
    assert _hex_addr("0000000000000000FFFF00000100007F") == "127.0.0.1"


def test_listeners_on_finds_this_process_with_its_address() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        rows = listeners_on(port)
        assert [(r.pid, r.address) for r in rows] == [(os.getpid(), f"127.0.0.1:{port}")]
        text = describe_owners(port)
    lines = text.splitlines()
    assert lines[0] == f"Port {port} is already in use."
    assert lines[1].startswith(f"- pid {os.getpid()} ")
    assert lines[1].endswith(f" (127.0.0.1:{port})")
    assert lines[2] == "- Another process is listening on this port."
    assert listeners_on(port) == []


def _row(cmd: str, address: str = "*:1", pid: int = 7, command: str = "node") -> Listener:
    return Listener(pid, command, cmd, "root", address)


def test_gateway_detection() -> None:
    assert looks_like_gateway(_row("", command="openclaw-gateway"))
    assert looks_like_gateway(_row("openclaw-gateway"))
    assert looks_like_gateway(_row("/usr/bin/node /x/openclaw gateway run --port 1"))
    assert looks_like_gateway(_row("/tmp/venv/bin/python -m openclaw_gateway gateway run"))
    assert not looks_like_gateway(_row("python3 -m http.server 8000", command="python3"))
    assert not looks_like_gateway(_row("openclaw gateway-like", command="x"))


def test_port_hints_follow_the_official_classification() -> None:
    assert port_hints([_row("openclaw-gateway", "*:1")]) == []
    dual = [_row("openclaw-gateway", "127.0.0.1:1"), _row("openclaw-gateway", "[::1]:1")]
    assert port_hints(dual) == []
    assert port_hints([_row("openclaw-gateway", "10.0.0.2:1")]) == [
        "Gateway already running locally. Stop it (openclaw gateway stop) or use a different port."
    ]
    assert port_hints([_row("ssh -N -L 1:x:1 host", command="ssh")]) == [
        "SSH tunnel already bound to this port. Close the tunnel or use a different local port "
        "in -L."
    ]
    mixed = port_hints([_row("python3 x", pid=1), _row("python3 y", pid=2)])
    assert mixed == [
        "Another process is listening on this port.",
        "Multiple listeners detected; ensure only one gateway/tunnel per port unless "
        "intentionally running isolated profiles.",
    ]


async def test_force_sigterms_a_plain_listener() -> None:
    logs: list[str] = []
    with listener() as (proc, port):
        await free_port(
            port,
            interactive=False,
            bindable=lambda: port_bindable("127.0.0.1", port),
            log=logs.append,
        )
        assert wait_dead(proc) == -signal.SIGTERM
    assert logs[0].startswith(f"force: killed pid {proc.pid} (")
    assert logs[0].endswith(f") on port {port}")
    assert not any("SIGKILL" in line for line in logs)


async def test_force_escalates_to_sigkill() -> None:
    logs: list[str] = []
    with listener("ignore-term") as (proc, port):
        await free_port(
            port,
            interactive=False,
            bindable=lambda: port_bindable("127.0.0.1", port),
            log=logs.append,
        )
        assert wait_dead(proc) == -signal.SIGKILL
    assert f"force: escalated to SIGKILL while freeing port {port}" in logs


async def test_force_refuses_a_gateway_from_a_non_interactive_shell() -> None:
    with listener("openclaw", "gateway") as (proc, port):
        with pytest.raises(ForceRefused) as info:
            await free_port(port, interactive=False, bindable=lambda: True, log=print)
        assert str(info.value) == (
            "Refusing to kill the operator's running gateway service from a non-interactive "
            "shell. Use an isolated dev gateway (openclaw gateway run --dev, or --profile <name> "
            f"with a free port) for testing. Existing gateway listener pid: {proc.pid}."
        )
        assert info.value.exit_code == 1
        assert proc.poll() is None  # untouched
        # An interactive shell may kill it.
        await free_port(
            port, interactive=True, bindable=lambda: port_bindable("127.0.0.1", port), log=print
        )
        assert wait_dead(proc) == -signal.SIGTERM


async def test_force_with_nothing_to_kill_only_checks_bindability() -> None:
    logs: list[str] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await free_port(port, interactive=False, bindable=lambda: True, log=logs.append)
    assert logs == []


def test_port_bindable_distinguishes_busy_from_broken() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_bindable("127.0.0.1", port) is False
    assert port_bindable("127.0.0.1", port) is True
    with pytest.raises(StartupError, match=rf"^Could not free port {port}: "):
        port_bindable("192.0.2.123", port)  # not a local address: EADDRNOTAVAIL
