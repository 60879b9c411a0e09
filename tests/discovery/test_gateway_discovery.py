"""Discovery inside the in-process gateway (host namespace, so no real mDNS here): a broken
announcer only degrades discovery, and the wide-area zone is written at start."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import attrs
import trio

from openclaw_gateway.discovery.runtime import DiscoveryPlan, plan_discovery
from openclaw_gateway.discovery.wide_area import NO_TAILNET_WARNING, extract_serial
from tests.helpers import LOOPBACK_ONLY, connected, start_gateway

ENABLED = {"plugins": {"entries": {"bonjour": {"enabled": True}}}}


def _plan(
    tmp_path: Path, raw: dict[str, Any], env: dict[str, str], **changes: Any
) -> DiscoveryPlan:
    state = tmp_path / "state"
    plan = plan_discovery(
        raw,
        env,
        port=18789,
        bind=LOOPBACK_ONLY,
        state_dir=state,
        config_path=state / "openclaw.json",
        container=False,
        platform="linux",
        hostname="studio.example.com",
    )
    return attrs.evolve(plan, **changes)


def _cannot_bind() -> Any:
    # What zeroconf raises when the mDNS socket cannot be bound (EADDRNOTAVAIL).
    raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")


async def test_announcer_that_cannot_start_leaves_the_gateway_healthy(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path, ENABLED, {"OPENCLAW_DISABLE_BONJOUR": "0"}, zeroconf_factory=_cannot_bind
    )
    assert plan.announce
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, discovery=plan)
            async with connected(gw.port) as client:
                health = await client.call("health")
            assert health["ok"] is True, health
            gw.shutdown.set()
    gw.settings.logger.close()
    out = gw.stdout.getvalue() + gw.stderr.getvalue()  # warnings go to stderr
    assert (
        "[discovery] gateway discovery service failed (bonjour, plugin=bonjour): "
        "[Errno 99] Cannot assign requested address" in out
    )
    assert "[shutdown] completed cleanly" in out


async def test_wide_area_zone_is_written_once_and_kept_when_unchanged(tmp_path: Path) -> None:
    raw = {"discovery": {"wideArea": {"domain": "openclaw.example"}}}
    plan = _plan(tmp_path, raw, {}, interfaces=lambda: [("tailscale0", "100.101.102.103")])
    assert not plan.announce  # Linux default: the bonjour plugin is off
    zone = tmp_path / "state" / "dns" / "openclaw.example.db"
    for round_ in range(2):
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                gw = await start_gateway(nursery, tmp_path / f"run{round_}", discovery=plan)
                gw.shutdown.set()
        gw.settings.logger.close()
        state = "updated" if round_ == 0 else "unchanged"
        assert f"[discovery] wide-area DNS-SD {state} (openclaw.example. → {zone})" in (
            gw.stdout.getvalue()
        )
        if round_ == 0:
            first = zone.read_text()
            assert "studio IN A 100.101.102.103" in first
            assert "studio-gateway._openclaw-gw._tcp IN SRV 0 0 18789 studio" in first
    assert zone.read_text() == first and extract_serial(first) is not None


async def test_wide_area_without_a_tailnet_address_warns(tmp_path: Path) -> None:
    raw = {"discovery": {"wideArea": {"domain": "openclaw.example"}}}
    plan = _plan(tmp_path, raw, {}, interfaces=lambda: [("eth0", "192.0.2.10")])
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(nursery, tmp_path, discovery=plan)
            gw.shutdown.set()
    gw.settings.logger.close()
    assert f"[discovery] {NO_TAILNET_WARNING}" in gw.stderr.getvalue()
    assert not (tmp_path / "state" / "dns").exists()
