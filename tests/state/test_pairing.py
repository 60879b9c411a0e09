"""pairing.Book over a real (in-memory) SQLite store: pending requests, approval snapshots,
device tokens (protocol.md §4.5-§4.6; official device-pairing kernels)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.security import scopes as S
from openclaw_gateway.security.pairing_rules import (
    normalize_scopes,
    role_token_scopes,
    scopes_allow,
)
from openclaw_gateway.state.pairing import PENDING_TTL_MS, Book, Forbidden
from openclaw_gateway.state.store import Store

T0 = 1_800_000_000_000


@pytest.fixture(name="book")
def _book() -> Iterator[Book]:
    store = Store(Path(":memory:"))
    ids = (f"req-{n}" for n in itertools.count(1))
    tokens = (f"tok-{n}" for n in itertools.count(1))
    yield Book(store, new_id=lambda: next(ids), mint=lambda: next(tokens))
    store.close()


def _req(
    scopes: list[str], role: str = "operator", key: str = "KEY", **extra: Any
) -> dict[str, Any]:
    return {"deviceId": "dev", "publicKey": key, "role": role, "scopes": scopes, **extra}


def test_scope_rules() -> None:
    assert normalize_scopes([S.WRITE, " ", S.WRITE]) == [S.READ, S.WRITE]
    assert normalize_scopes([S.ADMIN]) == [S.ADMIN, S.READ, S.WRITE]
    assert role_token_scopes("node", [S.READ, "node.x"]) == ["node.x"]
    assert scopes_allow("operator", [S.SESSIONS_READ], [S.READ])
    assert not scopes_allow("operator", [S.PAIRING], [S.WRITE])
    assert not scopes_allow("node", ["operator.read"], ["operator.read"])


def test_one_pending_request_per_device_refresh_or_supersede(book: Book) -> None:
    first = book.request(_req([S.READ, S.WRITE]), T0)
    assert (first.request["requestId"], first.created) == ("req-1", True)
    # Covered (fewer scopes): the same request, refreshed.
    again = book.request(_req([S.READ]), T0 + 10)
    assert (again.request["requestId"], again.created) == ("req-1", False)
    assert again.request["scopes"] == [S.READ, S.WRITE]  # the displayed snapshot is kept
    # Wider: a new request supersedes the old one, with the union of scopes.
    wider = book.request(_req([S.ADMIN]), T0 + 20)
    assert (wider.request["requestId"], wider.superseded) == ("req-2", ("req-1",))
    assert wider.request["scopes"] == [S.READ, S.WRITE, S.ADMIN]
    assert [p["requestId"] for p in book.store.list_pending()] == ["req-2"]
    # Another key is another request too.
    other = book.request(_req([S.READ], key="OTHER"), T0 + 30)
    assert other.created and other.superseded == ("req-2",)


def test_pending_requests_expire_after_five_minutes(book: Book) -> None:
    book.request(_req([S.READ]), T0)
    book.request(_req([S.READ]), T0 + 60_000)  # a refresh restarts the clock
    assert book.pending("req-1", T0 + 60_000 + PENDING_TTL_MS - 1) is not None
    assert book.pending("req-1", T0 + 60_000 + PENDING_TTL_MS) is None
    assert book.approve("req-1", [S.ADMIN], T0 + 60_000 + PENDING_TTL_MS) is None


def test_approval_grants_the_snapshot_and_checks_the_caller(book: Book) -> None:
    book.request(_req([S.ADMIN]), T0)
    got = book.approve("req-1", [S.PAIRING, S.READ], T0)
    assert got == Forbidden("missing scope: operator.admin")
    assert book.store.list_paired() == []
    assert isinstance(book.approve("req-1", None, T0), Forbidden)
    device = book.approve("req-1", [S.ADMIN], T0 + 5)
    assert isinstance(device, dict)
    assert (device["approvedScopes"], device["roles"], device["approvedVia"]) == (
        [S.ADMIN],
        ["operator"],
        "owner",
    )
    token = book.store.tokens_for("dev")["operator"]
    assert (token["token"], token["scopes"], token["createdAtMs"]) == (
        "tok-1",
        [S.ADMIN, S.READ, S.WRITE],
        T0 + 5,
    )
    assert book.store.list_pending() == []


def test_scope_outside_the_requested_roles_is_refused(book: Book) -> None:
    book.request(_req([S.READ], role="node"), T0)
    assert book.approve("req-1", [S.ADMIN], T0) == Forbidden(
        "invalid scope for requested roles: operator.read"
    )


def _paired(book: Book, scopes: list[str]) -> None:
    book.request(_req(scopes), T0)
    assert isinstance(book.approve("req-1", [S.ADMIN], T0), dict)


def test_device_tokens_verify_reuse_rotate_and_revoke(book: Book) -> None:
    _paired(book, [S.READ, S.WRITE])
    assert book.verify_token("dev", "operator", "tok-1", [S.READ], T0 + 1) is None
    assert book.store.tokens_for("dev")["operator"]["lastUsedAtMs"] == T0 + 1
    assert book.verify_token("dev", "operator", "tok-x", [S.READ], T0) == "token-mismatch"
    assert book.verify_token("dev", "operator", "tok-1", [S.ADMIN], T0) == "scope-mismatch"
    assert book.verify_token("dev", "node", "tok-1", [], T0) == "token-missing"
    assert book.verify_token("nope", "operator", "tok-1", [], T0) == "device-not-paired"
    # ensure_token reuses a covering token and refuses scopes beyond the approval.
    reused = book.ensure_token("dev", "operator", [S.READ], T0 + 2)
    assert reused is not None and reused["token"] == "tok-1"
    assert book.ensure_token("dev", "operator", [S.ADMIN], T0 + 2) is None
    # Rotation: never beyond the approval or the caller; a new secret, createdAt kept.
    assert book.rotate("dev", "operator", [S.ADMIN], [S.ADMIN], T0) == (
        "scope-outside-approved-baseline"
    )
    assert book.rotate("dev", "operator", None, [S.READ], T0) == "caller-missing-scope"
    assert book.rotate("dev", "node", None, None, T0) == "unknown-device-or-role"
    rotated = book.rotate("dev", "operator", [S.READ], [S.READ], T0 + 3)
    assert isinstance(rotated, dict)
    assert (rotated["token"], rotated["createdAtMs"], rotated["rotatedAtMs"]) == (
        "tok-2",
        T0,
        T0 + 3,
    )
    assert book.verify_token("dev", "operator", "tok-1", [], T0) == "token-mismatch"
    # Revocation: takes effect at once.
    assert book.revoke("dev", "operator", [S.PAIRING], T0) == "caller-missing-scope"
    revoked = book.revoke("dev", "operator", [S.READ], T0 + 4)
    assert isinstance(revoked, dict) and revoked["revokedAtMs"] == T0 + 4
    assert book.verify_token("dev", "operator", "tok-2", [], T0) == "token-revoked"


def test_remove_drops_device_tokens_and_pending(book: Book) -> None:
    _paired(book, [S.READ])
    book.request(_req([S.ADMIN]), T0 + 1)
    assert book.remove(" dev ") == {"deviceId": "dev"}
    assert book.store.counts() == {"paired_devices": 0, "pairing_requests": 0, "device_tokens": 0}
    assert book.remove("dev") is None


def test_a_failed_operation_rolls_back(book: Book) -> None:
    book.request(_req([S.READ]), T0)

    def fail_midway() -> None:
        with book.store.transaction():
            book.store.delete_pending("req-1")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert [p["requestId"] for p in book.store.list_pending()] == ["req-1"]


def test_the_database_is_owner_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        book = Book(store)
        book.request(_req([S.READ]), T0)
        assert isinstance(
            book.approve(book.store.list_pending()[0]["requestId"], [S.ADMIN], T0), dict
        )
    finally:
        store.close()
    for path in (tmp_path / "state").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
