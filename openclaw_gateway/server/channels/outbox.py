"""The delivery queue: messages for channels, sent by `channel.send` on the owning bridge.

Bounded (MAX_PENDING waiting messages; one more is refused, not dropped silently) and
durable: each message is a `deliveries` row (state/store.py) committed before `enqueue`
returns, so a reply that found its bridge offline is still sent after a gateway restart.
A message waits while no bridge serves its channel (a bridge connecting wakes the queue);
a failed send is retried after BACKOFF_MS[attempt] up to MAX_ATTEMPTS, then recorded as
`failed` with the last error. Finished rows are kept for the record (newest FINISHED_KEPT).
The invoke carries the delivery id as its idempotency key, so a bridge can drop repeats.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.channels.bridges import Bridges
from openclaw_gateway.server.channels.contract import SEND_COMMAND, Outgoing
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.state.store import DatabaseError, Store

MAX_PENDING = 1000
FINISHED_KEPT = 1000
MAX_ATTEMPTS = 8
BACKOFF_MS = (2_000, 10_000, 30_000, 120_000, 300_000, 600_000)
SEND_TIMEOUT_MS = 30_000
Record = dict[str, Any]


class Outbox:
    def __init__(
        self,
        state: GatewayState,
        store: Store,
        bridges: Bridges,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.state = state
        self.store = store
        self.bridges = bridges
        self._new_id = new_id
        self._wake = trio.Event()
        self._finished: dict[str, trio.Event] = {}
        # Retry times in trio's clock (the stored next_at is wall time, for after a restart).
        self._not_before: dict[str, float] = {}

    def enqueue(self, out: Outgoing) -> str:
        """Store one message (committed on return) and wake the sender; UNAVAILABLE when
        MAX_PENDING messages already wait."""
        now = self.state.now_ms()
        delivery_id = self._new_id()
        record = {**out.record(), "attempts": 0, "createdAt": now}
        with self.store.transaction():
            if self.store.delivery_count("pending") >= MAX_PENDING:
                raise RpcError(
                    "UNAVAILABLE",
                    f"the channel delivery queue is full ({MAX_PENDING} messages wait)",
                    retryable=True,
                )
            self.store.delivery_put(delivery_id, out.channel, "pending", now, now, record)
        self.wake()
        return delivery_id

    def wake(self) -> None:
        self._wake.set()

    def lookup(self, delivery_id: str) -> tuple[str, Record] | None:
        return self.store.delivery_get(delivery_id)

    async def wait(self, delivery_id: str, timeout_s: float) -> tuple[str, Record] | None:
        """The delivery's (status, record) once it is delivered or failed, or as it stands
        after `timeout_s`."""
        found = self.lookup(delivery_id)
        if found is not None and found[0] == "pending":
            event = self._finished.setdefault(delivery_id, trio.Event())
            with trio.move_on_after(timeout_s):
                await event.wait()
            found = self.lookup(delivery_id)
        return found

    def pending_count(self) -> int:
        return self.store.delivery_count("pending")

    async def send_forever(self) -> None:
        """The sender (a task of run_channels): a pass over what is due, then sleep until
        the next retry or a wake (enqueue, a bridge connected or approved)."""
        while True:
            self._wake = trio.Event()
            wait_s = await self._pass()
            with trio.move_on_after(wait_s):
                await self._wake.wait()

    async def _pass(self) -> float:
        """Send what is due and has a bridge; returns how long until the next retry."""
        next_wait = math.inf
        now = trio.current_time()
        for delivery_id, next_at, record in self.store.deliveries("pending", MAX_PENDING):
            due = self._not_before.get(delivery_id)
            if due is None:
                due = now + max(0, next_at - self.state.now_ms()) / 1000
            if due > now:
                next_wait = min(next_wait, due - now)
                continue
            out = Outgoing.from_record(record)
            node = self.bridges.owner(out.channel, self.state.nodes.sessions.values())
            if node is None:
                continue  # waits for a bridge: attach_bridge() wakes the queue
            await self._attempt(delivery_id, record, out, node)
            if delivery_id in self._not_before:
                next_wait = min(next_wait, self._not_before[delivery_id] - trio.current_time())
        return max(0.0, next_wait)

    async def _attempt(self, delivery_id: str, record: Record, out: Outgoing, node: Any) -> None:
        error: str | None = None
        try:
            await self.state.nodes.invoke(
                node,
                SEND_COMMAND,
                json.dumps(out.send_params(), ensure_ascii=False),
                SEND_TIMEOUT_MS,
                delivery_id,
            )
        except RpcError as exc:
            error = exc.message
        now = self.state.now_ms()
        attempts = int(record.get("attempts", 0)) + 1
        record = {**record, "attempts": attempts, "lastAttemptAt": now}
        if error is None:
            status, next_at = "delivered", now
            record["deliveredAt"] = now
            record.pop("lastError", None)
            self.bridges.touch(out.channel, out.account_id, outbound_at=now, last_error=None)
        else:
            record["lastError"] = error
            self.bridges.touch(out.channel, out.account_id, last_error=error)
            status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            delay = BACKOFF_MS[min(attempts - 1, len(BACKOFF_MS) - 1)]
            next_at = now + delay
            self.state.logger.warn(
                "channels",
                f"delivery {delivery_id} to {out.channel} failed (attempt {attempts}): {error}"
                + ("; giving up" if status == "failed" else f"; retry in {delay // 1000}s"),
            )
        try:
            with self.store.transaction():
                self.store.delivery_put(delivery_id, out.channel, status, next_at, now, record)
                if status != "pending":
                    self.store.delivery_prune_finished(FINISHED_KEPT)
        except DatabaseError as exc:
            self.state.logger.error("channels", f"delivery {delivery_id} not recorded: {exc}")
        if status == "pending":
            self._not_before[delivery_id] = trio.current_time() + delay / 1000
            return
        self._not_before.pop(delivery_id, None)
        event = self._finished.pop(delivery_id, None)
        if event is not None:
            event.set()
