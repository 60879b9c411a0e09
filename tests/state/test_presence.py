"""presence: the presence table and Node: text parsing (protocol.md §8, system-presence.ts)."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.state.presence import (
    PRESENCE_MAX_ROWS,
    PRESENCE_TTL_MS,
    PresenceTable,
    parse_node_presence_text,
    self_entry,
)

T0 = 1_795_536_131_426
SELF = self_entry("gw-host", "192.168.1.10", "0.1.0", "linux 6.8.0", "Linux", "inst-self")


def _table(now: int = T0) -> PresenceTable:
    return PresenceTable(SELF, now)


def _keys(rows: list[dict[str, Any]]) -> list[Any]:
    return [r.get("host") for r in rows]


def test_self_entry_shape() -> None:
    assert SELF == {
        "host": "gw-host",
        "ip": "192.168.1.10",
        "version": "0.1.0",
        "platform": "linux 6.8.0",
        "deviceFamily": "Linux",
        "mode": "gateway",
        "reason": "self",
        "instanceId": "inst-self",
        "text": "Gateway: gw-host (192.168.1.10) · app 0.1.0 · mode gateway · reason self",
    }


def test_new_table_lists_only_the_self_row_with_current_ts() -> None:
    table = _table()
    assert table.entries(T0 + 5) == [{**SELF, "ts": T0 + 5}]
    assert len(table) == 1
    assert table.version == 1


def test_self_row_never_expires_and_is_refreshed_on_read() -> None:
    table = _table()
    later = T0 + 10 * PRESENCE_TTL_MS
    rows = table.entries(later)
    assert rows == [{**SELF, "ts": later}]


def test_upsert_creates_and_lowercases_keys() -> None:
    table = _table()
    row = table.upsert("Conn-ABC", {"host": "laptop", "mode": "ui"}, T0 + 1)
    assert row == {"host": "laptop", "mode": "ui", "ts": T0 + 1}
    assert table.get("conn-abc") == row
    assert table.get("CONN-abc") == row
    assert len(table) == 2


def test_every_upsert_bumps_the_version() -> None:
    table = _table()
    table.upsert("a", {"host": "a"}, T0)
    table.upsert("a", {"reason": "disconnect"}, T0 + 1)
    table.upsert("b", {}, T0 + 2)
    assert table.version == 4


def test_reads_do_not_bump_the_version_and_prunes_that_remove_nothing_neither() -> None:
    table = _table()
    table.upsert("a", {"host": "a"}, T0)
    table.entries(T0 + 1)
    assert table.prune(T0 + 2) is False
    assert table.version == 2


def test_expiry_bumps_the_version_once() -> None:
    table = _table()
    table.upsert("a", {"host": "a"}, T0)
    assert table.prune(T0 + PRESENCE_TTL_MS + 1) is True
    assert table.version == 3
    assert table.prune(T0 + PRESENCE_TTL_MS + 2) is False
    assert table.version == 3


def test_expiry_seen_first_by_a_read_is_still_reported_once_by_prune() -> None:
    """Issue 13: a read (system-presence, a hello snapshot) that drops an expired row is a
    change; the ticker's prune must still report it so it is broadcast exactly once."""
    table = _table()
    table.upsert("a", {"host": "a"}, T0)
    assert _keys(table.entries(T0 + PRESENCE_TTL_MS + 1)) == ["gw-host"]
    assert table.version == 3
    assert table.prune(T0 + PRESENCE_TTL_MS + 2) is True
    assert table.prune(T0 + PRESENCE_TTL_MS + 3) is False
    assert table.version == 3


def test_upsert_merges_fields_and_keeps_old_ones() -> None:
    table = _table()
    table.upsert("k", {"host": "h", "ip": "10.0.0.2", "reason": "connect"}, T0)
    row = table.upsert("k", {"reason": "disconnect", "ip": None}, T0 + 7)
    assert row == {"host": "h", "ip": "10.0.0.2", "reason": "disconnect", "ts": T0 + 7}


def test_roles_and_scopes_are_unioned_in_order() -> None:
    table = _table()
    table.upsert("dev", {"roles": ["operator"], "scopes": ["operator.read"]}, T0)
    row = table.upsert(
        "dev",
        {"roles": ["node", "operator"], "scopes": ["operator.write", " operator.read "]},
        T0 + 1,
    )
    assert row["roles"] == ["operator", "node"]
    assert row["scopes"] == ["operator.read", "operator.write"]


def test_roles_survive_an_upsert_that_does_not_mention_them() -> None:
    table = _table()
    table.upsert("dev", {"roles": ["node"]}, T0)
    assert table.upsert("dev", {"reason": "periodic"}, T0 + 1)["roles"] == ["node"]


def test_empty_or_blank_string_lists_leave_no_key() -> None:
    # mergeStringList returns undefined for an empty union, so JSON has no key at all.
    table = _table()
    row = table.upsert("n", {"roles": ["node"], "scopes": []}, T0)
    assert "scopes" not in row
    row = table.upsert("m", {"roles": ["", "  "], "scopes": ["x", "x", ""]}, T0)
    assert "roles" not in row
    assert row["scopes"] == ["x"]


def test_upsert_does_not_mutate_the_caller_dict() -> None:
    table = _table()
    fields: dict[str, Any] = {"roles": ["a"], "host": "h"}
    table.upsert("k", fields, T0)
    table.upsert("k", fields, T0 + 1)
    assert fields == {"roles": ["a"], "host": "h"}


def test_entries_are_copies() -> None:
    table = _table()
    table.upsert("k", {"host": "h"}, T0)
    rows = table.entries(T0)
    for row in rows:
        row["host"] = "mutated"
    assert _keys(table.entries(T0)) == ["gw-host", "h"]


def test_ttl_is_five_minutes_inclusive() -> None:
    assert PRESENCE_TTL_MS == 300_000
    table = _table()
    table.upsert("k", {"host": "h"}, T0)
    assert _keys(table.entries(T0 + PRESENCE_TTL_MS)) == ["gw-host", "h"]
    assert _keys(table.entries(T0 + PRESENCE_TTL_MS + 1)) == ["gw-host"]
    assert table.get("k") is None


def test_an_upsert_refreshes_the_ttl() -> None:
    table = _table()
    table.upsert("k", {"host": "h"}, T0)
    table.upsert("k", {}, T0 + 200_000)
    assert _keys(table.entries(T0 + 450_000)) == ["gw-host", "h"]


def test_a_row_written_with_an_earlier_clock_still_expires_on_time() -> None:
    """Reads skip the expiry scan while no row can be old enough; a row upserted when the
    wall clock had gone back is the oldest even though it is the newest in the table."""
    t = _table()
    t.upsert("a", {"host": "a"}, T0)
    t.upsert("b", {"host": "b"}, T0 - 60_000)  # the clock stepped back a minute
    assert _keys(t.entries(T0 + PRESENCE_TTL_MS - 60_000)) == ["gw-host", "a", "b"]
    assert _keys(t.entries(T0 + PRESENCE_TTL_MS - 59_999)) == ["gw-host", "a"]
    assert _keys(t.entries(T0 + PRESENCE_TTL_MS + 1)) == ["gw-host"]


def test_prune_reports_whether_it_removed_anything() -> None:
    table = _table()
    table.upsert("k", {"host": "h"}, T0)
    assert table.prune(T0 + 1) is False
    assert table.prune(T0 + PRESENCE_TTL_MS + 1) is True
    assert table.prune(T0 + PRESENCE_TTL_MS + 2) is False


def test_at_most_200_rows_including_self_dropping_the_oldest() -> None:
    assert PRESENCE_MAX_ROWS == 200
    table = _table()
    for i in range(250):
        table.upsert(f"k{i}", {"host": f"h{i}"}, T0 + i)
    rows = table.entries(T0 + 250)
    assert len(rows) == 200
    assert len(table) == 200
    assert rows[0]["host"] == "gw-host"
    hosts = {r["host"] for r in rows[1:]}
    assert hosts == {f"h{i}" for i in range(51, 250)}


def test_entries_are_sorted_by_ts_descending_with_self_first_on_ties() -> None:
    table = _table()
    table.upsert("old", {"host": "old"}, T0 + 1)
    table.upsert("new", {"host": "new"}, T0 + 3)
    table.upsert("mid", {"host": "mid"}, T0 + 2)
    table.upsert("now", {"host": "now"}, T0 + 9)
    rows = table.entries(T0 + 9)
    assert _keys(rows) == ["gw-host", "now", "new", "mid", "old"]
    assert [r["ts"] for r in rows] == [T0 + 9, T0 + 9, T0 + 3, T0 + 2, T0 + 1]


def test_constructor_copies_the_self_entry() -> None:
    entry = dict(SELF)
    table = PresenceTable(entry, T0)
    entry["host"] = "changed"
    assert table.entries(T0)[0]["host"] == "gw-host"


# --- Node: text -----------------------------------------------------------------------------


def test_parse_full_node_line() -> None:
    text = "Node: mac-mini (192.168.1.5) · app 2026.9.6 · last input 12s ago · mode ui · reason periodic"
    assert parse_node_presence_text(text) == {
        "host": "mac-mini",
        "ip": "192.168.1.5",
        "version": "2026.9.6",
        "lastInputSeconds": 12,
        "mode": "ui",
        "reason": "periodic",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Whitespace is flexible and matching is case-insensitive.
        (
            "  node:   mac (10.0.0.1)·app 1.2 beta·last input 0s ago·mode node·reason connect  ",
            ("mac", "10.0.0.1", "1.2 beta", 0, "node", "connect"),
        ),
        (
            "NODE: h (ip) · APP v · LAST INPUT 3S AGO · MODE m · REASON r",
            ("h", "ip", "v", 3, "m", "r"),
        ),
        # The pattern is searched, not anchored at the start; the reason takes the rest.
        (
            "prefix Node: h (ip) · app v · last input 3s ago · mode m · reason r · extra",
            ("h", "ip", "v", 3, "m", "r · extra"),
        ),
        (
            "Node: h (i p) · app v · last input 3s ago · mode m · reason r",
            ("h", "i p", "v", 3, "m", "r"),
        ),
    ],
)
def test_parse_variants_match_the_official_regex(text: str, expected: tuple[Any, ...]) -> None:
    parsed = parse_node_presence_text(text)
    assert parsed is not None
    keys = ("host", "ip", "version", "lastInputSeconds", "mode", "reason")
    assert tuple(parsed[k] for k in keys) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "Node: mac · mode ui",  # the default connect text is not a parseable line
        "Node: mac (10.0.0.1) · app 1 · last input 1s ago · mode ui",
        "Node: My Mac (10.0.0.1) · app 1 · last input 1s ago · mode ui · reason x",  # space in host
        "Node: h (ip) · app v · last input -3s ago · mode m · reason r",
        "Node: h (ip) · app v · last input 3 s ago · mode m · reason r",
        "Gateway: gw (1.2.3.4) · app 1 · mode gateway · reason self",
    ],
)
def test_partial_or_foreign_lines_are_not_parsed(text: str) -> None:
    assert parse_node_presence_text(text) is None
