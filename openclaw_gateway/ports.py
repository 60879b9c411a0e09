"""Who listens on a TCP port (from /proc, no lsof needed), and `--force` freeing (cli.md §4)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

from openclaw_gateway.errors import StartupError

TERM_GRACE = 0.7
KILL_DEADLINE = 2.0
BINDABLE_DEADLINE = 3.0
POLL = 0.1
BINDABLE_POLL = 0.15


@attrs.frozen
class Listener:
    pid: int
    command: str
    cmdline: str
    user: str


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "0A":  # 0A = TCP_LISTEN
                continue
            if int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def listeners_on(port: int, proc: Path = Path("/proc")) -> list[Listener]:
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return []
    found: list[Listener] = []
    wanted = {f"socket:[{i}]" for i in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                found.append(_describe(int(entry.name), entry))
                break
    return found


def _describe(pid: int, entry: Path) -> Listener:
    command = cmdline = user = "?"
    with contextlib.suppress(OSError):
        command = (entry / "comm").read_text().strip()
    with contextlib.suppress(OSError):
        cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    with contextlib.suppress(OSError, KeyError, ImportError):
        import pwd

        user = pwd.getpwuid(entry.stat().st_uid).pw_name
    return Listener(pid, command, cmdline.strip(), user)


def looks_like_gateway(listener: Listener) -> bool:
    if listener.command == "openclaw-gateway":
        return True
    words = listener.cmdline.split()
    return any("openclaw" in w for w in words) and "gateway" in words


def describe_owners(port: int) -> str:
    owners = listeners_on(port)
    lines = [f"Port {port} is already in use."]
    lines += [f"- pid {o.pid} {o.user}: {o.command} (*:{port})" for o in owners]
    return "\n".join(lines)


async def free_port(
    port: int,
    *,
    interactive: bool,
    bindable: Callable[[], bool],
    log: Callable[[str], None],
    own_pid: int | None = None,
) -> None:
    """SIGTERM the port's listeners, SIGKILL after 700 ms, then wait until it binds."""
    own = own_pid if own_pid is not None else os.getpid()

    def refuse_if_gateway(found: list[Listener]) -> None:
        gateways = [x for x in found if looks_like_gateway(x)]
        if gateways and not interactive:
            raise StartupError(
                "Refusing to kill the operator's running gateway service from a non-interactive "
                "shell. Use an isolated dev gateway (openclaw gateway run --dev, or --profile "
                "<name> with a free port) for testing. Existing gateway listener pid: "
                f"{gateways[0].pid}."
            )

    found = [x for x in listeners_on(port) if x.pid != own]
    refuse_if_gateway(found)
    started = trio.current_time()
    if found:
        refuse_if_gateway([x for x in listeners_on(port) if x.pid != own])
        for victim in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim.pid, signal.SIGTERM)
                log(f"force: killed pid {victim.pid} ({victim.command}) on port {port}")
        while trio.current_time() - started < TERM_GRACE:
            if not [x for x in listeners_on(port) if x.pid != own]:
                break
            await trio.sleep(POLL)
        remaining = [x for x in listeners_on(port) if x.pid != own]
        if remaining:
            log(f"force: escalated to SIGKILL while freeing port {port}")
            for victim in remaining:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim.pid, signal.SIGKILL)
            while trio.current_time() - started < KILL_DEADLINE:
                remaining = [x for x in listeners_on(port) if x.pid != own]
                if not remaining:
                    break
                await trio.sleep(POLL)
            if remaining:
                pids = ", ".join(str(x.pid) for x in remaining)
                raise StartupError(
                    f"Could not free port {port}: port {port} still has listeners "
                    f"after --force: {pids}. Run openclaw gateway status --deep "
                    "to inspect the listener."
                )
        log(
            f"force: waited {int((trio.current_time() - started) * 1000)}ms for port {port} to free"
        )
    waited_from = trio.current_time()
    while not bindable():
        if trio.current_time() - waited_from >= BINDABLE_DEADLINE:
            raise StartupError(
                f"Could not free port {port}: port did not become bindable. "
                "Run openclaw gateway status --deep to inspect the listener."
            )
        await trio.sleep(BINDABLE_POLL)
