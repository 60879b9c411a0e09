"""The frame-level rules of the connect handshake (protocol.md §1.5, §2.3).

Rules:
1. The server speaks first (connect.challenge); the first client frame must be a `req` for
   `connect` with valid params, or the socket is closed with the code this module chooses.
2. This module decides only from the frames themselves; who the peer is and which secrets are
   valid is admission.py's business.
3. Close reasons are at most 120 UTF-8 bytes, as the official server truncates them.
"""

from __future__ import annotations

from typing import Any

import attrs

from openclaw_gateway.core.errors import RemoteProtocolError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.frames import (
    CONNECT_PARAMS_SCHEMA,
    MIN_NODE_PROTOCOL_VERSION,
    MIN_PROBE_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    ConnectAuth,
    ConnectParams,
    RequestFrame,
)
from openclaw_gateway.protocol.schema import format_errors, validate

MAX_CLOSE_REASON_BYTES = 120
ROLES = ("operator", "node")


def truncate_close_reason(reason: str, limit: int = MAX_CLOSE_REASON_BYTES) -> str:
    raw = reason.encode("utf-8")
    if len(raw) <= limit:
        return reason
    return raw[:limit].decode("utf-8", errors="ignore")


@attrs.frozen
class Refusal:
    """Answer (optional error frame for `request_id`) and close the socket."""

    close_code: int
    close_reason: str
    error: dict[str, Any] | None = None
    request_id: str | None = None

    @classmethod
    def with_error(
        cls,
        request_id: str,
        code: str,
        message: str,
        *,
        close_code: int = 1008,
        close_reason: str | None = None,
        details: Any = None,
        retryable: bool | None = None,
        retry_after_ms: int | None = None,
    ) -> Refusal:
        # Key order as the official errorShape(code, message, {retryable, retryAfterMs, details}).
        error: dict[str, Any] = {"code": code, "message": message}
        if retryable is not None:
            error["retryable"] = retryable
        if retry_after_ms is not None:
            error["retryAfterMs"] = retry_after_ms
        if details is not None:
            error["details"] = details
        reason = message if close_reason is None else close_reason
        return cls(close_code, truncate_close_reason(reason), error, request_id)


@attrs.frozen
class ConnectRequest:
    frame: RequestFrame
    params: ConnectParams

    def kept_after_admission(self) -> ConnectRequest:
        """What an admitted connection keeps for its life: no bearer secrets, no device
        proof and no parsed frame; the raw params only for a node (its declared commands and
        permissions are read when it attaches). An idle socket then holds ~1.5 KB less, and
        a secret is not kept in memory longer than admission needs it."""
        params = self.params
        raw = {}
        if params.role == "node":
            raw = {k: v for k, v in params.raw.items() if k not in ("auth", "device")}
        return ConnectRequest(
            attrs.evolve(self.frame, params=None),
            attrs.evolve(params, auth=ConnectAuth(), device=None, raw=raw),
        )


def claims_worker_identity(params: Any) -> bool:
    """The official `claimsWorkerConnectionIdentity`, on raw (unvalidated) params."""
    if not isinstance(params, dict):
        return False
    if params.get("role") == "worker":
        return True
    client = params.get("client")
    if not isinstance(client, dict):
        return False
    return client.get("id") == "openclaw-worker" or client.get("mode") == "worker"


def read_connect(text: str | bytes) -> ConnectRequest | Refusal:
    """Interpret the first client message."""
    try:
        value = codec.parse_json(text)
    except RemoteProtocolError:
        # Not JSON: the official server closes quietly with 1000 and no reason.
        return Refusal(1000, "")
    if isinstance(value, dict) and claims_worker_identity(value.get("params")):
        # Checked before the frame is validated at all: any message whose params claim a
        # worker identity is closed without an answer.
        return Refusal(1008, "invalid-handshake")
    try:
        frame = codec.request_from_value(value)
    except codec.InvalidFrameError:
        return Refusal(1008, "invalid request frame")
    if frame.method != "connect":
        message = "invalid handshake: first request must be connect"
        return Refusal.with_error(frame.id, "INVALID_REQUEST", message)
    params = frame.params
    errors = validate(CONNECT_PARAMS_SCHEMA, params)
    if errors:
        message = f"invalid connect params: {format_errors(errors)}"
        return Refusal.with_error(frame.id, "INVALID_REQUEST", message)
    assert isinstance(params, dict)
    return ConnectRequest(frame, ConnectParams.from_validated(params))


def is_worker_identity(params: ConnectParams) -> bool:
    return (
        params.role == "worker"
        or params.client.id == "openclaw-worker"
        or params.client.mode == "worker"
    )


def negotiate(request: ConnectRequest) -> Refusal | None:
    """Protocol range and role checks, in the official admission order."""
    params = request.params
    rid = request.frame.id
    if is_worker_identity(params):
        # Worker identities belong to the closed worker endpoint; no answer at all.
        return Refusal(1008, "invalid-handshake")
    lo, hi = params.min_protocol, params.max_protocol
    current = lo <= PROTOCOL_VERSION <= hi
    probe = (
        params.client.mode == "probe"
        and lo <= PROTOCOL_VERSION
        and hi >= MIN_PROBE_PROTOCOL_VERSION
    )
    legacy_node = (
        params.role == "node"
        and params.client.mode == "node"
        and lo <= MIN_NODE_PROTOCOL_VERSION <= hi
    )
    if not (current or probe or legacy_node):
        details = {
            "code": "PROTOCOL_MISMATCH",
            "clientMinProtocol": lo,
            "clientMaxProtocol": hi,
            "expectedProtocol": PROTOCOL_VERSION,
            "minimumProbeProtocol": MIN_PROBE_PROTOCOL_VERSION,
        }
        return Refusal.with_error(
            rid, "INVALID_REQUEST", "protocol mismatch", close_code=1002, details=details
        )
    if params.role not in ROLES:
        return Refusal.with_error(rid, "INVALID_REQUEST", "invalid role")
    return None
