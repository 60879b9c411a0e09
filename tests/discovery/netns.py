"""Network namespaces for the real-mDNS tests (testing-discovery-and-services.md §1).

SAFETY: zeroconf is never constructed in the host namespace. Every gateway, browser and
sniffer here runs under `ip netns exec <ns>` in namespaces this module creates (unique short
names) and deletes; every process started is terminated by its handle.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

SNIFF = Path(__file__).with_name("mdns_sniff.py")
TOKEN = "discovery-test-token-0123456789abcdef"


def _loud_skip(reason: str) -> None:
    pytest.skip(f"!!! REAL mDNS TEST SKIPPED: {reason} !!!")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The parent's environment minus OPENCLAW_*, a throwaway HOME, mDNS allowed (we are
    inside a test namespace), and the container rule opted out of (OPENCLAW_DISABLE_BONJOUR=0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", NO_COLOR="1", OPENCLAW_DISABLE_BONJOUR="0")
    env.update(extra)
    return env


def write_config(home: Path, body: dict[str, Any]) -> Path:
    path = home / ".openclaw" / "openclaw.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def announcing_config(home: Path, **discovery: Any) -> dict[str, Any]:
    return {
        "gateway": {"mode": "local"},
        "logging": {"file": str(home / "gateway.log")},
        "plugins": {"entries": {"bonjour": {"enabled": True}}},
        "discovery": discovery,
    }


@attrs.define
class Proc:
    """A process started in a namespace; a thread collects its output lines."""

    popen: subprocess.Popen[str]
    lines: list[str] = attrs.field(factory=list)
    pump: threading.Thread | None = None

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:
            for line in self.popen.stdout:  # ends at EOF (the process exited)
                self.lines.append(line.rstrip("\n"))

    def finish(self, timeout: float = 5) -> None:
        """Wait for the pump to read to EOF (after the process exited)."""
        if self.pump is not None:
            self.pump.join(timeout)

    def output(self) -> str:
        return "\n".join(self.lines)


@attrs.define
class Namespaces:
    names: tuple[str, ...]
    addresses: tuple[str, ...]  # one IPv4 per namespace (127.0.0.1 when lo only)
    procs: list[Proc] = attrs.field(factory=list)

    def popen(self, index: int, argv: Sequence[str], env: dict[str, str]) -> Proc:
        popen = subprocess.Popen(
            ["ip", "netns", "exec", self.names[index], *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        proc = Proc(popen)
        proc.pump = threading.Thread(target=proc._pump, daemon=True)
        proc.pump.start()
        self.procs.append(proc)
        return proc

    def run(
        self, index: int, argv: Sequence[str], env: dict[str, str], timeout: float = 20
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.names[index], *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def openclaw(
        self, index: int, env: dict[str, str], *args: str, timeout: float = 20
    ) -> subprocess.CompletedProcess[str]:
        return self.run(index, [sys.executable, "-m", "openclaw_gateway", *args], env, timeout)

    def start_gateway(self, index: int, env: dict[str, str], *args: str) -> Proc:
        return self.popen(
            index, [sys.executable, "-m", "openclaw_gateway", "gateway", "run", *args], env
        )

    def start_sniffer(self, index: int, log: Path, port: int | None = None) -> Proc:
        argv = [sys.executable, str(SNIFF), self.addresses[index], str(log)]
        if port is not None:
            argv.append(str(port))
        proc = self.popen(index, argv, clean_env(log.parent))
        wait_for_line(proc, "listening", 10)
        return proc


def wait_for_line(proc: Proc, needle: str, timeout: float) -> list[str]:
    """Until an output line contains `needle` (bounded); the lines so far."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = list(proc.lines)
        if any(needle in line for line in seen):
            return seen
        if proc.popen.poll() is not None:
            time.sleep(0.1)  # let the pump drain what is left
            if not any(needle in line for line in proc.lines):
                break
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} not seen within {timeout}s; output: {proc.lines}")


def stop(proc: Proc, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
    """Signal the process (by its handle) and wait; the exit code."""
    if proc.popen.poll() is None:
        proc.popen.send_signal(sig)
    try:
        code = proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.popen.kill()
        proc.popen.wait(5)
        raise
    proc.finish()
    return code


def _require_tools() -> None:
    if os.geteuid() != 0:
        _loud_skip("network namespaces need root (CAP_NET_ADMIN)")
    if shutil.which("ip") is None:
        _loud_skip("iproute2 (`ip`) is not installed")


def _teardown(ns: Namespaces) -> None:
    for proc in ns.procs:
        if proc.popen.poll() is None:
            proc.popen.terminate()
            try:
                proc.popen.wait(5)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        proc.finish()
    for name in ns.names:
        _ip("netns", "del", name, check=False)


def veth_pair() -> Iterator[Namespaces]:
    """Two namespaces joined by a veth pair: 10.<n>.<m>.1 and .2 (/24)."""
    _require_tools()
    tag = uuid.uuid4().hex[:6]
    a, b, va, vb = f"ocA{tag}", f"ocB{tag}", f"ova{tag}", f"ovb{tag}"
    octet = int(tag[:2], 16) % 200 + 20
    ip_a, ip_b = f"10.{octet}.77.1", f"10.{octet}.77.2"
    ns = Namespaces((a, b), (ip_a, ip_b))
    try:
        _ip("netns", "add", a)
        _ip("netns", "add", b)
        _ip("link", "add", va, "type", "veth", "peer", "name", vb)
        _ip("link", "set", va, "netns", a)
        _ip("link", "set", vb, "netns", b)
        _ip("-n", a, "addr", "add", f"{ip_a}/24", "dev", va)
        _ip("-n", b, "addr", "add", f"{ip_b}/24", "dev", vb)
        for name, dev in ((a, va), (b, vb)):
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", name, "link", "set", dev, "up", "multicast", "on")
    except subprocess.CalledProcessError as exc:
        _teardown(ns)
        _ip("link", "del", va, check=False)
        _loud_skip(f"cannot create netns/veth: {exc.stderr.strip()}")
    try:
        yield ns
    finally:
        _teardown(ns)


def lo_only() -> Iterator[Namespaces]:
    """One namespace with only `lo` (mDNS works on 127.0.0.1 there)."""
    _require_tools()
    name = f"ocL{uuid.uuid4().hex[:6]}"
    ns = Namespaces((name,), ("127.0.0.1",))
    try:
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        _teardown(ns)
        _loud_skip(f"cannot create a netns: {exc.stderr.strip()}")
    try:
        yield ns
    finally:
        _teardown(ns)
