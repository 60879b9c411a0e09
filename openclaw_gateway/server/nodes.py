"""Connected nodes and their in-flight invokes (protocol.md §6.8). The trio half; the rules
live in security/node_rules.py (pure).

A node's id is its device id. Its declared caps/commands/permissions are claims; `approval`
(from the pairing record, `nodeApproval`) decides what is effective. A declared surface that
the approval does not cover becomes a pending capability request held here (in memory) until
node.pair.approve/reject. node.invoke sends the node a `node.invoke.request` event (no seq)
and waits for its node.invoke.result; a disconnect fails the node's pending invokes at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol import codec
from openclaw_gateway.security import node_rules as R
from openclaw_gateway.security.ratelimit import ControlPlaneWriteLimiter

Record = dict[str, Any]


@attrs.define(eq=False)
class NodeSession:
    node_id: str
    conn_id: str
    send: Callable[[str], bool]
    client_id: str
    client_mode: str
    display_name: str | None
    platform: str | None
    version: str | None
    device_family: str | None
    model_identifier: str | None
    remote_ip: str | None
    caps: list[str]
    commands: list[str]
    permissions: dict[str, Any] | None
    path_env: str | None
    connected_at_ms: int
    approval: Record | None = None  # the persisted nodeApproval, None before the first
    last_seen_at_ms: int | None = None
    last_seen_reason: str | None = None

    @property
    def effective_commands(self) -> list[str]:
        return R.effective(
            self.commands, None if self.approval is None else self.approval.get("commands", [])
        )

    @property
    def effective_caps(self) -> list[str]:
        return R.effective(
            self.caps, None if self.approval is None else self.approval.get("caps", [])
        )

    def covered(self) -> bool:
        a = self.approval
        return (
            a is not None
            and R.covered(self.commands, a.get("commands", []))
            and R.covered(self.caps, a.get("caps", []))
        )

    def event(self, name: str, payload: Any) -> bool:
        return self.send(codec.event(name, payload))


@attrs.define(eq=False)
class PendingInvoke:
    id: str
    node_id: str
    conn_id: str
    command: str
    done: trio.Event = attrs.field(factory=trio.Event)
    result: Record | None = None
    # Streamed node.invoke.progress chunks, delivered in seq order (from 0) to on_progress.
    on_progress: Callable[[str], None] | None = None
    next_progress_seq: int = 0
    early_chunks: dict[int, str] = attrs.field(factory=dict)


MAX_PENDING_PROGRESS_CHUNKS = 128


@attrs.define(eq=False)
class _Outcome:
    """One idempotency key's first outcome (awaited by concurrent retries)."""

    done: trio.Event = attrs.field(factory=trio.Event)
    value: Record | None = None
    error: RpcError | None = None


def not_connected() -> RpcError:
    return RpcError(
        "UNAVAILABLE",
        "node not connected",
        details={
            "code": "NOT_CONNECTED",
            "nodeError": {"code": "NOT_CONNECTED", "message": "node not connected"},
            "nodeCommandDispatched": False,
        },
    )


def node_failure(error: Any, dispatched: bool) -> RpcError:
    err = error if isinstance(error, dict) else None
    code = str((err or {}).get("code") or "").strip()
    message = str((err or {}).get("message") or "").strip() or "node invoke failed"
    return RpcError(
        "UNAVAILABLE",
        f"{code}: {message}" if code else message,
        details={"nodeError": err, "nodeCommandDispatched": dispatched},
    )


def parse_payload(text: str) -> Any:
    """A node's payloadJSON, decoded by the frame rules (lone surrogates -> U+FFFD)."""
    try:
        return codec.parse_json(text)
    except codec.NotJsonError:
        return text


class NodeRegistry:
    def __init__(self, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self._new_id = new_id
        self.sessions: dict[str, NodeSession] = {}
        # Capability requests by requestId.
        self.requests: dict[str, Record] = {}
        self.invokes: dict[str, PendingInvoke] = {}
        self.idempotency = R.IdempotencyCache()
        # channel.* relays per node (fixed window, node_rules limits).
        self.event_budget = ControlPlaneWriteLimiter(R.NODE_EVENT_LIMIT, R.NODE_EVENT_WINDOW_MS)
        # Last disconnect time of nodes seen in this process.
        self.disconnected_at: dict[str, int] = {}
        # Told (session, connected) after each attach and detach (server/channels).
        self.watchers: list[Callable[[NodeSession, bool], None]] = []

    # --- sessions ----------------------------------------------------------------------------

    def attach(self, session: NodeSession, now_ms: int) -> Record | None:
        """Register a connected node. Returns a new capability request when its declared
        surface is not covered by its approval (the caller broadcasts node.pair.requested)."""
        old = self.sessions.get(session.node_id)
        if old is not None and old.conn_id != session.conn_id:
            self._fail_invokes(old.conn_id)
        self.sessions[session.node_id] = session
        session.last_seen_at_ms = now_ms
        session.last_seen_reason = "connect"
        self.changed(session, True)
        if session.covered():
            self._drop_requests(session.node_id)
            return None
        existing = self.pending_for(session.node_id)
        if (
            existing is not None
            and existing["commands"] == session.commands
            and existing["caps"] == session.caps
        ):
            return None
        self._drop_requests(session.node_id)
        req: Record = {
            "requestId": self._new_id(),
            "nodeId": session.node_id,
            "displayName": session.display_name,
            "platform": session.platform,
            "version": session.version,
            "deviceFamily": session.device_family,
            "modelIdentifier": session.model_identifier,
            "caps": list(session.caps),
            "commands": list(session.commands),
            "permissions": session.permissions,
            "remoteIp": session.remote_ip,
            "isRepair": session.approval is not None,
            "ts": now_ms,
        }
        req = {k: v for k, v in req.items() if v is not None}
        self.requests[req["requestId"]] = req
        return req

    def changed(self, session: NodeSession, connected: bool) -> None:
        """Tell the watchers: a node attached, was approved (connected) or detached."""
        for watcher in list(self.watchers):
            watcher(session, connected)

    def detach(self, conn_id: str, now_ms: int) -> None:
        for node_id, s in list(self.sessions.items()):
            if s.conn_id == conn_id:
                del self.sessions[node_id]
                self.disconnected_at[node_id] = now_ms
                self.changed(s, False)
        self._fail_invokes(conn_id)

    def _fail_invokes(self, conn_id: str) -> None:
        for inv in list(self.invokes.values()):
            if inv.conn_id == conn_id and not inv.done.is_set():
                inv.result = {
                    "ok": False,
                    "error": {"code": "NOT_CONNECTED", "message": "node disconnected"},
                }
                inv.done.set()

    def pending_for(self, node_id: str) -> Record | None:
        for req in self.requests.values():
            if req["nodeId"] == node_id:
                return req
        return None

    def _drop_requests(self, node_id: str) -> None:
        for rid in [r for r, req in self.requests.items() if req["nodeId"] == node_id]:
            del self.requests[rid]

    def forget(self, node_id: str) -> None:
        self._drop_requests(node_id)
        self.disconnected_at.pop(node_id, None)

    # --- invoke ------------------------------------------------------------------------------

    async def invoke_once(self, key: str, now_ms: int, run: Callable[[], Any]) -> Record:
        """Run `run()` (an awaitable factory) once per idempotency key; retries get the first
        outcome, success or failure, even while it is still running. Refusals before anything
        reached the node (offline, command not allowed) are not remembered: a retry after
        the node reconnects or its commands are approved runs again."""
        seen = self.idempotency.get(key, now_ms)
        if isinstance(seen, _Outcome):
            await seen.done.wait()
            if seen.error is not None:
                raise seen.error
            assert seen.value is not None
            return seen.value
        outcome = _Outcome()
        self.idempotency.put(key, outcome, now_ms)
        try:
            outcome.value = await run()
            return outcome.value
        except RpcError as exc:
            outcome.error = exc
            details = exc.details if isinstance(exc.details, dict) else {}
            if exc.code == "INVALID_REQUEST" or details.get("nodeCommandDispatched") is False:
                self.idempotency.discard(key)
            raise
        except BaseException:
            outcome.error = RpcError("UNAVAILABLE", "node invoke interrupted")
            self.idempotency.discard(key)
            raise
        finally:
            outcome.done.set()

    async def invoke(
        self,
        session: NodeSession,
        command: str,
        params_json: str | None,
        timeout_ms: int,
        idempotency_key: str,
        session_key: str | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> Record:
        """Send the request to the node and wait for its result; returns the node's result
        record ({ok, payload?, payloadJSON?, error?}) or raises the operator-facing error.
        Cancelled while the node works (chat.abort, shutdown), it tells the node with
        `node.invoke.cancel` {invokeId, nodeId}, as the official does."""
        inv = PendingInvoke(
            self._new_id(), session.node_id, session.conn_id, command, on_progress=on_progress
        )
        payload: Record = {
            "id": inv.id,
            "nodeId": session.node_id,
            "command": command,
            "paramsJSON": params_json,
            "timeoutMs": timeout_ms,
            "idempotencyKey": idempotency_key,
        }
        if session_key is not None:
            payload["sessionKey"] = session_key
        self.invokes[inv.id] = inv
        try:
            if not session.event("node.invoke.request", payload):
                raise not_connected()
            try:
                with trio.move_on_after(timeout_ms / 1000):
                    await inv.done.wait()
            except trio.Cancelled:
                self._send_cancel(session, inv)
                raise
            if inv.result is None:
                self._send_cancel(session, inv)
                raise node_failure({"code": "TIMEOUT", "message": "node invoke timed out"}, True)
            if not inv.result.get("ok"):
                raise node_failure(inv.result.get("error"), True)
            return inv.result
        finally:
            self.invokes.pop(inv.id, None)

    def _send_cancel(self, session: NodeSession, inv: PendingInvoke) -> None:
        if not inv.done.is_set() and self.sessions.get(inv.node_id) is session:
            session.event("node.invoke.cancel", {"invokeId": inv.id, "nodeId": inv.node_id})

    def progress(self, invoke_id: str, node_id: str, seq: int, chunk: str) -> bool:
        """A node's node.invoke.progress. Chunks reach the invoke's listener in seq order;
        early ones wait (at most MAX_PENDING_PROGRESS_CHUNKS). False when ignored."""
        inv = self.invokes.get(invoke_id)
        if inv is None or inv.node_id != node_id or inv.done.is_set():
            return False
        if seq < inv.next_progress_seq or seq in inv.early_chunks:
            return False
        if inv.on_progress is None:
            return False
        if seq > inv.next_progress_seq and len(inv.early_chunks) >= MAX_PENDING_PROGRESS_CHUNKS:
            return False
        inv.early_chunks[seq] = chunk
        while inv.next_progress_seq in inv.early_chunks:
            ready = inv.early_chunks.pop(inv.next_progress_seq)
            inv.next_progress_seq += 1
            inv.on_progress(ready)
        return True

    def resolve(self, invoke_id: str, node_id: str, result: Record) -> bool:
        """A node's node.invoke.result. False for late or unknown ids (ignored)."""
        inv = self.invokes.get(invoke_id)
        if inv is None or inv.node_id != node_id or inv.done.is_set():
            return False
        inv.result = result
        inv.done.set()
        return True
