"""Pairing records and device tokens over the store (protocol.md §4.5-§4.6). No trio: time
comes in as now_ms.

Follows the official device-pairing kernels (openclaw-state-worker-runtime-*.mjs): one pending
request per device; a compatible re-request refreshes it, an incompatible one (more scopes or
roles) *supersedes* it with a new requestId. A pending request is an immutable snapshot of
what the operator is shown, and approving a requestId grants exactly that snapshot, so a client
cannot widen an approval after it was displayed (security.md item 16). The operations
themselves are device_records.py's; this module loads a device's records, runs them and writes
what changed.

Each changing operation is one store transaction, which also drops expired pending requests.
Reads (`paired`, `pending`, `listing`) take no write lock: they skip expired requests rather
than delete them. `connect` is the device stage's one trip per signed connect: it reads the
device's records, lets the stage decide on them in memory, and commits once, or not at all
when the connect changed nothing (a paired device whose token is valid, seen within the last
minute: see device_records.SEEN_GRANULARITY_MS).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

from openclaw_gateway.security.devices import b64url
from openclaw_gateway.state.device_records import (
    PENDING_TTL_MS,
    DeviceRecords,
    Forbidden,
    Requested,
    pending_live,
)
from openclaw_gateway.state.store import Record, Store

__all__ = ["PENDING_TTL_MS", "Book", "DeviceRecords", "Forbidden", "Requested", "new_token"]

T = TypeVar("T")
# At most this many live pending requests in all. The official has no cap; without one, a
# client minting device keys could grow the table (and every listing) without bound. Over
# the cap the busiest remote address loses its oldest request first, so a flood from one
# address pushes out its own requests before anyone else's (like an early expiry: no event).
MAX_PENDING_REQUESTS = 256


def new_token() -> str:
    return b64url(secrets.token_bytes(32))


class Book:
    """Pairing and token operations over a Store; each changing method is one transaction."""

    def __init__(
        self,
        store: Store,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        mint: Callable[[], str] = new_token,
        max_pending: int = MAX_PENDING_REQUESTS,
    ) -> None:
        self.store = store
        self._new_id = new_id
        self._mint = mint
        self._max_pending = max_pending

    def _prune(self, now_ms: int) -> None:
        """Drop expired requests (pending_live, in SQL: no row is decoded)."""
        self.store.delete_pending_seen_before(now_ms - PENDING_TTL_MS)

    def _cap(self) -> None:
        """Keep at most max_pending requests (after a write that may have added one)."""
        excess = self.store.count_pending() - self._max_pending
        for _ in range(max(excess, 0)):
            self.store.delete_oldest_pending_of_busiest_ip()

    def _load(self, device_id: str, now_ms: int | None) -> DeviceRecords:
        """One device's records; with `now_ms`, its expired pending requests left out."""
        paired = self.store.get_paired(device_id)
        pending = self.store.pending_for(device_id)
        return DeviceRecords(
            device_id,
            paired,
            self.store.tokens_for(device_id) if paired else {},
            [p for p in pending if now_ms is None or pending_live(p, now_ms)],
            new_id=self._new_id,
            mint=self._mint,
        )

    def _save(self, before: DeviceRecords, after: DeviceRecords) -> None:
        """Write what `after` changed against `before` (inside a transaction)."""
        if after.paired is not None and after.paired != before.paired:
            self.store.put_paired(after.paired)
        for role, token in after.tokens.items():
            if before.tokens.get(role) != token:
                self.store.put_token(after.device_id, token)
        kept = {p["requestId"]: p for p in after.pending}
        for old in before.pending:
            if old["requestId"] not in kept:
                self.store.delete_pending(old["requestId"])
        previous = {p["requestId"]: p for p in before.pending}
        added = False
        for request_id, record in kept.items():
            if previous.get(request_id) != record:
                self.store.put_pending(record)
                added = added or request_id not in previous
        if added:
            self._cap()

    def _change(self, device_id: str, now_ms: int | None, op: Callable[[DeviceRecords], T]) -> T:
        """One transaction: load, run `op`, write what it changed. With `now_ms`, expired
        pending requests are dropped first (and the op does not see them)."""
        with self.store.transaction():
            if now_ms is not None:
                self._prune(now_ms)
            records = self._load(device_id, now_ms)
            before = records.copy()
            result = op(records)
            self._save(before, records)
            return result

    # --- the device stage's one trip per connect ---------------------------------------------

    def connect(self, device_id: str, now_ms: int, decide: Callable[[DeviceRecords], T]) -> T:
        """Run `decide` on the device's records and commit what it changed, once.

        The records are read without a write lock; a connect that changes nothing commits
        nothing. When there is something to write, the records are read again under the
        write lock, and if another writer changed them in between, `decide` runs again on
        what is there now (it must be free of side effects beyond the records)."""
        return self._read_first(device_id, now_ms, decide)

    def _read_first(
        self, device_id: str, now_ms: int | None, decide: Callable[[DeviceRecords], T]
    ) -> T:
        """`connect`'s rule for any op that is usually a read: no write lock unless it wrote."""
        with self.store.reading():
            records = self._load(device_id, now_ms)
        before = records.copy()
        result = decide(records)
        if records.same_records(before):
            return result
        with self.store.transaction():
            current = self._load(device_id, now_ms)
            if not current.same_records(before):
                before = current.copy()
                records = current
                result = decide(records)
            if now_ms is not None:
                self._prune(now_ms)
            self._save(before, records)
        return result

    # --- reads -------------------------------------------------------------------------------

    def paired(self, device_id: str) -> tuple[Record | None, dict[str, Record]]:
        with self.store.reading():
            rec = self.store.get_paired(device_id)
            return rec, (self.store.tokens_for(device_id) if rec else {})

    def pending(self, request_id: str, now_ms: int) -> Record | None:
        with self.store.reading():
            found = self.store.get_pending(request_id)
        return found if found is not None and pending_live(found, now_ms) else None

    def listing(self, now_ms: int) -> tuple[list[Record], list[tuple[Record, dict[str, Record]]]]:
        with self.store.reading():
            pending = [p for p in self.store.list_pending() if pending_live(p, now_ms)]
            paired = [(p, self.store.tokens_for(p["deviceId"])) for p in self.store.list_paired()]
        return pending, paired

    # --- pending requests --------------------------------------------------------------------

    def request(self, req: Record, now_ms: int) -> Requested:
        """Create or refresh the device's pending request (DeviceRecords.request)."""
        return self._change(req["deviceId"], now_ms, lambda r: r.request(req, now_ms))

    def approve(
        self,
        request_id: str,
        caller_scopes: list[str] | None,
        now_ms: int,
        approved_via: str = "owner",
        access: Record | None = None,
    ) -> Record | Forbidden | None:
        """Grant exactly the pending snapshot. None for an unknown requestId."""
        with self.store.transaction():
            self._prune(now_ms)
            pending = self.store.get_pending(request_id)
            if pending is None:
                return None
            # Pruned above; the nested change joins this transaction.
            return self._change(
                pending["deviceId"],
                None,
                lambda r: r.approve(request_id, caller_scopes, now_ms, approved_via, access),
            )

    def reject(self, request_id: str, now_ms: int) -> Record | None:
        with self.store.transaction():
            self._prune(now_ms)
            pending = self.store.get_pending(request_id)
            if pending is None:
                return None
            self.store.delete_pending(request_id)
            return {"requestId": request_id, "deviceId": pending["deviceId"]}

    def remove(self, device_id: str) -> Record | None:
        with self.store.transaction():
            if not self.store.delete_paired(device_id.strip()):
                return None
            self.store.delete_pending_for(device_id.strip())
            return {"deviceId": device_id.strip()}

    def touch(self, device_id: str, patch: Record) -> None:
        self._read_first(device_id, None, lambda r: r.touch(patch))

    def set_node_approval(self, device_id: str, approval: Record | None) -> bool:
        """Store (or with None, drop) a node's approved command surface on its pairing
        record. False if the device is not paired."""
        with self.store.transaction():
            rec = self.store.get_paired(device_id)
            if rec is None:
                return False
            rec.pop("nodeApproval", None)
            if approval is not None:
                rec["nodeApproval"] = approval
            self.store.put_paired(rec)
            return True

    # --- device tokens -----------------------------------------------------------------------

    def ensure_token(
        self, device_id: str, role: str, scopes: Iterable[str], now_ms: int
    ) -> Record | None:
        """DeviceRecords.ensure_token; reusing the active token is a read (no write lock)."""
        return self._read_first(device_id, now_ms, lambda r: r.ensure_token(role, scopes, now_ms))

    def verify_token(
        self, device_id: str, role: str, token: str, scopes: Iterable[str], now_ms: int
    ) -> str | None:
        """DeviceRecords.verify_token; a success also marks the device seen
        (`device-token-auth`). Within the minute of the last use it is a read (no write lock)."""

        def verify(records: DeviceRecords) -> str | None:
            why = records.verify_token(role, token, scopes, now_ms)
            if why is None:
                records.touch({"lastSeenAtMs": now_ms, "lastSeenReason": "device-token-auth"})
            return why

        return self._read_first(device_id, now_ms, verify)

    def rotate(
        self,
        device_id: str,
        role: str,
        scopes: list[str] | None,
        caller_scopes: list[str] | None,
        now_ms: int,
    ) -> Record | str:
        """The new token record, or the denial reason."""
        return self._change(
            device_id.strip(), None, lambda r: r.rotate(role.strip(), scopes, caller_scopes, now_ms)
        )

    def revoke(
        self, device_id: str, role: str, caller_scopes: list[str] | None, now_ms: int
    ) -> Record | str:
        return self._change(
            device_id.strip(), None, lambda r: r.revoke(role.strip(), caller_scopes, now_ms)
        )
