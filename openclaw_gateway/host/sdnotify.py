"""systemd's readiness protocol (sd_notify), by hand: one datagram to $NOTIFY_SOCKET.

The unit we install is `Type=notify` + `NotifyAccess=main`, so systemd considers the gateway
started only when it sends `READY=1` (after the listener is up), and `systemctl start` blocks
until then. `STOPPING=1` marks the beginning of shutdown. With `WatchdogSec=` set, systemd
passes WATCHDOG_USEC (and WATCHDOG_PID) and kills + restarts us when `WATCHDOG=1` pings stop
for that long; we ping every WATCHDOG_USEC/2 from a task on the event loop, so a wedged loop
(or a SIGSTOPped process) really stops pinging.

No library: the protocol is a single AF_UNIX datagram; a leading `@` names an abstract socket.
Without NOTIFY_SOCKET (a foreground run) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import attrs
import trio

SEND_TIMEOUT = 1.0  # a datagram to a local socket never takes this long unless systemd is gone


def _address(raw: str) -> str | None:
    if raw.startswith("@"):
        return "\0" + raw[1:]
    return raw if raw.startswith("/") else None


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send `message` to $NOTIFY_SOCKET. False when there is no socket or the send failed."""
    source = os.environ if env is None else env
    address = _address(source.get("NOTIFY_SOCKET") or "")
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(SEND_TIMEOUT)
        try:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        except OSError:
            return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (WATCHDOG_USEC/2), or None when not asked to ping.

    WATCHDOG_PID, when set, names the process the watchdog is meant for: a child that
    inherited the environment must not ping on the parent's behalf.
    """
    source = os.environ if env is None else env
    raw = (source.get("WATCHDOG_USEC") or "").strip()
    if not raw.isdigit() or int(raw) <= 0:
        return None
    owner = (source.get("WATCHDOG_PID") or "").strip()
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return int(raw) / 1_000_000 / 2


@attrs.define
class Notifier:
    """What the supervisor tells systemd; every method is a no-op outside a notify service."""

    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ))

    @property
    def active(self) -> bool:
        return bool(self.env.get("NOTIFY_SOCKET"))

    def ready(self, status: str) -> bool:
        return notify(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}", self.env)

    def stopping(self, status: str = "shutting down") -> bool:
        return notify(f"STOPPING=1\nSTATUS={status}", self.env)


async def run_notifier(
    env: Mapping[str, str] | None = None,
    *,
    task_status: trio.TaskStatus[Notifier] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A service of the supervisor: hands out the Notifier, then pings the watchdog forever."""
    notifier = Notifier(dict(os.environ) if env is None else env)
    interval = watchdog_interval(notifier.env)
    task_status.started(notifier)
    if interval is None:
        await trio.sleep_forever()
    while True:
        notify("WATCHDOG=1", notifier.env)
        await trio.sleep(interval)
