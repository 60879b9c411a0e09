"""sessions.resolve: find one session by key, sessionId, label, short id or reference
(official server-methods/sessions-read.ts + sessions-resolve.ts; `openclaw tui <target>`
and `openclaw resume` call it). Not advertised in hello-ok, as in the official.

Answers `{ok:true, key, agentId, displayName?}`; several matches of a short id or reference
slug answer `{ok:false, candidates}` (at most 10); nothing found is INVALID_REQUEST
`No session found: …`, or `{ok:false}` with `allowMissing`. Nothing here is spawned, so a
`spawnedBy` filter finds nothing.
"""

from __future__ import annotations

import re
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import NON_EMPTY, Bool, Str, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.runs.service import Conversations
from openclaw_gateway.state import session_keys as K

Record = dict[str, Any]
MAX_LABEL_CHARS = 512
MAX_CANDIDATES = 10
SLUG_MAX_CHARS = 48
_UUID_SUFFIX = re.compile(
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.IGNORECASE
)
_SHORT_ID = re.compile(r"^[0-9a-f]{8,32}$", re.IGNORECASE)
_SLUG_RUNS = re.compile(r"[^a-z0-9]+")
_SLUG_HEAD = re.compile(r"^.*[g-z][a-z0-9]*")

RESOLVE = obj(
    key=NON_EMPTY,
    sessionId=NON_EMPTY,
    label=Str(max_length=MAX_LABEL_CHARS),
    reference=obj(key=req(NON_EMPTY), slug=NON_EMPTY),
    shortId=NON_EMPTY,
    slugHint=NON_EMPTY,
    agentId=NON_EMPTY,
    spawnedBy=NON_EMPTY,
    includeGlobal=Bool(),
    includeUnknown=Bool(),
    allowMissing=Bool(),
)
SELECTORS = ("key", "sessionId", "label", "shortId", "reference")


def session_slug(display_name: str | None) -> str:
    """The Control UI's URL slug of a session title (official controlUiSessionSlug)."""
    folded = _SLUG_RUNS.sub("-", (display_name or "").lower()).strip("-")
    head = _SLUG_HEAD.match(folded)
    return (head.group(0) if head else "")[:SLUG_MAX_CHARS].rstrip("-")


class _NotFound(Exception):
    pass


def _candidate(conv: Conversations, rec: Record) -> Record:
    out: Record = {"key": rec["key"], "agentId": rec["agentId"]}
    name = conv.row(rec).get("displayName")
    if isinstance(name, str):
        out["displayName"] = name
    return out


def _uuid_suffix(rec: Record) -> str | None:
    found = _UUID_SUFFIX.search(K.parse(rec["key"]).rest)
    return found.group(1).lower().replace("-", "") if found else None


def _one_of(matches: list[Record], what: str) -> Record:
    if len(matches) > 1:
        keys = ", ".join(r["key"] for r in matches)
        raise RpcError("INVALID_REQUEST", f"Multiple sessions found {what} ({keys})")
    if not matches:
        raise _NotFound
    return {"ok": True, "key": matches[0]["key"], "agentId": matches[0]["agentId"]}


def _pick(conv: Conversations, matches: list[Record]) -> Record:
    if not matches:
        raise _NotFound
    if len(matches) > 1:
        return {"ok": False, "candidates": [_candidate(conv, r) for r in matches[:MAX_CANDIDATES]]}
    return {"ok": True, **_candidate(conv, matches[0])}


def _resolve(conv: Conversations, p: Record, rows: list[Record]) -> Record:
    if "key" in p:
        key = conv.key(p["key"], p.get("agentId"))
        rec = conv.book.get(str(key))
        if rec is None:
            raise _NotFound
        return {"ok": True, "key": rec["key"], "agentId": rec["agentId"]}
    if "sessionId" in p:
        sid = p["sessionId"].strip()
        hits = [r for r in rows if r["sessionId"] == sid or r["key"] == sid]
        return _one_of(hits, f"for sessionId: {sid}")
    if "label" in p:
        label = p["label"].strip()
        if not label:
            raise RpcError("INVALID_REQUEST", "invalid label: empty")
        return _one_of([r for r in rows if r.get("label") == label], f"with label: {label}")
    if "shortId" in p:
        short = p["shortId"].strip()
        if not _SHORT_ID.match(short):
            raise RpcError("INVALID_REQUEST", "shortId must be 8-32 hexadecimal characters")
        hits = [r for r in rows if (_uuid_suffix(r) or "").startswith(short.lower())]
        hint = p.get("slugHint")
        narrowed = [r for r in hits if session_slug(_candidate(conv, r).get("displayName")) == hint]
        return _pick(conv, narrowed or hits)
    ref = p["reference"]
    try:
        exact = conv.book.get(str(conv.key(ref["key"], p.get("agentId"))))
    except RpcError:
        exact = None
    if exact is not None and exact in rows:
        return {"ok": True, **_candidate(conv, exact)}
    slug = ref.get("slug")
    hits = [
        r
        for r in rows
        if slug and _uuid_suffix(r) and session_slug(_candidate(conv, r).get("displayName")) == slug
    ]
    return _pick(conv, hits)


@registry.method("sessions.resolve", scope=S.READ, advertised=False)
def sessions_resolve(ctx: CallContext, params: Any) -> Record:
    p = check("sessions.resolve", RESOLVE, params)
    if "slugHint" in p and "shortId" not in p:
        raise RpcError("INVALID_REQUEST", "slugHint requires shortId")
    chosen = [name for name in SELECTORS if name in p]
    if len(chosen) > 1:
        raise RpcError(
            "INVALID_REQUEST",
            "Provide either key, sessionId, label, shortId, or reference (not multiple)",
        )
    if not chosen:
        raise RpcError(
            "INVALID_REQUEST", "Either key, sessionId, label, shortId, or reference is required"
        )
    conv = ctx.state.require_conversations()
    agent = conv.key("main", p["agentId"]).agent_id if "agentId" in p else None
    rows = [] if "spawnedBy" in p else conv.book.listing(agent)
    try:
        if "spawnedBy" in p:
            raise _NotFound
        return _resolve(conv, p, rows)
    except _NotFound:
        if p.get("allowMissing"):
            return {"ok": False}
        target = p["reference"]["key"] if chosen[0] == "reference" else p[chosen[0]]
        what = f"with label: {target.strip()}" if chosen[0] == "label" else f": {target.strip()}"
        raise RpcError("INVALID_REQUEST", f"No session found{what}") from None
