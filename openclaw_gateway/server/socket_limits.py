"""Limits on accepted sockets, applied from the moment of accept (issue 13 §4, §7).

- `ConnectionSlots`: the global cap on concurrent connections (gateway.maxConnections, default
  sized to the descriptor limit). At the cap, the oldest socket that has not authenticated and
  is only waiting (no request head yet, or a WebSocket still in its handshake) is shed to make
  room: a flood of idle sockets must never lock a real client out.
- `PreauthClaim`: the per-address pre-auth budget, taken at accept under the socket's own
  address (so the up-to-10 s request head and the TLS handshake count), moved to the attributed
  client address once the upgrade head names it (a trusted proxy's forwarded IP), released on
  hello-ok, on a plain HTTP request, or when the socket closes. A plain socket over budget may
  still ask for a probe, within OVER_BUDGET_HEAD_TIMEOUT; its upgrade gets 503.
- `accept_loop`: trio's serve_listeners pattern with our accounting: EMFILE/ENFILE (and kin)
  are logged, the oldest idle sockets are shed (a batch), and accepting resumes after a short
  back-off.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Awaitable, Callable

import trio

from openclaw_gateway.security.ratelimit import PreauthBudget

OVER_BUDGET_HEAD_TIMEOUT = 1.0
ACCEPT_BACKOFF = 0.1  # trio's serve_listeners sleeps the same after EMFILE
# Out of descriptors, this many idle sockets are shed at once: a backlog of waiting connections
# must drain in a few back-offs, not one socket per back-off.
EMFILE_SHED_BATCH = 64
ACCEPT_LOG_EVERY = 10.0  # one EMFILE log line per 10 s at most (a flood must not flood logs)
# Descriptors kept for everything that is not a client socket: the store, log files, listeners,
# subprocesses, TLS files, the event loop's own.
DESCRIPTOR_RESERVE = 64
MIN_CONNECTIONS = 16
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


def default_max_connections(soft_nofile: int) -> int:
    """The cap that keeps the process below its descriptor limit."""
    return max(MIN_CONNECTIONS, soft_nofile - DESCRIPTOR_RESERVE)


class Slot:
    """One accepted socket's place under the cap."""

    __slots__ = ("scope", "sheddable")

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope
        self.sheddable = True


class ConnectionSlots:
    """See the module docstring. Counts sockets from accept to close."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.open = 0
        self.shed = 0  # how many idle sockets were closed to make room (status/tests)
        # Idle unauthenticated sockets, oldest first (dicts keep insertion order).
        self._idle: dict[Slot, None] = {}

    def take(self, scope: trio.CancelScope) -> Slot | None:
        """A slot for a just-accepted socket, or None (close it at once)."""
        if self.open >= self.cap and not self.shed_one():
            return None
        self.open += 1
        slot = Slot(scope)
        self._idle[slot] = None
        return slot

    def shed_one(self) -> bool:
        """Close the oldest idle unauthenticated socket; False when there is none."""
        for slot in self._idle:
            del self._idle[slot]
            slot.sheddable = False
            slot.scope.cancel()
            self.shed += 1
            return True
        return False

    def busy(self, slot: Slot) -> None:
        """The socket is doing something worth keeping (a request, an authenticated session)."""
        if slot.sheddable:
            slot.sheddable = False
            self._idle.pop(slot, None)

    def give_back(self, slot: Slot) -> None:
        self.busy(slot)
        self.open -= 1


class PreauthClaim:
    """One socket's claim on the pre-auth budget (see the module docstring)."""

    __slots__ = ("_budget", "_key", "held")

    def __init__(self, budget: PreauthBudget | None, address: str) -> None:
        self._budget = budget
        self._key = address
        self.held = budget is None or budget.acquire(address)

    def move_to(self, address: str) -> bool:
        """Claim under `address` instead (the attributed client); False when over its budget."""
        if self._budget is None:
            return True
        if self.held and address == self._key:
            return True
        self.release()
        self._key = address
        self.held = self._budget.acquire(address)
        return self.held

    def release(self) -> None:
        if self.held and self._budget is not None:
            self._budget.release(self._key)
        self.held = self._budget is None


async def accept_loop(
    listener: trio.SocketListener,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    handler_nursery: trio.Nursery,
    slots: ConnectionSlots | None,
    log: Callable[[str], None],
) -> None:
    """Accept until cancelled; out of descriptors is survived, never fatal."""
    last_logged = -ACCEPT_LOG_EVERY
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                    raise
                now = trio.current_time()
                if now - last_logged >= ACCEPT_LOG_EVERY:
                    last_logged = now
                    log(
                        f"accept failed: {errno.errorcode.get(exc.errno or 0, '?')} "
                        f"({os.strerror(exc.errno or 0)}); shedding idle sockets, "
                        f"retrying in {ACCEPT_BACKOFF}s"
                    )
                if slots is not None:
                    for _ in range(EMFILE_SHED_BATCH):
                        if not slots.shed_one():
                            break
                await trio.sleep(ACCEPT_BACKOFF)
                continue
            handler_nursery.start_soon(handler, stream)
