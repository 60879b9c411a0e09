"""Pending pairing requests are bounded (issue 13 §4): a global cap that the busiest remote
address pays for first, and expiry decided in SQL without decoding every row."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclaw_gateway.state.device_records import pending_live
from openclaw_gateway.state.pairing import MAX_PENDING_REQUESTS, PENDING_TTL_MS, Book
from openclaw_gateway.state.store import Store

T0 = 1_800_000_000_000


def _book(store: Store, max_pending: int = MAX_PENDING_REQUESTS) -> Book:
    ids = (f"req-{n}" for n in itertools.count(1))
    return Book(store, new_id=lambda: next(ids), max_pending=max_pending)


@pytest.fixture(name="store")
def _store() -> Iterator[Store]:
    store = Store(Path(":memory:"))
    yield store
    store.close()


def _req(device: str, ip: str) -> dict[str, Any]:
    return {"deviceId": device, "publicKey": f"K-{device}", "role": "operator", "remoteIp": ip}


def _pending(store: Store) -> list[tuple[str, str]]:
    return [(p["deviceId"], p["remoteIp"]) for p in store.list_pending()]


def test_the_flooding_address_loses_its_own_oldest_requests(store: Store) -> None:
    book = _book(store, max_pending=3)
    book.request(_req("honest", "10.0.0.2"), T0)
    for n in range(6):
        book.request(_req(f"flood-{n}", "10.0.0.9"), T0 + 1 + n)
    assert _pending(store) == [
        ("honest", "10.0.0.2"),
        ("flood-4", "10.0.0.9"),
        ("flood-5", "10.0.0.9"),
    ]


def test_the_default_cap_holds_under_a_flood_of_new_devices(store: Store) -> None:
    book = _book(store)
    for n in range(MAX_PENDING_REQUESTS + 40):
        book.request(_req(f"d{n}", f"10.0.{n % 3}.1"), T0 + n)
    assert store.count_pending() == MAX_PENDING_REQUESTS
    # The newest request always survives: the device that just asked can be approved.
    assert store.list_pending()[-1]["deviceId"] == f"d{MAX_PENDING_REQUESTS + 39}"


def test_refreshing_an_existing_request_never_evicts(store: Store) -> None:
    book = _book(store, max_pending=2)
    book.request(_req("a", "10.0.0.1"), T0)
    book.request(_req("b", "10.0.0.1"), T0 + 1)
    book.request(_req("a", "10.0.0.1"), T0 + 2)  # covered: refreshed, not created
    assert [d for d, _ in _pending(store)] == ["a", "b"]


def test_expiry_is_decided_in_sql_without_decoding_rows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(store)
    book.request(_req("old", "10.0.0.1"), T0)
    book.request(_req("fresh", "10.0.0.1"), T0 + PENDING_TTL_MS - 1)

    def refuse() -> list[Any]:
        raise AssertionError("a write decoded every pending request")

    monkeypatch.setattr(store, "list_pending", refuse)
    book.request(_req("new", "10.0.0.3"), T0 + PENDING_TTL_MS)
    monkeypatch.undo()
    assert [d for d, _ in _pending(store)] == ["fresh", "new"]


@given(
    ts=st.integers(min_value=0, max_value=2**41),
    refreshed=st.one_of(st.none(), st.just(0), st.integers(min_value=0, max_value=2**41)),
    now=st.integers(min_value=0, max_value=2**42),
)
def test_the_sql_expiry_rule_is_pending_live(ts: int, refreshed: int | None, now: int) -> None:
    store = Store(Path(":memory:"))
    try:
        record: dict[str, Any] = {"requestId": "r", "deviceId": "d", "ts": ts}
        if refreshed is not None:
            record["refreshedAtMs"] = refreshed
        with store.transaction():
            store.put_pending(record)
            store.delete_pending_seen_before(now - PENDING_TTL_MS)
        assert (store.get_pending("r") is not None) == pending_live(record, now)
    finally:
        store.close()
