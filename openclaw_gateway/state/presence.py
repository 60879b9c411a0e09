"""The presence table (protocol.md §8). Pure: time comes in as `now_ms`.

Rows are keyed (lower-cased) by connection id for operators, by device/instance id for nodes,
and by deviceId/instanceId/host/ip/text for `system-event` rows. The gateway's own row never
expires and is refreshed on every read. Rows older than 5 minutes expire and at most 200 are
kept. Every change bumps `version`, which is the `stateVersion.presence` clients compare;
expiry is a change too, whoever notices it first (a read or the ticker's `prune`), and
`prune` reports it until it is announced, so the ticker broadcasts each expiry once.
"""

from __future__ import annotations

import re
from typing import Any

PRESENCE_TTL_MS = 300_000
PRESENCE_MAX_ROWS = 200
SELF_KEY = "__self__"


def _merge_strings(*lists: Any) -> list[str]:
    out: dict[str, None] = {}
    for values in lists:
        if not isinstance(values, list):
            continue
        for item in values:
            if isinstance(item, str) and item.strip():
                out[item.strip()] = None
    return list(out)


class PresenceTable:
    def __init__(self, self_entry: dict[str, Any], now_ms: int) -> None:
        self._self = dict(self_entry)
        self._self["ts"] = now_ms
        self._rows: dict[str, dict[str, Any]] = {}
        # No row is older than this (a lower bound: exact after each scan): a read skips the
        # scan for expired rows while none can be (system-presence is polled).
        self._oldest_ts: float = float("inf")
        self.version = 1
        self._expired_unannounced = False
        # The rows other than self, newest first: sorted once per version (hot read path).
        self._sorted: list[dict[str, Any]] = []
        self._sorted_version = 0

    def upsert(self, key: str, fields: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Merge `fields` into the row for `key` (roles/scopes are unioned). Bumps the version."""
        key = key.lower()
        row = dict(self._rows.get(key, {}))
        row.update({k: v for k, v in fields.items() if v is not None})
        for name in ("roles", "scopes"):
            # The official mergeStringList: union of old and new, trimmed, blanks dropped,
            # and no key at all when the result is empty.
            merged = _merge_strings(self._rows.get(key, {}).get(name), fields.get(name))
            if merged:
                row[name] = merged
            else:
                row.pop(name, None)
        row["ts"] = now_ms
        self._oldest_ts = min(self._oldest_ts, now_ms)
        self._rows.pop(key, None)
        self._rows[key] = row
        self.version += 1
        return row

    def get(self, key: str) -> dict[str, Any] | None:
        return self._rows.get(key.lower())

    def _expire(self, now_ms: int) -> None:
        """Drop expired rows and the oldest beyond the cap (a change: the version moves)."""
        before = len(self._rows)
        if before < PRESENCE_MAX_ROWS and now_ms - self._oldest_ts <= PRESENCE_TTL_MS:
            return
        fresh = {k: r for k, r in self._rows.items() if now_ms - r["ts"] <= PRESENCE_TTL_MS}
        if len(fresh) > PRESENCE_MAX_ROWS - 1:
            newest = sorted(fresh.items(), key=lambda kv: kv[1]["ts"], reverse=True)
            fresh = dict(newest[: PRESENCE_MAX_ROWS - 1])
        self._rows = fresh
        self._oldest_ts = min((r["ts"] for r in fresh.values()), default=float("inf"))
        if len(fresh) != before:
            self.version += 1
            self._expired_unannounced = True

    def prune(self, now_ms: int) -> bool:
        """Expire rows; True if an expiry (now or by an earlier read) is not announced yet.
        The caller that gets True broadcasts the table."""
        self._expire(now_ms)
        unannounced, self._expired_unannounced = self._expired_unannounced, False
        return unannounced

    def entries(self, now_ms: int) -> list[dict[str, Any]]:
        """The list clients see: expired rows dropped, self row included, newest first."""
        self._expire(now_ms)
        self._self["ts"] = now_ms
        rows = [self._self, *self._rows.values()]
        rows.sort(key=lambda r: r["ts"], reverse=True)
        return [dict(r) for r in rows]

    def by_recency(self, now_ms: int) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        """(version, the self row as of now, the other rows newest first) — the order
        `entries` gives (the self row is always the newest). The rows are the table's own:
        read them, never change them; they are re-sorted only when the version moves."""
        self._expire(now_ms)
        if self._sorted_version != self.version:
            self._sorted = sorted(self._rows.values(), key=lambda r: r["ts"], reverse=True)
            self._sorted_version = self.version
        me = dict(self._self)
        me["ts"] = now_ms
        return self.version, me, self._sorted

    def __len__(self) -> int:
        return len(self._rows) + 1


def self_entry(
    host: str, ip: str, version: str, platform: str, device_family: str, instance_id: str
) -> dict[str, Any]:
    return {
        "host": host,
        "ip": ip,
        "version": version,
        "platform": platform,
        "deviceFamily": device_family,
        "mode": "gateway",
        "reason": "self",
        "instanceId": instance_id,
        "text": f"Gateway: {host} ({ip}) · app {version} · mode gateway · reason self",
    }


# The official parsePresence regex: all fields or nothing, matched anywhere, case-insensitive.
_NODE_PRESENCE = re.compile(
    r"Node:\s*([^ (]+)\s*\(([^)]+)\)\s*·\s*app\s*([^·]+?)\s*·\s*last input\s*([0-9]+)s ago"
    r"\s*·\s*mode\s*([^·]+?)\s*·\s*reason\s*(.+)$",
    re.IGNORECASE,
)


def parse_node_presence_text(text: str) -> dict[str, Any] | None:
    """Parse `Node: <host> (<ip>) · app <ver> · last input <n>s ago · mode <m> · reason <r>`.

    None unless the whole pattern matches (the official parser then keeps only the text).
    """
    match = _NODE_PRESENCE.search(text.strip())
    if match is None:
        return None
    host, ip, version, last_input, mode, reason = match.groups()
    return {
        "host": host.strip(),
        "ip": ip.strip(),
        "version": version.strip(),
        "lastInputSeconds": int(last_input),
        "mode": mode.strip(),
        "reason": reason.strip(),
    }
