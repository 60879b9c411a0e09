"""Discovery at gateway start: the plan (from config + env, built by `gateway run`) and the
supervisor service that writes the wide-area zone and runs the announcer (official
`server-discovery-runtime-*.mjs`).

The zone is written whenever `discovery.wideArea.domain` is set, even when LAN mDNS is off
(as the official). Discovery state is not reported in `health`/`status`: the official does
not report it either.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from openclaw_gateway.core.logs import Logger
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.discovery import wide_area
from openclaw_gateway.discovery.txt import (
    AdvertiseContext,
    advertise_timeout_s,
    announce_gate,
    machine_display_name,
    mdns_host_label,
    mdns_mode,
    parse_tcp_port,
    resolve_cli_path,
    system_host_label,
    tailnet_dns_hint,
    wide_area_domain_setting,
)
from openclaw_gateway.host.netbind import BindPlan, interface_ipv4s, pick_tailnet_ipv4

if TYPE_CHECKING:
    from openclaw_gateway.discovery.announcer import Announcer

SUBSYSTEM = "discovery"


@attrs.frozen
class WideAreaPlan:
    domain_setting: str  # discovery.wideArea.domain as configured
    config_dir: Path
    system_host: str


@attrs.frozen
class DiscoveryPlan:
    ctx: AdvertiseContext
    announce: bool
    gate_reason: str
    timeout_s: float
    wide_area: WideAreaPlan | None
    interfaces: Callable[[], list[tuple[str, str]]] = interface_ipv4s
    zeroconf_factory: Callable[[], Any] | None = None  # tests: a failing or recording factory


def plan_discovery(
    raw_config: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    port: int,
    bind: BindPlan,
    state_dir: Path,
    config_path: Path,
    container: bool,
    platform: str = sys.platform,
    hostname: str | None = None,
    tls_fingerprint: str | None = None,  # the served certificate's; None when TLS is off
) -> DiscoveryPlan:
    host = hostname if hostname is not None else socket.gethostname()
    minimal = mdns_mode(raw_config) != "full"
    ctx = AdvertiseContext(
        port=port,
        machine_display_name=machine_display_name(host),
        host_label=mdns_host_label(env, host),
        minimal=minimal,
        direct_reachable=not all(is_loopback(h) for h, _ in bind.hosts),
        tls_enabled=tls_fingerprint is not None,
        tls_fingerprint_sha256=tls_fingerprint,
        ssh_port=None if minimal else parse_tcp_port(env.get("OPENCLAW_SSH_PORT")),
        cli_path=None
        if minimal
        else resolve_cli_path(
            env,
            executable=sys.executable,
            argv0=sys.argv[0] if sys.argv else None,
            cwd=os.getcwd(),
        ),
        tailnet_dns=tailnet_dns_hint(env, None),
    )
    gate = announce_gate(raw_config, env, platform=platform, container=container)
    domain = wide_area_domain_setting(raw_config)
    wide = (
        WideAreaPlan(
            domain,
            wide_area.config_dir(env, state_dir, config_path),
            system_host_label(host) or host.split(".")[0] or "openclaw",
        )
        if domain
        else None
    )
    return DiscoveryPlan(ctx, gate.announce, gate.reason, advertise_timeout_s(env), wide)


def _announce_addresses(interfaces: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Every non-loopback IPv4 (ciao announces on all interfaces); 127.0.0.1 when none."""
    found = tuple(dict.fromkeys(ip for _, ip in interfaces))
    return found or ("127.0.0.1",)


def update_zone(plan: DiscoveryPlan, wide: WideAreaPlan, log: Logger) -> None:
    try:
        domain = wide_area.normalize_domain(wide.domain_setting)
    except wide_area.InvalidDomain:
        domain = None
    if not domain:
        log.warn(
            SUBSYSTEM,
            "wide-area discovery was requested without a domain; set "
            "discovery.wideArea.domain to enable unicast DNS-SD",
        )
        return
    interfaces = plan.interfaces()
    ipv4 = pick_tailnet_ipv4(interfaces)
    if ipv4 is None:
        log.warn(SUBSYSTEM, wide_area.NO_TAILNET_WARNING)
        return
    zone = wide_area.ZoneInput(domain, plan.ctx, wide.system_host, ipv4)
    try:
        result = wide_area.write_zone(wide.config_dir, zone)
    except OSError as exc:
        log.warn(SUBSYSTEM, f"wide-area discovery update failed: {exc}")
        return
    state = "updated" if result.changed else "unchanged"
    log.info(SUBSYSTEM, f"wide-area DNS-SD {state} ({domain} → {result.path})")


async def run_discovery(
    plan: DiscoveryPlan,
    log: Logger,
    *,
    tailscale_url: str | None = None,
    tls_renewals: trio.abc.ReceiveChannel[str] | None = None,
    task_status: trio.TaskStatus[Announcer | None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Write the wide-area zone (if configured), then announce until cancelled (if allowed).
    Each fingerprint from `tls_renewals` (a renewed certificate) rewrites the zone and the
    beacon's TXT, as the official refreshes discovery with the served fingerprint."""
    if plan.ctx.tailnet_dns is None and tailscale_url:
        plan = attrs.evolve(
            plan, ctx=attrs.evolve(plan.ctx, tailnet_dns=tailnet_dns_hint({}, tailscale_url))
        )
    if plan.wide_area is not None:
        await trio.to_thread.run_sync(update_zone, plan, plan.wide_area, log)
    announcer: Announcer | None = None
    async with trio.open_nursery() as nursery:
        if plan.announce:
            # Imported only when announcing: zeroconf costs ~25 ms and ~3 MB at every start
            # otherwise (announcing is off by default on Linux).
            from openclaw_gateway.discovery.announcer import AnnouncePlan, run_announcer

            addresses = _announce_addresses(await trio.to_thread.run_sync(plan.interfaces))
            announce = AnnouncePlan(plan.ctx, addresses, plan.timeout_s)
            if plan.zeroconf_factory is not None:
                announce = attrs.evolve(announce, zeroconf_factory=plan.zeroconf_factory)
            announcer = await nursery.start(run_announcer, announce, log)
        else:
            log.debug(SUBSYSTEM, f"bonjour: not announcing: {plan.gate_reason}")
        task_status.started(announcer)
        if tls_renewals is not None:
            async for fingerprint in tls_renewals:
                plan = attrs.evolve(
                    plan, ctx=attrs.evolve(plan.ctx, tls_fingerprint_sha256=fingerprint)
                )
                if plan.wide_area is not None:
                    await trio.to_thread.run_sync(update_zone, plan, plan.wide_area, log)
                if announcer is not None:
                    await announcer.update(plan.ctx)
