"""node_rules: the pure capability rules and the idempotency cache (§6.8, §6.11)."""

from __future__ import annotations

import pytest

from openclaw_gateway.security import node_rules as R


@pytest.mark.parametrize(
    ("commands", "scopes"),
    [
        ([], ["operator.pairing"]),
        (["echo", "system.notify"], ["operator.pairing", "operator.write"]),
        (["echo", "system.run"], ["operator.pairing", "operator.admin"]),
        (["system.which"], ["operator.pairing", "operator.admin"]),
        (["system.run.prepare"], ["operator.pairing", "operator.admin"]),
        (["browser.proxy"], ["operator.pairing", "operator.admin"]),
        (["fs.listDir"], ["operator.pairing", "operator.admin"]),
        (["system.execApprovals.get"], ["operator.pairing", "operator.admin"]),
    ],
)
def test_approval_scopes(commands: list[str], scopes: list[str]) -> None:
    assert R.approval_scopes(commands) == scopes


def test_missing_approval_scope() -> None:
    assert R.missing_approval_scope(["echo"], ["operator.pairing"]) == "operator.write"
    assert R.missing_approval_scope(["echo"], ["operator.pairing", "operator.write"]) is None
    assert R.missing_approval_scope(["system.run"], ["operator.admin"]) is None
    assert R.missing_approval_scope([], ["operator.read"]) == "operator.pairing"


def test_effective_and_state() -> None:
    assert R.effective(["a", "b"], None) == []
    assert R.effective(["a", "b", "c"], ["c", "a"]) == ["a", "c"]
    assert R.approval_state(None, True) == "pending-approval"
    assert R.approval_state({"commands": []}, True) == "pending-reapproval"
    assert R.approval_state({"commands": []}, False) == "approved"
    assert R.approval_state(None, False) == "unapproved"


def test_idempotency_cache_expires_and_is_bounded() -> None:
    cache = R.IdempotencyCache(ttl_ms=300_000, max_keys=3)
    cache.put("a", 1, 0)
    assert cache.get("a", 299_999) == 1
    assert cache.get("a", 300_000) is None
    for i, key in enumerate("bcde"):
        cache.put(key, i, 1000)
    assert len(cache) == 3
    assert cache.get("b", 1000) is None  # the oldest key went first
    assert cache.get("e", 1000) == 3
    assert R.IdempotencyCache().ttl_ms == 300_000 and R.IdempotencyCache().max_keys == 1000


def test_invoke_timeout_is_bounded() -> None:
    assert R.invoke_timeout_ms(None) == R.DEFAULT_INVOKE_TIMEOUT_MS
    assert R.invoke_timeout_ms(5_000) == 5_000
    assert R.invoke_timeout_ms(10**12) == R.MAX_INVOKE_TIMEOUT_MS
    assert R.invoke_timeout_ms(0) == R.MAX_INVOKE_TIMEOUT_MS  # no unbounded wait


def test_idempotency_keys_are_per_caller_and_command() -> None:
    base = R.idempotency_key("dev-a", "node", "echo", "k")
    assert base == R.idempotency_key("dev-a", "node", "echo", "k")
    assert base != R.idempotency_key("dev-b", "node", "echo", "k")
    assert base != R.idempotency_key("dev-a", "node", "system.which", "k")
    assert base != R.idempotency_key("dev-a", "other", "echo", "k")
    # A separator inside a part cannot make two different tuples collide.
    assert R.idempotency_key("a", "b\nc", "d", "e") != R.idempotency_key("a\nb", "c", "d", "e")
