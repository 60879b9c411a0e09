"""A transient `ssh -N -L` port forward for `gateway probe --ssh` (cli.md §9 "SSH tunnel").

Only an ssh client from a system directory is run. The local port is the remote port when that
is free on 127.0.0.1, else an ephemeral one. Ready means the local port accepts a TCP connect
within max(250 ms, budget). Leaving the context (any way) sends SIGTERM, then SIGKILL after
1.5 s, and waits for the process. Failures raise SshTunnelError with the official wording:
`ssh exited (<code>)` (or `ssh tunnel did not start listening on localhost:<port>`) followed by
ssh's non-empty stderr lines.

`extra_args` are inserted before the destination (tests pass `-F none`,
`-o UserKnownHostsFile=…`); they are also given to `ssh -G` when resolving a target.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import attrs
import trio

from openclaw_gateway.host.terminate import terminate

SYSTEM_DIRS = ("/usr/bin", "/bin", "/usr/local/bin")
STOP_GRACE = 1.5
READY_FLOOR = 0.25
READY_POLL = 0.05
CONNECT_ATTEMPT = 0.25
SSH_G_FLOOR = 0.2
SSH_G_MAX_OUTPUT = 65536


class SshTunnelError(Exception):
    """The tunnel could not be started; str() is the message the probe reports."""


@attrs.frozen
class SshTarget:
    user: str | None
    host: str
    port: int

    @property
    def user_host(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host


@attrs.frozen
class SshTunnel:
    target: str
    local_port: int
    remote_port: int
    pid: int | None


def _unsafe(value: str) -> bool:
    return any(ord(c) <= 31 or ord(c) == 127 or c.isspace() for c in value)


def _safe_host(host: str) -> bool:
    return not (
        _unsafe(host)
        or host.startswith("-")
        or host.startswith(":")
        or host.endswith(":")
        or "@" in host
    )


def _safe_user(user: str) -> bool:
    return not _unsafe(user) and not user.startswith("-")


def parse_ssh_target(raw: str) -> SshTarget | None:
    """`[user@]host[:port]` (a leading `ssh ` is ignored); None when unsafe or malformed."""
    text = raw.strip()
    if text.startswith("ssh"):
        rest = text[3:]
        if rest[:1].isspace():
            text = rest.lstrip()
    if not text:
        return None
    user: str | None = None
    host_part = text
    if "@" in text:
        idx = text.index("@")
        user = text[:idx].strip() or None
        host_part = text[idx + 1 :].strip()
    colon = host_part.rfind(":")
    port = 22
    if 0 < colon < len(host_part) - 1:
        host = host_part[:colon].strip()
        port_text = host_part[colon + 1 :].strip()
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535 or not host:
            return None
        port = int(port_text)
        host_part = host
    if not host_part or not _safe_host(host_part):
        return None
    if user is not None and not _safe_user(user):
        return None
    return SshTarget(user, host_part, port)


def format_ssh_target(user: str | None, host: str, port: int) -> str:
    base = f"{user}@{host}" if user else host
    return f"{base}:{port}" if port != 22 else base


def resolve_ssh_client(dirs: Sequence[str] | None = None) -> str | None:
    """The first executable `ssh` in a system directory; PATH is deliberately ignored."""
    for directory in SYSTEM_DIRS if dirs is None else dirs:
        candidate = os.path.join(directory, "ssh")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


async def resolve_ssh_config(
    target: SshTarget,
    *,
    identity: str | None,
    budget_s: float,
    extra_args: Sequence[str] = (),
    ssh_path: str | None = None,
) -> tuple[str, str | None] | None:
    """`ssh -G`: (target with the configured user/host/port, first IdentityFile) or None."""
    ssh = ssh_path or resolve_ssh_client()
    if ssh is None:
        return None
    args = [ssh, "-G"]
    if target.port != 22:
        args += ["-p", str(target.port)]
    if identity and identity.strip():
        args += ["-i", identity.strip()]
    args += [*extra_args, "--", target.user_host]
    try:
        with trio.move_on_after(max(SSH_G_FLOOR, budget_s)) as scope:
            result = await trio.run_process(
                args,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
    except OSError:
        return None
    if scope.cancelled_caught or result.returncode != 0:
        return None
    text = result.stdout[:SSH_G_MAX_OUTPUT].decode("utf-8", "replace")
    if not text.strip():
        return None
    user = host = None
    port: int | None = None
    identities: list[str] = []
    for raw in text.splitlines():
        key, _, value = raw.strip().partition(" ")
        value = value.strip()
        if not key or not value:
            continue
        if key == "user":
            user = value
        elif key == "hostname":
            host = value
        elif key == "port" and value.isdigit() and 1 <= int(value) <= 65535:
            port = int(value)
        elif key == "identityfile" and value != "none":
            identities.append(value)
    resolved_host = host or target.host
    if not resolved_host:
        return None
    resolved = format_ssh_target(user or target.user, resolved_host, port or target.port)
    chosen = identity if identity and identity.strip() else (identities[0] if identities else None)
    return resolved, chosen


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ephemeral_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _accepts(port: int) -> bool:
    with trio.move_on_after(CONNECT_ATTEMPT):
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            return False
        await stream.aclose()
        return True
    return False


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "ssh exited (null)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"ssh exited (null/{name})"
    return f"ssh exited ({returncode})"


@asynccontextmanager
async def open_ssh_tunnel(
    target: str,
    remote_port: int,
    identity: str | None = None,
    budget_s: float = 1.5,
    *,
    extra_args: Sequence[str] = (),
    ssh_path: str | None = None,
    local_port: int | None = None,
) -> AsyncIterator[SshTunnel]:
    """Forward 127.0.0.1:<local> to 127.0.0.1:<remote_port> on `target` while inside."""
    parsed = parse_ssh_target(target)
    if parsed is None:
        raise SshTunnelError(f"invalid SSH target: {target}")
    ssh = ssh_path or resolve_ssh_client()
    if ssh is None:
        raise SshTunnelError("trusted SSH client not found in system directories")
    preferred = local_port if local_port is not None else remote_port
    chosen = preferred if port_is_free(preferred) else ephemeral_port()
    args = [
        ssh,
        "-N",
        "-L",
        f"127.0.0.1:{chosen}:127.0.0.1:{remote_port}",
        "-p",
        str(parsed.port),
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UpdateHostKeys=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
    ]
    if identity and identity.strip():
        args += ["-i", identity.strip()]
    args += [*extra_args, "--", parsed.user_host]
    try:
        process = await trio.lowlevel.open_process(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise SshTunnelError(f"failed to start ssh: {exc.strerror or exc}") from None
    stderr_chunks: list[bytes] = []
    problem: str | None = None
    try:
        problem = await _wait_ready(process, chosen, budget_s, stderr_chunks)
        if problem is not None:
            text = b"".join(stderr_chunks).decode("utf-8", "replace")
            lines = [line.strip() for line in text.split("\n") if line.strip()]
            raise SshTunnelError("\n".join([problem, *lines]))
        yield SshTunnel(target, chosen, remote_port, process.pid)
    finally:
        with trio.CancelScope(shield=True):
            await terminate(process, STOP_GRACE)
            if process.stderr is not None:
                await process.stderr.aclose()


async def _wait_ready(
    process: trio.Process, port: int, budget_s: float, stderr_chunks: list[bytes]
) -> str | None:
    """None once the local port accepts; else the failure headline (ssh already stopped)."""
    exited = trio.Event()
    drained = trio.Event()
    problem: str | None = None

    async def drain_stderr() -> None:
        stream = process.stderr
        try:
            if stream is not None:
                with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
                    while chunk := await stream.receive_some(4096):
                        stderr_chunks.append(bytes(chunk))
        finally:
            drained.set()

    async def watch_exit() -> None:
        await process.wait()
        exited.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain_stderr)
        nursery.start_soon(watch_exit)
        ready = False
        with trio.move_on_after(max(READY_FLOOR, budget_s)):
            while not exited.is_set():
                if await _accepts(port):
                    ready = True
                    break
                with trio.move_on_after(READY_POLL):
                    await exited.wait()
        if exited.is_set() or not ready:
            problem = (
                _exit_text(process.returncode)
                if exited.is_set()
                else f"ssh tunnel did not start listening on localhost:{port}"
            )
            await terminate(process, STOP_GRACE)
            # ssh is gone, so its stderr reaches EOF: collect the last words.
            with trio.move_on_after(0.5):
                await drained.wait()
        nursery.cancel_scope.cancel()
    return problem
