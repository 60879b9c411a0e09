"""health, status, system-presence, system-event, last-heartbeat, set-heartbeats, wake.

Subsystems this gateway does not have (channels, plugins, tasks) are reported as present and
empty, so official clients parse the answers; nothing is invented. Sessions and agents are
counted from the session book (server/runs).
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol import codec
from openclaw_gateway.protocol.schema import NON_EMPTY, AnyValue, Arr, Bool, Num, Str, obj, req
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import HEALTH_CACHE_MS, CallContext, GatewayState
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.server.rpc.registry import EXEMPT
from openclaw_gateway.server.runs.service import session_defaults, session_summary
from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.presence import PresenceTable, parse_node_presence_text

# `status` is polled (dashboards, monitors): the resident size is read from /proc at most
# once per RSS_SAMPLE_S, not opened and parsed on the loop for every call.
RSS_SAMPLE_S = 1.0
_rss_sample: list[Any] = [-RSS_SAMPLE_S, None]  # [monotonic time read, bytes]


def _rss_bytes() -> int | None:
    now = time.monotonic()
    if now - _rss_sample[0] < RSS_SAMPLE_S:
        rss: int | None = _rss_sample[1]
        return rss
    try:
        with open("/proc/self/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = None
    _rss_sample[:] = [now, rss]
    return rss


def collect_health(state: GatewayState) -> dict[str, Any]:
    started = time.perf_counter()
    snapshot: dict[str, Any] = {
        "ok": True,
        "ts": state.now_ms(),
        "durationMs": 0,
        "plugins": {"loaded": [], "errors": [], "unavailable": []},
        "channels": {},
        "channelOrder": [],
        "channelLabels": {},
        "heartbeatSeconds": heartbeat_seconds(state),
        "defaultAgentId": session_defaults(state)["defaultAgentId"],
    }
    reload_status = state.reload_status()
    if reload_status in ("active", "disabled"):  # the official schema's two values
        snapshot["configReload"] = {"hotReloadStatus": reload_status}
    snapshot["sessions"], snapshot["agents"] = session_summary(state, admin=False)
    snapshot["eventLoop"] = state.loop.snapshot()
    if state.tailscale is not None:
        snapshot["tailscale"] = dict(state.tailscale)
    snapshot["durationMs"] = int((time.perf_counter() - started) * 1000)
    return snapshot


def heartbeat_seconds(state: GatewayState) -> int:
    main = state.main_session
    return main.settings.every_ms // 1000 if main is not None and main.enabled else 0


def heartbeat_summary(state: GatewayState) -> dict[str, Any]:
    """status.heartbeat: the default agent's cadence (the only one that beats here)."""
    agent_id = session_defaults(state)["defaultAgentId"]
    main = state.main_session
    every_ms = main.settings.every_ms if main is not None else 0
    enabled = main is not None and main.enabled and every_ms > 0
    entry = {"agentId": agent_id, "enabled": enabled, "every": f"{every_ms // 60000}m"}
    return {"defaultAgentId": agent_id, "agents": [{**entry, "everyMs": every_ms}]}


def refresh_health(state: GatewayState) -> dict[str, Any]:
    """Collect a fresh snapshot, commit it (health version + 1) and broadcast it."""
    snapshot = collect_health(state)
    state.health_cache = snapshot
    state.health_cached_at_ms = snapshot["ts"]
    state.health_version += 1
    state.broadcast("health", snapshot, state_version=state.state_version())
    return snapshot


def _cache_fresh(state: GatewayState, now_ms: int) -> bool:
    at = state.health_cached_at_ms
    return at is not None and 0 <= now_ms - at < HEALTH_CACHE_MS


@registry.method("health", scope=EXEMPT)
def health(ctx: CallContext, params: Any) -> dict[str, Any] | codec.Encoded:
    state = ctx.state
    probe = isinstance(params, dict) and params.get("probe") is True
    if probe or not _cache_fresh(state, state.now_ms()):
        snapshot = refresh_health(state)
    else:
        snapshot = state.health_cache
    live: dict[str, Any] = {}
    if state.tailscale is not None:  # a route claim that died shows at once, not after the cache
        live["tailscale"] = dict(state.tailscale)
    # Between a health refresh and the next loop sample the reply is the same bytes: encode
    # it once (health is what monitors poll). Tailscale's live row is never cached.
    cached = state.health_reply
    if (
        not live
        and cached is not None
        and cached[0] is snapshot
        and cached[1] == state.loop.version
    ):
        reply: codec.Encoded = cached[2]
        return reply
    payload = {
        **snapshot,
        "modelRuntime": {"degraded": False, "pendingAgents": []},
        "eventLoop": state.loop.snapshot(),
        **live,
    }
    if live:
        return payload
    encoded = codec.Encoded(codec.encode(payload))
    state.health_reply = (snapshot, state.loop.version, encoded)
    return encoded


def _status_sessions(state: GatewayState, *, admin: bool) -> dict[str, Any]:
    summary, agents = session_summary(state, admin=admin)
    defaults = state.conversations.defaults() if state.conversations is not None else {}
    return {
        "paths": [summary["path"]] if summary["path"] else [],
        "count": summary["count"],
        "defaults": {"model": defaults.get("model"), "contextTokens": None},
        "recent": summary["recent"],
        "byAgent": [{"agentId": a["agentId"], **a["sessions"]} for a in agents],
    }


@registry.method("status", scope=S.READ)
def status(ctx: CallContext, params: Any) -> dict[str, Any]:
    state = ctx.state
    main = state.main_session
    statuses = ("queued", "running", "succeeded", "failed", "timed_out", "cancelled", "lost")
    memory: dict[str, Any] = {}
    rss = _rss_bytes()
    if rss is not None:
        memory["rssBytes"] = rss
    result: dict[str, Any] = {
        "runtimeVersion": state.version,
        "heartbeat": heartbeat_summary(state),
        "channelSummary": [],
        "queuedSystemEvents": main.queued_texts() if main is not None else [],
        "degradedSecretOwners": [],
        "degradedPlugins": [],
        "tasks": {
            "total": 0,
            "active": 0,
            "terminal": 0,
            "failures": 0,
            "byStatus": dict.fromkeys(statuses, 0),
            "byRuntime": {"subagent": 0, "acp": 0, "cli": 0, "cron": 0},
        },
        "taskAudit": {"total": 0, "warnings": 0, "errors": 0, "byCode": {}},
        "sessions": _status_sessions(state, admin=ctx.is_admin),
        "modelRuntime": {"degraded": False, "pendingAgents": []},
        "eventLoop": state.loop.snapshot(),
        "processMemory": memory,
        "pid": os.getpid(),
        "uptimeMs": state.uptime_ms(),
    }
    if state.tailscale is not None:
        result["tailscale"] = dict(state.tailscale)
    if ctx.is_admin:
        result["configPath"] = str(state.config_path)
        result["stateDir"] = str(state.state_dir)
    return result


def presence_for(ctx: CallContext) -> list[dict[str, Any]]:
    if ctx.caller.role != "operator" or not S.scope_satisfied(S.READ, ctx.caller.scopes):
        return []
    return ctx.state.presence.entries(ctx.state.now_ms())


class _PresenceText:
    """The encoded rows after the self row, per table version (system-presence is polled)."""

    def __init__(self) -> None:
        self.version = -1
        self.rest = ""
        self.me_head = ""  # the self row encoded without its `ts` (only `ts` ever changes)


_presence_text: weakref.WeakKeyDictionary[PresenceTable, _PresenceText] = (
    weakref.WeakKeyDictionary()
)


@registry.method("system-presence", scope=S.READ)
def system_presence(ctx: CallContext, params: Any) -> list[dict[str, Any]] | codec.Encoded:
    if ctx.caller.role != "operator" or not S.scope_satisfied(S.READ, ctx.caller.scopes):
        return []
    table = ctx.state.presence
    version, me, others = table.by_recency(ctx.state.now_ms())
    cached = _presence_text.setdefault(table, _PresenceText())
    if cached.version != version:
        cached.rest = "".join("," + codec.encode(row) for row in others)
        cached.version = version
    if not cached.me_head:
        cached.me_head = codec.encode({k: v for k, v in me.items() if k != "ts"})[:-1]
    return codec.Encoded(f'[{cached.me_head},"ts":{me["ts"]}}}{cached.rest}]')


SYSTEM_EVENT_SCHEMA = obj(
    text=req(Str()),
    idempotencyKey=NON_EMPTY,
    sessionKey=Str(),
    wake=Bool(),
    deviceId=Str(),
    instanceId=Str(),
    host=Str(),
    ip=Str(),
    mode=Str(),
    version=Str(),
    platform=Str(),
    deviceFamily=Str(),
    modelIdentifier=Str(),
    lastInputSeconds=Num(),
    reason=Str(),
    roles=Arr(Str()),
    scopes=Arr(Str()),
    tags=Arr(Str()),
)
_PRESENCE_FIELDS = (
    "deviceId",
    "instanceId",
    "host",
    "ip",
    "mode",
    "version",
    "platform",
    "deviceFamily",
    "modelIdentifier",
    "reason",
    "roles",
    "scopes",
    "tags",
    "lastInputSeconds",
)


def broadcast_presence(state: GatewayState) -> None:
    now = state.now_ms()
    state.presence.prune(now)  # this broadcast announces any expiry too
    entries = state.presence.entries(now)
    state.broadcast("presence", {"presence": entries}, state_version=state.state_version())


@registry.method("system-event", scope=S.ADMIN)
def system_event(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("system-event", SYSTEM_EVENT_SCHEMA, params)
    text = p["text"].strip()
    if not text:
        raise RpcError("INVALID_REQUEST", "text required")
    node_line = text.startswith("Node:")
    wake = p.get("wake") is True
    if wake and node_line:
        raise RpcError("INVALID_REQUEST", "wake is not supported for node presence events")
    session_key = (p.get("sessionKey") or "").strip()
    main = ctx.state.require_main_session()
    if session_key:
        # A bad key is refused before anything changes (presence included).
        conv = ctx.state.require_conversations()
        target = conv.key(session_key)
        if wake and conv.book.get(str(target)) is None:
            raise RpcError("INVALID_REQUEST", f'Unknown or archived session "{session_key}"')
    state = ctx.state
    parsed: dict[str, Any] = dict(parse_node_presence_text(text) or {})
    fields = dict(parsed)
    for name in _PRESENCE_FIELDS:
        if name in p:
            fields[name] = p[name]
    fields["text"] = text
    # As the official updateSystemPresence: explicit ids first, then what the text says.
    key = (
        (p.get("deviceId") or "").strip()
        or (p.get("instanceId") or "").strip()
        or parsed.get("host")
        or parsed.get("ip")
        or text[:64]
    )
    state.presence.upsert(str(key), fields, state.now_ms())
    # The table changed in memory: every listener hears it now, not after the transcript
    # line's commit below (a disk write the presence event does not depend on).
    broadcast_presence(state)
    if not node_line:
        main.system_event(
            text,
            session_key=session_key or None,
            wake_mode="now" if wake else "next-heartbeat",
            source="system-event",
        )
    return {"ok": True}


@registry.method("last-heartbeat", scope=S.READ)
def last_heartbeat(ctx: CallContext, params: Any) -> dict[str, Any] | None:
    return ctx.state.last_heartbeat


@registry.method("set-heartbeats", scope=S.ADMIN)
def set_heartbeats(ctx: CallContext, params: Any) -> dict[str, Any]:
    """Turns the scheduled heartbeat cadence on or off (wakes still run turns)."""
    enabled = params.get("enabled") if isinstance(params, dict) else None
    if not isinstance(enabled, bool):
        raise RpcError(
            "INVALID_REQUEST", "invalid set-heartbeats params: enabled (boolean) required"
        )
    ctx.state.require_main_session().set_enabled(enabled)
    return {"ok": True, "enabled": enabled}


WAKE_SCHEMA = obj(
    closed=False,
    mode=req(AnyValue()),
    text=req(AnyValue()),
    sessionKey=NON_EMPTY,
    agentId=NON_EMPTY,
)


@registry.method("wake", scope=S.WRITE)
def wake(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("wake", WAKE_SCHEMA, params)
    if p["mode"] not in ("now", "next-heartbeat"):
        raise RpcError(
            "INVALID_REQUEST",
            "invalid wake params: at /mode: must be equal to one of the allowed values",
        )
    text = p["text"].strip() if isinstance(p["text"], str) else ""
    if not text:
        return {"ok": False}
    key = p.get("sessionKey")
    if isinstance(key, str) and K.is_subagent_key(ctx.state.require_conversations().key(key)):
        raise RpcError("INVALID_REQUEST", "wake sessionKey cannot target a subagent session")
    ctx.state.require_main_session().system_event(
        text,
        session_key=key,
        agent_id=p.get("agentId"),
        wake_mode=p["mode"],
        source="wake",
    )
    return {"ok": True}
