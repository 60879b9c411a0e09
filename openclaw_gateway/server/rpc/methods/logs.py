"""logs.tail: the gateway's own (already redacted) JSONL file log, read by byte cursor."""

from __future__ import annotations

from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.core.logs import read_tail
from openclaw_gateway.protocol.schema import Int, obj
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check

LOGS_TAIL_SCHEMA = obj(
    cursor=Int(minimum=0),
    limit=Int(minimum=1, maximum=5000),
    maxBytes=Int(minimum=1, maximum=1_000_000),
)


@registry.method("logs.tail", scope=S.READ)
def logs_tail(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("logs.tail", LOGS_TAIL_SCHEMA, params)
    # The file being written now: a dated log rolls at midnight (core/logs.py).
    writing = ctx.state.logger.file_log
    path = writing.path if writing is not None else ctx.state.log_file
    if path is None:
        raise RpcError("UNAVAILABLE", "log read failed: file logging is disabled")
    cursor = p.get("cursor")
    try:
        return read_tail(
            path,
            int(cursor) if cursor is not None else None,
            int(p.get("limit", 500)),
            int(p.get("maxBytes", 250_000)),
        )
    except OSError as exc:
        raise RpcError("UNAVAILABLE", f"log read failed: {exc.strerror or exc}") from None
