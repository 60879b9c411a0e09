"""ratelimit: failed-auth limiter, control-plane write budget, pre-auth socket budget.

Expectations follow the official auth-rate-limit.ts, control-plane-rate-limit.ts and
preauth-connection-budget.ts (protocol.md §1.1, §1.6 item 5, §3.3). Time is passed in.
"""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.security.ratelimit import (
    DEFAULT_MAX_PREAUTH_PER_IP,
    LOOPBACK_HISTORY_LIMIT,
    PREAUTH_ENV,
    SCOPE_SHARED_SECRET,
    AuthLimiters,
    AuthRateLimiter,
    AuthRateLimitPolicy,
    ControlPlaneWriteLimiter,
    PreauthBudget,
    browser_origin_key,
    preauth_limit_from_env,
)

S = SCOPE_SHARED_SECRET
REMOTE = "203.0.113.9"


def _fail(limiter: AuthRateLimiter, ip: str, n: int, now: int = 0) -> list[int]:
    return [limiter.record_failure(ip, S, now) for _ in range(n)]


def test_ten_failures_lock_a_remote_ip_for_five_minutes() -> None:
    limiter = AuthRateLimiter()
    for i in range(9):
        limiter.record_failure(REMOTE, S, i)
        assert limiter.check(REMOTE, S, i).allowed
    limiter.record_failure(REMOTE, S, 9)
    check = limiter.check(REMOTE, S, 1_000)
    assert not check.allowed
    assert check.retry_after_ms == 300_000 + 9 - 1_000
    # Still locked just before the end, free after it (and the history is gone).
    assert not limiter.check(REMOTE, S, 300_008).allowed
    after = limiter.check(REMOTE, S, 300_009)
    assert after.allowed
    assert after.remaining == 10


def test_failures_outside_the_window_expire() -> None:
    limiter = AuthRateLimiter()
    _fail(limiter, REMOTE, 9, now=0)
    limiter.record_failure(REMOTE, S, 60_001)  # the first nine left the 60 s window
    assert limiter.check(REMOTE, S, 60_001).remaining == 9


def test_success_resets_and_other_ips_and_scopes_are_independent() -> None:
    limiter = AuthRateLimiter()
    _fail(limiter, REMOTE, 10)
    assert not limiter.check(REMOTE, S, 1).allowed
    assert limiter.check("198.51.100.1", S, 1).allowed
    assert limiter.check(REMOTE, "device-token", 1).allowed
    limiter.reset(REMOTE, S)
    assert limiter.check(REMOTE, S, 1).allowed


def test_ipv4_and_ipv4_mapped_ipv6_share_one_bucket() -> None:
    limiter = AuthRateLimiter()
    _fail(limiter, "1.2.3.4", 5)
    _fail(limiter, "::ffff:1.2.3.4", 5)
    assert not limiter.check("1.2.3.4", S, 0).allowed
    assert not limiter.check("::FFFF:1.2.3.4", S, 0).allowed
    assert len(limiter) == 1


def test_loopback_is_never_locked_but_pays_an_escalating_capped_delay() -> None:
    limiter = AuthRateLimiter()
    delays = _fail(limiter, "127.0.0.1", 8)
    assert delays == [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]
    assert limiter.check("127.0.0.1", S, 0).allowed
    assert limiter.check("::1", S, 0).allowed
    assert LOOPBACK_HISTORY_LIMIT == 6


def test_remote_failures_have_no_delay() -> None:
    assert _fail(AuthRateLimiter(), REMOTE, 3) == [0, 0, 0]


def test_browser_limiter_locks_out_loopback_origin_keys() -> None:
    limiters = AuthLimiters.create()
    evil = limiters.attempt("127.0.0.1", "https://evil.example", 0)
    assert evil.key == "browser-origin:https://evil.example"
    assert evil.limiter is limiters.browser
    for _ in range(10):
        evil.failed()
    assert evil.delay_ms == 0  # not exempt: no penalty, a lockout instead
    assert limiters.attempt("127.0.0.1", "https://EVIL.example:443", 1).blocked() == 300_000 - 1
    # Another Origin and the Origin-less loopback CLI are unaffected.
    assert limiters.attempt("127.0.0.1", "https://other.example", 1).blocked() is None
    assert limiters.attempt("127.0.0.1", None, 1).blocked() is None


def test_origin_from_a_remote_peer_is_keyed_by_ip_on_the_browser_limiter() -> None:
    limiters = AuthLimiters.create()
    attempt = limiters.attempt(REMOTE, "https://evil.example", 0)
    assert attempt.key == REMOTE
    assert attempt.limiter is limiters.browser


@pytest.mark.parametrize(
    ("origin", "key"),
    [
        ("http://localhost:5173", "browser-origin:http://localhost:5173"),
        ("HTTPS://Example.COM:443/", "browser-origin:https://example.com"),
        ("http://[::1]:80", "browser-origin:http://[::1]"),
        ("null", "198.18.0.1"),
        ("", "198.18.0.1"),
    ],
)
def test_browser_origin_key(origin: str, key: str) -> None:
    assert browser_origin_key(origin) == key


def test_policy_is_configurable() -> None:
    limiter = AuthRateLimiter(AuthRateLimitPolicy(max_attempts=2, window_ms=1_000, lockout_ms=50))
    _fail(limiter, REMOTE, 2)
    assert limiter.check(REMOTE, S, 10).retry_after_ms == 40
    assert limiter.check(REMOTE, S, 50).allowed


def test_tracked_keys_are_capped_and_live_lockouts_are_not_evicted() -> None:
    limiter = AuthRateLimiter(AuthRateLimitPolicy(max_attempts=1), max_entries=3)
    for i in range(3):
        limiter.record_failure(f"198.51.100.{i}", S, 0)  # each one locked out
    assert len(limiter) == 3
    # A fourth key cannot evict a lockout: the table enters an overflow lock instead.
    limiter.record_failure("198.51.100.200", S, 0)
    assert len(limiter) == 3
    assert not limiter.check("198.51.100.201", S, 1).allowed
    assert not limiter.check("198.51.100.0", S, 1).allowed
    # Once the lockouts expire, room is made again.
    assert limiter.check("198.51.100.201", S, 300_001).allowed


def test_expired_entries_are_evicted_to_make_room() -> None:
    limiter = AuthRateLimiter(max_entries=2)
    limiter.record_failure("198.51.100.1", S, 0)
    limiter.record_failure("198.51.100.2", S, 0)
    limiter.record_failure("198.51.100.3", S, 10)  # evicts an unlocked entry
    assert len(limiter) == 2


def test_prune_drops_stale_entries() -> None:
    limiter = AuthRateLimiter()
    limiter.record_failure(REMOTE, S, 0)
    limiter.prune(60_001)
    assert len(limiter) == 0


# --- control-plane write budget ---------------------------------------------------------------


def test_thirty_writes_per_minute_then_retry_after() -> None:
    limiter = ControlPlaneWriteLimiter()
    for i in range(30):
        assert limiter.consume("cron.add", "dev", "1.2.3.4", "c1", i).allowed
    denied = limiter.consume("cron.add", "dev", "1.2.3.4", "c1", 20_000)
    assert not denied.allowed
    assert denied.retry_after_ms == 40_000
    assert denied.key == "cron.add|dev|1.2.3.4"
    # Another method, device or IP has its own budget; the window reopens after 60 s.
    assert limiter.consume("cron.remove", "dev", "1.2.3.4", "c1", 20_000).allowed
    assert limiter.consume("cron.add", "dev2", "1.2.3.4", "c1", 20_000).allowed
    assert limiter.consume("cron.add", "dev", "1.2.3.4", "c1", 60_000).allowed
    assert limiter.limit_text() == "30 per 60s"


def test_anonymous_callers_do_not_share_a_bucket() -> None:
    assert (
        ControlPlaneWriteLimiter.client_key(None, None, "conn-1")
        == "unknown-device|unknown-ip|conn=conn-1"
    )
    assert ControlPlaneWriteLimiter.client_key(None, "1.2.3.4", "c") == "unknown-device|1.2.3.4"


def test_write_buckets_are_capped_and_pruned() -> None:
    limiter = ControlPlaneWriteLimiter(max_entries=5)
    for i in range(20):
        limiter.consume("m", f"d{i}", "ip", "c", 0)
    assert len(limiter) == 5
    assert limiter.prune(300_001) == 5
    assert len(limiter) == 0


# --- pre-auth socket budget -------------------------------------------------------------------


def test_preauth_budget_per_ip() -> None:
    budget = PreauthBudget(2)
    assert budget.acquire("1.2.3.4")
    assert budget.acquire("::ffff:1.2.3.4")
    assert not budget.acquire("1.2.3.4")
    assert budget.acquire("5.6.7.8")
    budget.release("1.2.3.4")
    assert budget.acquire("1.2.3.4")
    budget.release("1.2.3.4")
    budget.release("1.2.3.4")
    budget.release("1.2.3.4")  # extra releases are harmless
    assert budget.count("1.2.3.4") == 0


@pytest.mark.parametrize(
    ("value", "limit"),
    [("7", 7), ("", DEFAULT_MAX_PREAUTH_PER_IP), ("0", 32), ("-3", 32), ("x", 32), ("2.5", 32)],
)
def test_preauth_limit_from_env(value: str, limit: int) -> None:
    assert preauth_limit_from_env({PREAUTH_ENV: value}) == limit


def test_policy_from_config() -> None:
    from openclaw_gateway.core import config
    from openclaw_gateway.security.ratelimit import policy_from_config

    loaded = config.structure(
        {"gateway": {"auth": {"rateLimit": {"maxAttempts": 3, "exemptLoopback": False}}}}
    )
    policy = policy_from_config(loaded.gateway.auth.rate_limit)
    assert policy == AuthRateLimitPolicy(max_attempts=3, exempt_loopback=False)
    assert policy_from_config(config.RateLimitConfig()) == AuthRateLimitPolicy()


# --- the limiter inside admission -------------------------------------------------------------


def _admission_attempt(
    limiters: AuthLimiters, peer_ip: str = REMOTE, origin: str | None = None
) -> Any:
    return limiters.attempt(peer_ip, origin, 0)


def test_admission_records_a_wrong_secret_and_refuses_while_locked() -> None:
    from openclaw_gateway.protocol.handshake import Refusal
    from openclaw_gateway.server.admission import Peer, admit
    from tests.security.builders import TOKEN, TOKEN_POLICY, connect_request

    limiters = AuthLimiters.create()
    peer = Peer(remote_ip=REMOTE, is_loopback=False)
    for _ in range(10):
        attempt = _admission_attempt(limiters)
        admit(connect_request(auth={"token": "wrong"}), peer, TOKEN_POLICY, attempt=attempt)
    attempt = _admission_attempt(limiters)
    refused = admit(connect_request(auth={"token": TOKEN}), peer, TOKEN_POLICY, attempt=attempt)
    assert isinstance(refused, Refusal)
    assert refused.error is not None
    assert refused.error["retryable"] is True
    assert refused.error["retryAfterMs"] == 300_000
    assert refused.error["details"]["code"] == "AUTH_RATE_LIMITED"


def test_origin_rejection_and_missing_credentials_do_not_touch_the_limiter() -> None:
    from openclaw_gateway.server.admission import Peer, admit
    from tests.security.builders import TOKEN_POLICY, connect_request

    limiters = AuthLimiters.create()
    evil = Peer(remote_ip="127.0.0.1", is_loopback=True, origin="https://evil.example")
    admit(
        connect_request(auth={"token": "wrong"}),
        evil,
        TOKEN_POLICY,
        attempt=_admission_attempt(limiters, "127.0.0.1", evil.origin),
    )
    remote = Peer(remote_ip=REMOTE, is_loopback=False)
    admit(connect_request(auth=None), remote, TOKEN_POLICY, attempt=_admission_attempt(limiters))
    assert len(limiters.ip) == 0
    assert len(limiters.browser) == 0
