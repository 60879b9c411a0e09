"""Which config changes apply live and which need a restart (official config-reload-plan).

Pure. `diff_paths` lists the dotted key paths that differ between two config objects (the
official diffConfigPaths: objects recurse, anything else compares whole); `plan` sorts them by
the longest matching rule prefix into `restart`, `hot` (applied in place by
server/reloader.py) and `none` (nothing reads them here). A path under a section this gateway
reads that no rule names needs a restart, as in the official ("a path that matches no rule
defaults to a Gateway restart"); a section this gateway never reads needs nothing.

Rules follow the official table where this gateway has the subsystem; where it reads a key
only at start (the file log, the agents roster) the rule says restart. Other modules extend
the table with `RULES + (...)` (e.g. TLS material). Modes: `hybrid` (default) applies hot
changes and restarts when a change needs it; `restart` restarts on any change; `hot` applies
hot changes and only logs the ones that need a restart; `off` watches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

RELOAD_MODES = ("off", "restart", "hot", "hybrid")
DEFAULT_MODE = "hybrid"
DEFAULT_DEBOUNCE_MS = 300  # the official DEFAULT_RELOAD_SETTINGS.debounceMs
AUTH_CREDENTIAL_PATHS = ("gateway.auth.token", "gateway.auth.password")
# Sections this gateway reads; a change anywhere else changes nothing here.
READ_SECTIONS = (
    "gateway",
    "discovery",
    "logging",
    "cron",
    "agents",
    "commands",
    "secrets",
    "bindings",  # channel routing (server/channels) is built at start
    "session",
)


@attrs.frozen
class Rule:
    prefix: str
    kind: str  # "restart" | "hot" | "none"


RULES: tuple[Rule, ...] = (
    Rule("gateway.remote", "none"),
    Rule("gateway.reload", "none"),
    # Rotation is hot only when the effective auth mode stays token or password (below).
    Rule("gateway.auth.token", "restart"),
    Rule("gateway.auth.password", "restart"),
    Rule("gateway.auth.rateLimit", "hot"),
    Rule("gateway.controlUi.allowedOrigins", "hot"),
    Rule("gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback", "hot"),
    Rule("gateway.trustedProxies", "hot"),
    Rule("logging.level", "hot"),
    Rule("commands.restart", "hot"),
    # Refs are re-resolved on every reload; what they feed decides the rest.
    Rule("secrets", "hot"),
    Rule("commands", "none"),
    Rule("discovery.mdns.mode", "hot"),  # the advertisements are replaced
    Rule("gateway", "restart"),
    Rule("discovery", "restart"),
    Rule("logging", "restart"),  # the file log is opened at start
    Rule("cron.enabled", "hot"),  # the scheduler restarts (official restartCron)
    Rule("cron.skipMissedJobs", "hot"),
    Rule("cron", "restart"),
    Rule("agents", "restart"),  # the agent directory is built at start
    Rule("hooks", "restart"),  # hooks.* is checked and read at start (server/hooks/config.py)
)


@attrs.frozen
class Plan:
    changed: tuple[str, ...]
    restart: tuple[str, ...] = ()
    hot: tuple[str, ...] = ()
    none: tuple[str, ...] = ()


def reload_settings(raw_config: Mapping[str, Any]) -> tuple[str, int]:
    """gateway.reload.mode (unknown values: hybrid) and gateway.reload.debounceMs."""
    gateway = raw_config.get("gateway")
    reload = gateway.get("reload") if isinstance(gateway, Mapping) else None
    reload = reload if isinstance(reload, Mapping) else {}
    mode = reload.get("mode")
    debounce = reload.get("debounceMs")
    if not isinstance(debounce, int) or isinstance(debounce, bool) or debounce < 0:
        debounce = DEFAULT_DEBOUNCE_MS
    return (mode if isinstance(mode, str) and mode in RELOAD_MODES else DEFAULT_MODE), debounce


def diff_paths(prev: Any, next_: Any, prefix: str = "", refine: Sequence[str] = ()) -> list[str]:
    """Official diffConfigPaths: objects recurse; an object on one side only recurses too when
    a rule prefix lies beneath it (`refine`), so adding `gateway.controlUi.allowedOrigins`
    reads as that path, not as all of `gateway.controlUi`."""
    if prev == next_ and _strict(prev) == _strict(next_):  # 1 == True, but not the same value
        return []
    both = isinstance(prev, Mapping) and isinstance(next_, Mapping)
    either = isinstance(prev, Mapping) or isinstance(next_, Mapping)
    if both or (either and any(r.startswith(f"{prefix}.") if prefix else True for r in refine)):
        before = prev if isinstance(prev, Mapping) else {}
        after = next_ if isinstance(next_, Mapping) else {}
        out: list[str] = []
        for key in dict.fromkeys([*before, *after]):
            path = f"{prefix}.{key}" if prefix else key
            out.extend(diff_paths(before.get(key), after.get(key), path, refine))
        return out
    return [prefix or "<root>"]


def _strict(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def _rule(path: str, rules: Sequence[Rule]) -> Rule | None:
    found = [r for r in rules if _matches(path, r.prefix)]
    return max(found, key=lambda r: r.prefix.count(".")) if found else None


def _auth_mode(raw_config: Mapping[str, Any]) -> str | None:
    """Official canHotReloadGatewayAuthCredentials' view of the effective mode: None when a
    SecretRef secret leaves the mode implicit (then rotation restarts)."""
    gateway = raw_config.get("gateway")
    auth = gateway.get("auth") if isinstance(gateway, Mapping) else None
    auth = auth if isinstance(auth, Mapping) else {}
    mode = auth.get("mode")
    if isinstance(mode, str) and mode:
        return mode
    if any(isinstance(auth.get(k), Mapping) for k in ("token", "password")):
        return None
    return "password" if auth.get("password") else "token"


def can_hot_rotate(prev: Mapping[str, Any], next_: Mapping[str, Any]) -> bool:
    before, after = _auth_mode(prev), _auth_mode(next_)
    return before in ("token", "password") and before == after


def plan(prev: Mapping[str, Any], next_: Mapping[str, Any], rules: Sequence[Rule] = RULES) -> Plan:
    changed = diff_paths(prev, next_, "", [r.prefix for r in rules])
    restart: list[str] = []
    hot: list[str] = []
    none: list[str] = []
    for path in changed:
        rule = _rule(path, rules)
        if rule is None:
            kind = "restart" if path.split(".")[0] in READ_SECTIONS else "none"
        elif rule.prefix in AUTH_CREDENTIAL_PATHS and can_hot_rotate(prev, next_):
            kind = "hot"
        else:
            kind = rule.kind
        {"restart": restart, "hot": hot, "none": none}[kind].append(path)
    return Plan(tuple(changed), tuple(restart), tuple(hot), tuple(none))
