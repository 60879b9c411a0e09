"""Rate limits and budgets (protocol.md §1.1, §1.6 item 5, §3.3). Pure: time comes in as `now_ms`.

Three independent mechanisms, each a port of the official module of the same purpose:

- `AuthRateLimiter` (auth-rate-limit.ts): failed shared-secret attempts per `<scope>:<client>`.
  10 wrong credentials in 60 s lock the key out for 300 s. Loopback keys are never locked out
  (a local CLI must always be able to recover) but each failure earns an escalating delay that
  the caller sleeps before answering (`AuthAttempt.delay_ms`). A second limiter without the
  loopback exemption serves connections that carry an `Origin` header, keyed
  `browser-origin:<origin>` when the peer is loopback: a web page on the user's own machine is
  not the user.
- `ControlPlaneWriteLimiter` (control-plane-rate-limit.ts): 30 calls per 60 s per
  (method, device id, client IP) for methods flagged control-plane-write.
- `PreauthBudget` (preauth-connection-budget.ts): at most 32 unauthenticated sockets per IP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from openclaw_gateway.core.config import RateLimitConfig
from openclaw_gateway.core.netaddr import is_loopback, normalize_ip

SCOPE_SHARED_SECRET = "shared-secret"
BROWSER_ORIGIN_KEY_PREFIX = "browser-origin:"
# An Origin that cannot be parsed still needs a non-loopback key (the official constant).
BROWSER_ORIGIN_FALLBACK_KEY = "198.18.0.1"

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_WINDOW_MS = 60_000
DEFAULT_LOCKOUT_MS = 300_000
DEFAULT_MAX_ENTRIES = 10_000
LOOPBACK_DELAY_BASE_MS = 250
LOOPBACK_DELAY_MAX_MS = 5_000
# Enough history to reach the cap: ceil(log2(5000 / 250)) + 1 = 6.
LOOPBACK_HISTORY_LIMIT = math.ceil(math.log2(LOOPBACK_DELAY_MAX_MS / LOOPBACK_DELAY_BASE_MS)) + 1

CONTROL_PLANE_LIMIT = 30
CONTROL_PLANE_WINDOW_MS = 60_000
CONTROL_PLANE_STALE_MS = 300_000
CONTROL_PLANE_MAX_ENTRIES = 10_000

DEFAULT_MAX_PREAUTH_PER_IP = 32
PREAUTH_ENV = "OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP"
UNKNOWN_BUDGET_KEY = "__openclaw_unknown_client_ip__"


def limiter_key(raw: str) -> str:
    """The client part of a limiter key: prefixed keys as they are, IPs canonical."""
    if raw.startswith(BROWSER_ORIGIN_KEY_PREFIX):
        return raw
    return normalize_ip(raw) or "unknown"


def browser_origin_key(origin: str | None) -> str:
    """`browser-origin:<scheme://host[:port]>`, lower-cased, for an Origin from a loopback peer."""
    text = (origin or "").strip()
    if not text:
        return BROWSER_ORIGIN_FALLBACK_KEY
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return BROWSER_ORIGIN_FALLBACK_KEY
    if not parts.scheme or not parts.hostname:
        return BROWSER_ORIGIN_FALLBACK_KEY
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme.lower())
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{BROWSER_ORIGIN_KEY_PREFIX}{parts.scheme.lower()}://{host}{suffix}"


@attrs.frozen
class AuthRateLimitPolicy:
    """`gateway.auth.rateLimit` with the official defaults."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    window_ms: int = DEFAULT_WINDOW_MS
    lockout_ms: int = DEFAULT_LOCKOUT_MS
    exempt_loopback: bool = True


def policy_from_config(config: RateLimitConfig) -> AuthRateLimitPolicy:
    """gateway.auth.rateLimit -> policy; unset (or negative) values keep the defaults."""
    default = AuthRateLimitPolicy()

    def pick(value: int | None, fallback: int) -> int:
        return value if value is not None and value >= 0 else fallback

    return AuthRateLimitPolicy(
        max_attempts=pick(config.max_attempts, default.max_attempts),
        window_ms=pick(config.window_ms, default.window_ms),
        lockout_ms=pick(config.lockout_ms, default.lockout_ms),
        exempt_loopback=default.exempt_loopback
        if config.exempt_loopback is None
        else config.exempt_loopback,
    )


@attrs.frozen
class RateCheck:
    allowed: bool
    remaining: int
    retry_after_ms: int = 0


@attrs.define
class _Entry:
    attempts: list[int] = attrs.field(factory=list)
    locked_until: int | None = None


class AuthRateLimiter:
    """Sliding-window failure counter per `<scope>:<client>` with lockout."""

    def __init__(
        self, policy: AuthRateLimitPolicy | None = None, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        self.policy = policy or AuthRateLimitPolicy()
        self.max_entries = max(1, max_entries)
        self._entries: dict[str, _Entry] = {}
        # Set when the table is full of live lockouts: new keys are refused until it ends, so
        # an attacker cannot evict a real lockout by flooding unique keys.
        self._overflow_locked_until: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def _key(self, client: str, scope: str) -> tuple[str, str]:
        ip = limiter_key(client)
        return f"{scope.strip() or 'default'}:{ip}", ip

    def is_exempt(self, client: str) -> bool:
        return self.policy.exempt_loopback and is_loopback(limiter_key(client))

    def _refresh(self, entry: _Entry, now_ms: int) -> None:
        if entry.locked_until is not None and now_ms >= entry.locked_until:
            entry.locked_until = None
            entry.attempts = []
        cutoff = now_ms - self.policy.window_ms
        entry.attempts = [t for t in entry.attempts if t > cutoff]

    def check(self, client: str, scope: str, now_ms: int) -> RateCheck:
        key, ip = self._key(client, scope)
        maximum = self.policy.max_attempts
        if self.is_exempt(ip):
            return RateCheck(True, maximum)
        entry = self._entries.get(key)
        if entry is None:
            overflow = self._check_overflow(now_ms)
            return overflow if overflow is not None else RateCheck(True, maximum)
        self._refresh(entry, now_ms)
        if entry.locked_until is None and len(entry.attempts) >= maximum:
            entry.locked_until = now_ms + self.policy.lockout_ms
        if entry.locked_until is not None and now_ms < entry.locked_until:
            return RateCheck(False, 0, entry.locked_until - now_ms)
        remaining = max(0, maximum - len(entry.attempts))
        return RateCheck(remaining > 0, remaining)

    def record_failure(self, client: str, scope: str, now_ms: int) -> int:
        """Count one wrong credential. Returns the delay (ms) to impose before answering."""
        key, ip = self._key(client, scope)
        exempt = self.is_exempt(ip)
        entry = self._entries.get(key)
        if entry is None:
            if not self._make_room(now_ms):
                self._overflow_locked_until = max(
                    self._overflow_locked_until or 0, now_ms + self.policy.lockout_ms
                )
                return 0
            entry = self._entries[key] = _Entry()
        if not exempt and entry.locked_until is not None and now_ms < entry.locked_until:
            return 0
        self._refresh(entry, now_ms)
        entry.attempts.append(now_ms)
        if exempt:
            del entry.attempts[:-LOOPBACK_HISTORY_LIMIT]
            failures = len(entry.attempts)
            return int(
                min(LOOPBACK_DELAY_BASE_MS * 2 ** min(failures - 1, 30), LOOPBACK_DELAY_MAX_MS)
            )
        if len(entry.attempts) >= self.policy.max_attempts:
            entry.locked_until = now_ms + self.policy.lockout_ms
        return 0

    def reset(self, client: str, scope: str) -> None:
        self._entries.pop(self._key(client, scope)[0], None)

    def prune(self, now_ms: int) -> None:
        for key, entry in list(self._entries.items()):
            if entry.locked_until is not None and now_ms < entry.locked_until:
                continue
            self._refresh(entry, now_ms)
            if not entry.attempts:
                del self._entries[key]

    def _check_overflow(self, now_ms: int) -> RateCheck | None:
        until = self._overflow_locked_until
        if until is None:
            return None
        if now_ms >= until:
            self._overflow_locked_until = None
            return None
        if len(self._entries) >= self.max_entries:
            self.prune(now_ms)
        if len(self._entries) < self.max_entries:
            self._overflow_locked_until = None
            return None
        return RateCheck(False, 0, until - now_ms)

    def _make_room(self, now_ms: int) -> bool:
        if len(self._entries) < self.max_entries:
            return True
        self.prune(now_ms)
        if len(self._entries) < self.max_entries:
            return True
        for key, entry in self._entries.items():
            if entry.locked_until is None or now_ms >= entry.locked_until:
                del self._entries[key]
                return True
        return False


@attrs.define
class AuthLimiters:
    """The gateway's two shared-secret limiters: one per IP, one for Origin-bearing sockets."""

    ip: AuthRateLimiter
    browser: AuthRateLimiter

    @classmethod
    def create(cls, policy: AuthRateLimitPolicy | None = None) -> AuthLimiters:
        policy = policy or AuthRateLimitPolicy()
        return cls(
            AuthRateLimiter(policy), AuthRateLimiter(attrs.evolve(policy, exempt_loopback=False))
        )

    def attempt(self, client_ip: str, origin: str | None, now_ms: int) -> AuthAttempt:
        """The limiter and key for one handshake (official resolveHandshakeBrowserSecurityContext)."""
        if origin and origin.strip():
            key = browser_origin_key(origin) if is_loopback(client_ip) else client_ip
            return AuthAttempt(self.browser, key, now_ms)
        return AuthAttempt(self.ip, client_ip, now_ms)


@attrs.define
class AuthAttempt:
    """One handshake's view of a limiter: admission asks and reports; the connection sleeps
    `delay_ms` (loopback penalty) before it answers."""

    limiter: AuthRateLimiter
    key: str
    now_ms: int
    scope: str = SCOPE_SHARED_SECRET
    delay_ms: int = 0
    # A wrong secret was seen; it is counted only if the connect ends refused (the official
    # deferral for a device-token fallback that may still succeed).
    mismatched: bool = False

    def blocked(self) -> int | None:
        """retryAfterMs if this client is locked out, else None."""
        result = self.limiter.check(self.key, self.scope, self.now_ms)
        return None if result.allowed else result.retry_after_ms

    def failed(self) -> None:
        self.delay_ms = max(
            self.delay_ms, self.limiter.record_failure(self.key, self.scope, self.now_ms)
        )

    def succeeded(self) -> None:
        self.limiter.reset(self.key, self.scope)


@attrs.frozen
class WriteBudget:
    allowed: bool
    retry_after_ms: int
    remaining: int
    key: str


@attrs.define
class _Bucket:
    count: int
    window_start_ms: int


def _identity_part(value: str | None, fallback: str) -> str:
    text = (value or "").strip()
    return text or fallback


class ControlPlaneWriteLimiter:
    """Fixed window of 30 calls per 60 s per (method, device id, client IP)."""

    def __init__(
        self,
        limit: int = CONTROL_PLANE_LIMIT,
        window_ms: int = CONTROL_PLANE_WINDOW_MS,
        max_entries: int = CONTROL_PLANE_MAX_ENTRIES,
    ) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self.max_entries = max_entries
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    @staticmethod
    def client_key(device_id: str | None, client_ip: str | None, conn_id: str) -> str:
        device = _identity_part(device_id, "unknown-device")
        ip = _identity_part(client_ip, "unknown-ip")
        if device == "unknown-device" and ip == "unknown-ip" and conn_id:
            # Anonymous callers must not share one fallback bucket.
            return f"{device}|{ip}|conn={conn_id}"
        return f"{device}|{ip}"

    def consume(
        self, method: str, device_id: str | None, client_ip: str | None, conn_id: str, now_ms: int
    ) -> WriteBudget:
        key = f"{method}|{self.client_key(device_id, client_ip, conn_id)}"
        bucket = self._buckets.get(key)
        if bucket is None or now_ms - bucket.window_start_ms >= self.window_ms:
            if bucket is None and len(self._buckets) >= self.max_entries:
                # Oldest first (dict order): a flood of unique keys cannot grow memory.
                for old in list(self._buckets)[: len(self._buckets) - self.max_entries + 1]:
                    del self._buckets[old]
            self._buckets[key] = _Bucket(1, now_ms)
            return WriteBudget(True, 0, self.limit - 1, key)
        if bucket.count >= self.limit:
            retry = max(0, bucket.window_start_ms + self.window_ms - now_ms)
            return WriteBudget(False, retry, 0, key)
        bucket.count += 1
        return WriteBudget(True, 0, max(0, self.limit - bucket.count), key)

    def prune(self, now_ms: int) -> int:
        stale = [
            k
            for k, b in self._buckets.items()
            if now_ms - b.window_start_ms > CONTROL_PLANE_STALE_MS
        ]
        for key in stale:
            del self._buckets[key]
        return len(stale)

    def limit_text(self) -> str:
        return f"{self.limit} per {self.window_ms // 1000}s"


def preauth_limit_from_env(env: Mapping[str, str]) -> int:
    """OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP: a strict positive integer, else the default."""
    raw = env.get(PREAUTH_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return DEFAULT_MAX_PREAUTH_PER_IP


class PreauthBudget:
    """Concurrent unauthenticated sockets per client IP."""

    def __init__(self, limit: int = DEFAULT_MAX_PREAUTH_PER_IP) -> None:
        self.limit = max(1, limit)
        self._counts: dict[str, int] = {}

    @staticmethod
    def _key(client_ip: str | None) -> str:
        return normalize_ip(client_ip) or (client_ip or "").strip() or UNKNOWN_BUDGET_KEY

    def count(self, client_ip: str | None) -> int:
        return self._counts.get(self._key(client_ip), 0)

    def acquire(self, client_ip: str | None) -> bool:
        key = self._key(client_ip)
        following = self._counts.get(key, 0) + 1
        if following > self.limit:
            return False
        self._counts[key] = following
        return True

    def release(self, client_ip: str | None) -> None:
        key = self._key(client_ip)
        current = self._counts.get(key)
        if current is None:
            return
        if current <= 1:
            del self._counts[key]
        else:
            self._counts[key] = current - 1
