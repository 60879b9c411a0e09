"""Who listens on a TCP port (from /proc, no lsof needed), and `--force` freeing (cli.md §4)."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.host.terminate import stop_pids

TERM_GRACE = 0.7
KILL_DEADLINE = 2.0
BINDABLE_DEADLINE = 3.0
POLL = 0.1
BINDABLE_POLL = 0.15


@attrs.frozen
class Listener:
    """One listening socket on the port (a process with two sockets gives two rows, as lsof)."""

    pid: int
    command: str
    cmdline: str
    user: str
    address: str = ""  # lsof style: `*:18789`, `127.0.0.1:18789`, `[::1]:18789`


def _hex_addr(raw: str) -> str:
    """/proc/net/tcp{,6} little-endian hex address -> printable IP."""
    packed = bytes.fromhex(raw)
    if len(packed) == 4:
        return str(ipaddress.IPv4Address(packed[::-1]))
    words = b"".join(packed[i : i + 4][::-1] for i in range(0, 16, 4))
    v6 = ipaddress.IPv6Address(words)
    return str(v6.ipv4_mapped) if v6.ipv4_mapped is not None else str(v6)


def _lsof_address(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::"):
        return f"*:{port}"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listening_sockets(port: int, proc: Path) -> dict[str, str]:
    """inode -> lsof-style local address of every TCP socket listening on `port`."""
    found: dict[str, str] = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "0A":  # 0A = TCP_LISTEN
                continue
            host_hex, port_hex = parts[1].rsplit(":", 1)
            if int(port_hex, 16) != port:
                continue
            try:
                found[parts[9]] = _lsof_address(_hex_addr(host_hex), port)
            except ValueError:
                found[parts[9]] = f"*:{port}"
    return found


def listeners_on(port: int, proc: Path = Path("/proc")) -> list[Listener]:
    sockets = _listening_sockets(port, proc)
    if not sockets:
        return []
    wanted = {f"socket:[{inode}]": address for inode, address in sockets.items()}
    found: list[Listener] = []
    for entry in sorted(proc.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        addresses: list[str] = []
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted and wanted[target] not in addresses:
                addresses.append(wanted[target])
        if addresses:
            base = _describe(int(entry.name), entry)
            found.extend(attrs.evolve(base, address=a) for a in sorted(addresses))
    return found


def _describe(pid: int, entry: Path) -> Listener:
    command = cmdline = user = ""
    with contextlib.suppress(OSError):
        command = (entry / "comm").read_text().strip()
    with contextlib.suppress(OSError):
        raw = (entry / "cmdline").read_bytes()
        # One line per listener: arguments may hold newlines (python -c ...).
        cmdline = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    with contextlib.suppress(OSError, KeyError, ImportError):
        import pwd

        user = pwd.getpwuid(entry.stat().st_uid).pw_name
    return Listener(pid, command, cmdline.strip(), user)


def looks_like_gateway(listener: Listener) -> bool:
    """An OpenClaw gateway (official or ours): the process title, or `openclaw ... gateway`.

    Two on purpose: this one is loose because a match only refuses a kill or names a conflict;
    detached.looks_like_gateway is strict (exact argv words) because a match there is signalled.
    """
    if listener.command == "openclaw-gateway":
        return True
    words = listener.cmdline.split()
    if words and words[0].replace("\\", "/").rsplit("/", 1)[-1] == "openclaw-gateway":
        return True
    return any("openclaw" in w.lower() for w in words) and "gateway" in words


def _classify(listener: Listener) -> str:
    """Official classifyPortListener: gateway, ssh, non_gateway or unknown."""
    command = listener.command.lower()
    cmdline = listener.cmdline.lower()
    if command in ("socat", "socat1"):
        return "non_gateway"
    if "openclaw" in f"{cmdline} {command}":
        return "gateway"
    if re.search(r"(?:^|/)ssh$", command):
        return "ssh"
    if re.search(r"(?:^|[\s\"'/])ssh(?:[\s\"']|$)", cmdline):
        return "ssh"
    if "ssh" in command:
        return "non_gateway"
    return "unknown"


def _expected_gateway_rows(rows: list[Listener]) -> bool:
    """One gateway on wildcard/loopback, or one pid on 127.0.0.1 + ::1: no hint needed."""
    if any(_classify(r) != "gateway" for r in rows):
        return False
    hosts = [r.address.rsplit(":", 1)[0].strip("[]") for r in rows]
    if len(rows) == 1:
        return hosts[0] in ("*", "127.0.0.1", "localhost", "::1")
    return len({r.pid for r in rows}) == 1 and sorted(hosts) == ["127.0.0.1", "::1"]


def port_hints(rows: list[Listener]) -> list[str]:
    if not rows:
        return []
    kinds = {_classify(r) for r in rows}
    expected = _expected_gateway_rows(rows)
    hints = []
    if "gateway" in kinds and not expected:
        hints.append(
            "Gateway already running locally. Stop it (openclaw gateway stop) or use a "
            "different port."
        )
    if "ssh" in kinds:
        hints.append(
            "SSH tunnel already bound to this port. Close the tunnel or use a different local "
            "port in -L."
        )
    if kinds & {"unknown", "non_gateway"}:
        hints.append("Another process is listening on this port.")
    if len(rows) > 1 and not expected:
        hints.append(
            "Multiple listeners detected; ensure only one gateway/tunnel per port unless "
            "intentionally running isolated profiles."
        )
    return hints


def format_listener(row: Listener) -> str:
    user = f" {row.user}" if row.user else ""
    where = f" ({row.address})" if row.address else ""
    return f"pid {row.pid}{user}: {row.cmdline or row.command or 'unknown'}{where}"


def describe_owners(port: int, rows: list[Listener] | None = None) -> str:
    """The official port diagnostics block: `Port N is already in use.` + `- pid ...` lines."""
    owners = listeners_on(port) if rows is None else rows
    lines = [f"Port {port} is already in use."]
    lines += [f"- {format_listener(o)}" for o in owners]
    lines += [f"- {hint}" for hint in port_hints(owners)]
    return "\n".join(lines)


NON_INTERACTIVE_REFUSAL = (
    "Refusing to kill the operator's running gateway service from a non-interactive shell. "
    "Use an isolated dev gateway (openclaw gateway run --dev, or --profile <name> with a free "
    "port) for testing."
)


class ForceRefused(StartupError):
    """--force found a gateway on the port and the shell is not interactive (exit 1)."""


def gateway_refusal(rows: list[Listener]) -> str | None:
    pids = sorted({r.pid for r in rows if looks_like_gateway(r)})
    if not pids:
        return None
    plural = "" if len(pids) == 1 else "s"
    listed = ", ".join(str(p) for p in pids)
    return f"{NON_INTERACTIVE_REFUSAL} Existing gateway listener pid{plural}: {listed}."


def _could_not_free(port: int, reason: str) -> StartupError:
    return StartupError(
        f"Could not free port {port}: {reason}. Run openclaw gateway status --deep to "
        "inspect the listener."
    )


def port_bindable(host: str, port: int) -> bool:
    """A test bind (never listen): False only while the port is in use, as the official probe.

    Any other failure (EADDRNOTAVAIL, EACCES) is not something waiting fixes: it raises a
    StartupError with the official "Could not free port" wording.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        return True
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return False
        raise _could_not_free(port, exc.strerror or "bind failed") from None


async def _poll_until(done: Callable[[], bool], deadline: float, interval: float) -> bool:
    """True once `done()` holds, False if the deadline passes first (checked once more)."""
    while True:
        if done():
            return True
        if trio.current_time() >= deadline:
            return False
        await trio.sleep(min(interval, max(0.0, deadline - trio.current_time())))


async def free_port(
    port: int,
    *,
    interactive: bool,
    bindable: Callable[[], bool],
    log: Callable[[str], None],
    own_pid: int | None = None,
    listeners: Callable[[int], list[Listener]] = listeners_on,
) -> None:
    """`--force` (cli.md §4): SIGTERM the port's listeners, SIGKILL after 700 ms (2 s in all),
    then wait up to 3 s for a test bind to succeed.

    Non-interactive shells never kill a gateway: ForceRefused before anything is signalled,
    and the check runs again before each signal. Other failures are StartupError with the
    official "Could not free port" text. Both mean exit 1.
    """
    own = own_pid if own_pid is not None else os.getpid()

    def current() -> list[Listener]:
        return [x for x in listeners(port) if x.pid != own]

    if not interactive:
        refusal = gateway_refusal(current())
        if refusal:
            raise ForceRefused(refusal)

    def signal_all(rows: list[Listener], signum: signal.Signals) -> None:
        for pid in dict.fromkeys(r.pid for r in rows):
            if not interactive:
                refusal = gateway_refusal(current())
                if refusal:
                    raise _could_not_free(port, refusal)
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue
            except OSError as exc:
                command = next((f" ({r.command})" for r in rows if r.pid == pid and r.command), "")
                raise _could_not_free(
                    port, f"failed to kill pid {pid}{command}: {exc.strerror}"
                ) from None

    victims = current()
    killed = list({r.pid: r for r in victims}.values())
    escalated = False
    waited = 0.0
    if victims:
        started = trio.current_time()
        ending = await stop_pids(
            lambda signum: signal_all(current(), signum),
            lambda: not current(),
            grace=TERM_GRACE,
            kill_wait=KILL_DEADLINE - TERM_GRACE,
            poll=POLL,
        )
        escalated = ending == "sigkill"
        if ending == "alive":
            remaining = current()
            pids = ", ".join(str(p) for p in dict.fromkeys(r.pid for r in remaining))
            raise _could_not_free(port, f"port {port} still has listeners after --force: {pids}")
        waited = trio.current_time() - started
    for victim in killed:
        command = f" ({victim.command})" if victim.command else ""
        log(f"force: killed pid {victim.pid}{command} on port {port}")
    if escalated:
        log(f"force: escalated to SIGKILL while freeing port {port}")
    if killed and int(waited * 1000) > 0:
        log(f"force: waited {int(waited * 1000)}ms for port {port} to free")
    waited_from = trio.current_time()
    if not await _poll_until(bindable, waited_from + BINDABLE_DEADLINE, BINDABLE_POLL):
        ms = int((trio.current_time() - waited_from) * 1000)
        raise _could_not_free(
            port, f"port {port} still not bindable after {ms}ms (TIME_WAIT or kernel hold)"
        )
    bind_wait = int((trio.current_time() - waited_from) * 1000)
    if bind_wait > 0:
        log(f"force: waited {bind_wait}ms for port {port} to become bindable")
