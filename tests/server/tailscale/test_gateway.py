"""The controller inside the in-process gateway: exact argv, status/health, death, shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.supervisor import run_gateway
from openclaw_gateway.server.tailscale import TailscaleError
from tests.helpers import RunningGateway, connected, make_settings, raw_client, start_gateway
from tests.server.integration.support import ws_rejection
from tests.server.tailscale.fake import FakeTailscale

PASSWORD = "correct-horse-battery-staple-1234"
HOST = "fakehost.tail1234.ts.net"
TOKEN = "tailnet-test-token-0123456789abcdef"


async def _status(gw: RunningGateway, **connect: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    async with connected(gw.port, **connect) as client:
        status = await client.call("status")
        health = await client.call("health")
    assert status["ok"] and health["ok"], (status, health)
    return status["payload"], health["payload"]


def _startup_sequence(fake: FakeTailscale, mode: str, gateway_port: int) -> list[list[str]]:
    """The official order; the claim points at the managed ingress, never the gateway port."""
    port = fake.claim_port()
    assert port != gateway_port
    return [
        ["version"],
        ["status", "--json"],
        ["serve", "status", "--json"],
        [mode, "--yes", "--bg=false", str(port)],
        ["status", "--json"],
    ]


async def test_serve_sequence_url_status_and_sigterm_after_the_listener(
    tmp_path: Path, fake: FakeTailscale
) -> None:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, tailscale_mode="serve")
            assert fake.commands() == _startup_sequence(fake, "serve", gw.port)
            assert (
                f"[tailscale] serve enabled: https://{HOST}/ (WS via wss://{HOST})"
                in gw.stdout.getvalue()
            )
            status, health = await _status(gw)
            expected = {
                "mode": "serve",
                "state": "active",
                "url": f"https://{HOST}/",
                "error": None,
            }
            assert status["tailscale"] == expected
            assert health["tailscale"] == expected
            gw.shutdown.set()
    # The listener was closed before the claim got SIGTERM; no reset without reset-on-exit.
    assert fake.calls()[5:] == [["SIGTERM", "serve", "listener=closed"]]
    gw.settings.logger.close()


async def test_funnel_with_password_auth(tmp_path: Path, fake: FakeTailscale) -> None:
    policy = AuthPolicy(mode="password", password=PASSWORD)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, tailscale_mode="funnel", policy=policy)
            assert fake.commands() == _startup_sequence(fake, "funnel", gw.port)
            assert f"[tailscale] funnel enabled: https://{HOST}/" in gw.stdout.getvalue()
            status, _ = await _status(gw, auth={"password": PASSWORD})
            assert status["tailscale"]["mode"] == "funnel"
            gw.shutdown.set()
    assert fake.calls()[5:] == [["SIGTERM", "funnel", "listener=closed"]]
    gw.settings.logger.close()


@pytest.mark.parametrize("mode", ["serve", "funnel"])
async def test_reset_on_exit_runs_after_the_claim_stopped(
    tmp_path: Path, fake: FakeTailscale, mode: str
) -> None:
    policy = AuthPolicy(mode="password", password=PASSWORD)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(
                nursery,
                tmp_path,
                tailscale_mode=mode,
                tailscale_reset_on_exit=True,
                policy=policy,
            )
            gw.shutdown.set()
    assert fake.calls()[5:] == [["SIGTERM", mode, "listener=closed"], [mode, "reset"]]
    assert f"[tailscale] {mode} reset" in gw.stdout.getvalue()
    gw.settings.logger.close()


async def test_claim_death_is_logged_and_reported(tmp_path: Path, fake: FakeTailscale) -> None:
    fake.configure(claim="die", die_after=0.3)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, tailscale_mode="serve")
            while True:
                status, health = await _status(gw)
                if status["tailscale"]["state"] != "active":
                    break
                await trio.sleep(0.05)
            expected = {
                "mode": "serve",
                "state": "exited",
                "url": f"https://{HOST}/",
                "error": "route claim exited (code 3): claim lost",
            }
            assert status["tailscale"] == expected
            assert health["tailscale"] == expected
            assert (
                "[tailscale] serve route claim exited; managed Tailscale ingress is unavailable "
                "until the Gateway restarts" in gw.stderr.getvalue()
            )
            # The gateway keeps serving without the route.
            status, _ = await _status(gw)
            assert status["tailscale"]["state"] == "exited"
            gw.shutdown.set()
    assert not any(call[:1] == ["SIGTERM"] for call in fake.calls())
    gw.settings.logger.close()


async def test_startup_failure_stops_the_gateway(tmp_path: Path, fake: FakeTailscale) -> None:
    fake.configure(claim="exit_early")
    settings, _, err = make_settings(tmp_path, tailscale_mode="serve")
    with trio.fail_after(30), pytest.raises(TailscaleError, match="something went wrong"):
        await run_gateway(settings)
    assert "[tailscale] serve failed: serve: something went wrong" in err.getvalue()
    settings.logger.close()
    # The state lock is released: the same state dir starts again.
    fake.configure()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, tailscale_mode="serve")
            gw.shutdown.set()
    gw.settings.logger.close()


async def test_tailscale_off_adds_nothing(tmp_path: Path, fake: FakeTailscale) -> None:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path)
            status, health = await _status(gw)
            gw.shutdown.set()
    assert "tailscale" not in status
    assert "tailscale" not in health
    assert fake.calls() == []
    gw.settings.logger.close()


async def test_shutdown_while_waiting_for_the_daemon(tmp_path: Path, fake: FakeTailscale) -> None:
    fake.configure(backend_states=["Starting"] * 1000)
    settings, out, _ = make_settings(tmp_path, tailscale_mode="serve")
    shutdown = trio.Event()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_gateway(settings, shutdown=shutdown))
            for _ in range(500):  # the log line, then SIGTERM-equivalent
                if "waiting for the local Tailscale daemon (Starting)" in out.getvalue():
                    break
                await trio.sleep(0.02)
            shutdown.set()
    assert fake.commands()[:2] == [["version"], ["status", "--json"]]
    assert not any(call[0] in ("serve", "funnel") for call in fake.calls())
    assert "[gateway] ready" not in out.getvalue()
    assert "[shutdown] completed cleanly" in out.getvalue()
    settings.logger.close()


TAILSCALE_PROXY_HEADERS = {
    "x_forwarded_for": "100.101.1.2",
    "x_forwarded_proto": "https",
    "x_forwarded_host": HOST,
}


async def _upgrade_status(port: int, **headers: str) -> int | None:
    """None when the upgrade was accepted, else the HTTP status it was refused with."""
    rejected = await ws_rejection(port, **{k.replace("_", "-"): v for k, v in headers.items()})
    return None if rejected is None else rejected.status_code


async def test_the_route_reaches_a_loopback_ingress_of_its_own(
    tmp_path: Path, fake: FakeTailscale
) -> None:
    policy = AuthPolicy(mode="token", token=TOKEN)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, tailscale_mode="serve", policy=policy)
            ingress = fake.claim_port()
            # What Tailscale forwards is attributed to the tailnet client, a remote peer: it
            # authenticates like any remote client (no loopback trust), and is not refused.
            async with raw_client(ingress, **TAILSCALE_PROXY_HEADERS) as remote:
                ui = {"id": "openclaw-macos", "version": "t", "platform": "macos", "mode": "ui"}
                hello = await remote.connect(auth={"token": TOKEN}, client=ui)
                assert hello["ok"], hello
                # Remote and without a paired device: no scopes (a local client would get them).
                refused = await remote.call("system-presence")
                assert refused["error"]["details"]["missingScope"] == "operator.read"
                async with connected(gw.port, auth={"token": TOKEN}) as local:
                    presence = await local.call("system-presence")
                # The gateway sees the tailnet client behind Tailscale's proxy.
                assert "100.101.1.2" in {row.get("ip") for row in presence["payload"]}
            # The ingress is for Tailscale only: a local process dialling it directly, or
            # forwarded headers on the gateway port (no trustedProxies), get the 403.
            assert await _upgrade_status(ingress) == 403
            assert await _upgrade_status(gw.port, **TAILSCALE_PROXY_HEADERS) == 403
            serve_marker = {**TAILSCALE_PROXY_HEADERS, "tailscale_funnel_request": "?1"}
            assert await _upgrade_status(ingress, **serve_marker) == 403
            # Local clients keep using the gateway port as before.
            async with connected(gw.port, auth={"token": TOKEN}):
                pass
            gw.shutdown.set()
    gw.settings.logger.close()
