"""Failed-auth limiter attacks over a real 127.0.0.1 socket (protocol.md §3.3; security.md 8-12).

Remote clients are presented through a trusted 127.0.0.1 proxy (`X-Forwarded-For`), so one
test process can be many IPs. Each lockout test also checks that nothing was granted.
"""

from __future__ import annotations

from typing import Any

import trio

from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.ratelimit import AuthRateLimitPolicy
from tests.helpers import TOKEN
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import (
    ADMIN_SCOPES,
    Closed,
    StartGateway,
    read_until_closed,
    ws_client,
)

TIMEOUT = 20
CLI = {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"}
PASSWORD = "correct-horse-battery-staple-42"
RATE_LIMITED_DETAILS = {
    "code": "AUTH_RATE_LIMITED",
    "authReason": "rate_limited",
    "canRetryWithDeviceToken": False,
    "recommendedNextStep": "wait_then_retry",
}
RATE_LIMITED_MESSAGE = "unauthorized: too many failed authentication attempts (retry later)"
LOCKOUT_MS = 300_000


async def _connect(
    nursery: trio.Nursery, port: int, headers: dict[str, str], **overrides: Any
) -> tuple[dict[str, Any], Closed | None]:
    """One connect: the response frame, and how the socket closed if it was refused."""
    async with ws_client(nursery, port, **headers) as client:
        frame = await client.connect(client=CLI, scopes=ADMIN_SCOPES, **overrides)
        if frame["ok"]:
            return frame, None
        return frame, await read_until_closed(client)


def _via(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def _wrong(nursery: trio.Nursery, port: int, headers: dict[str, str], n: int) -> None:
    for _ in range(n):
        frame, _closed = await _connect(nursery, port, headers, auth={"token": "wrong-token"})
        assert frame["error"]["details"]["code"] == "AUTH_TOKEN_MISMATCH", frame


def _assert_rate_limited(frame: dict[str, Any], closed: Closed | None) -> None:
    error = frame["error"]
    assert list(error) == ["code", "message", "retryable", "retryAfterMs", "details"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"] == RATE_LIMITED_MESSAGE
    assert error["retryable"] is True
    assert 0 < error["retryAfterMs"] <= LOCKOUT_MS
    assert error["retryAfterMs"] > LOCKOUT_MS - 60_000  # "about 300 s"
    assert error["details"] == RATE_LIMITED_DETAILS
    assert closed is not None
    assert (closed.code, closed.reason) == (1008, RATE_LIMITED_MESSAGE[:120])


async def test_eleventh_wrong_token_from_one_ip_is_rate_limited(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(trusted_proxies=("127.0.0.1",))
    attacker = _via("198.51.100.7")
    with trio.fail_after(TIMEOUT):
        await _wrong(nursery, gw.port, attacker, 10)
        frame, closed = await _connect(nursery, gw.port, attacker, auth={"token": "wrong"})
        _assert_rate_limited(frame, closed)
        # While locked even the right token is refused: no scope is granted.
        frame, closed = await _connect(nursery, gw.port, attacker)
        _assert_rate_limited(frame, closed)
        # Another IP and the direct loopback CLI are unaffected.
        frame, _ = await _connect(nursery, gw.port, _via("198.51.100.8"))
        assert frame["ok"], frame
        frame, _ = await _connect(nursery, gw.port, {})
        assert frame["ok"], frame
        assert frame["payload"]["auth"]["scopes"] == ADMIN_SCOPES


async def test_browser_origin_flood_on_loopback_is_locked_per_origin(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    page = {"Origin": "http://localhost:5173"}  # accepted by the Origin policy (rule 5)
    with trio.fail_after(TIMEOUT):
        await _wrong(nursery, gw.port, page, 10)
        frame, closed = await _connect(nursery, gw.port, page)
        _assert_rate_limited(frame, closed)
        # Keyed per Origin: another page, and the Origin-less loopback CLI, still get in.
        frame, _ = await _connect(nursery, gw.port, {"Origin": "http://127.0.0.1:3000"})
        assert frame["ok"], frame
        frame, _ = await _connect(nursery, gw.port, {})
        assert frame["ok"], frame


async def test_wrong_password_with_a_bogus_device_token_is_still_counted(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(
        trusted_proxies=("127.0.0.1",), policy=AuthPolicy(mode="password", password=PASSWORD)
    )
    attacker = _via("198.51.100.7")
    bogus = {"password": "wrong", "deviceToken": "not-a-real-device-token"}
    with trio.fail_after(TIMEOUT):
        for _ in range(10):
            frame, _closed = await _connect(nursery, gw.port, attacker, auth=bogus)
            assert frame["error"]["details"]["code"] == "AUTH_PASSWORD_MISMATCH", frame
        frame, closed = await _connect(nursery, gw.port, attacker, auth={"password": PASSWORD})
        _assert_rate_limited(frame, closed)


async def test_ipv4_and_its_mapped_ipv6_form_share_a_bucket(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(trusted_proxies=("127.0.0.1",))
    with trio.fail_after(TIMEOUT):
        await _wrong(nursery, gw.port, _via("1.2.3.4"), 5)
        await _wrong(nursery, gw.port, _via("::ffff:1.2.3.4"), 5)
        frame, closed = await _connect(nursery, gw.port, _via("1.2.3.4"))
        _assert_rate_limited(frame, closed)


async def test_missing_credentials_are_not_counted(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start(trusted_proxies=("127.0.0.1",))
    client_ip = _via("198.51.100.7")
    with trio.fail_after(TIMEOUT):
        for _ in range(15):
            frame, closed = await _connect(nursery, gw.port, client_ip, auth={})
            error = frame["error"]
            assert error["details"]["code"] == "DEVICE_IDENTITY_REQUIRED"
            assert "retryable" not in error
            assert closed is not None and closed.code == 1008
        frame, _ = await _connect(nursery, gw.port, client_ip)
        assert frame["ok"], frame


async def test_success_resets_the_count(nursery: trio.Nursery, start: StartGateway) -> None:
    gw = await start(trusted_proxies=("127.0.0.1",))
    client_ip = _via("198.51.100.7")
    with trio.fail_after(TIMEOUT):
        await _wrong(nursery, gw.port, client_ip, 9)
        frame, _ = await _connect(nursery, gw.port, client_ip, auth={"token": TOKEN})
        assert frame["ok"], frame
        await _wrong(nursery, gw.port, client_ip, 9)
        frame, _ = await _connect(nursery, gw.port, client_ip)
        assert frame["ok"], frame


async def test_loopback_is_never_locked_out_but_each_failure_is_delayed(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    """With maxAttempts 2, three loopback failures are still plain mismatches, answered after
    250, 500 and 1000 ms (real time: the delay is what is being measured)."""
    gw = await start(auth_rate_limit=AuthRateLimitPolicy(max_attempts=2))
    with trio.fail_after(TIMEOUT):
        for expected_ms in (250, 500, 1000):
            started = trio.current_time()
            frame, _ = await _connect(nursery, gw.port, {}, auth={"token": "wrong"})
            elapsed_ms = (trio.current_time() - started) * 1000
            assert frame["error"]["details"]["code"] == "AUTH_TOKEN_MISMATCH"
            assert expected_ms <= elapsed_ms < expected_ms + 1500, (expected_ms, elapsed_ms)
        frame, _ = await _connect(nursery, gw.port, {})
        assert frame["ok"], frame
