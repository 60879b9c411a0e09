"""The Bonjour announcer: a service of the supervisor (cli.md §6 "Advertising").

`run_announcer` (started with nursery.start) opens zeroconf (sync API, in a worker thread),
reports started with an `Announcer` handle and registers `<instance>._openclaw-gw._tcp.local.`
in the background: the ~1.7 s of mDNS probing never delays the gateway's start. A name another
host already uses is renamed the way the official responder (ciao) does: `studio (OpenClaw)
(2)`, then `(3)`… zeroconf probes with allow_name_change=False and we pick the next name
(its own renaming would give `studio (OpenClaw)-2`). Logged as the official does.

The supervisor calls `Announcer.withdraw()` as soon as shutdown begins, before the listener
closes, so clients see the goodbye (TTL 0) while the gateway still answers; it is shielded and
bounded by WITHDRAW_TIMEOUT. Leaving the task any other way withdraws too.

A failure (zeroconf cannot bind, a registration error) is a warning and leaves discovery off;
it never stops the gateway.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import attrs
import trio
from zeroconf import IPVersion, NonUniqueNameException, ServiceInfo, Zeroconf

from openclaw_gateway.core.logs import Logger
from openclaw_gateway.discovery.txt import (
    SERVICE_TYPE,
    AdvertiseContext,
    build_txt,
    instance_name,
    safe_service_name,
)

WITHDRAW_TIMEOUT = 2.0  # goodbyes take ~0.25 s (3 broadcasts, 125 ms apart) + close
REGISTRATION_WAIT_ON_WITHDRAW = 2.0  # a registration still probing at shutdown gets this long
MAX_NAME_ATTEMPTS = 10  # `name`, `name (2)` … `name (10)`; each attempt probes (~1.7 s)
MAX_LABEL_BYTES = 63
SUBSYSTEM = "discovery"
SERVICE_ID = "(bonjour, plugin=bonjour)"

ZeroconfFactory = Callable[[], Zeroconf]


def default_zeroconf() -> Zeroconf:
    return Zeroconf(ip_version=IPVersion.V4Only, use_asyncio=False)


@attrs.frozen
class AnnouncePlan:
    ctx: AdvertiseContext
    addresses: tuple[str, ...]  # IPv4 addresses for the host's A records
    timeout_s: float  # OPENCLAW_GATEWAY_DISCOVERY_ADVERTISE_TIMEOUT_MS
    zeroconf_factory: ZeroconfFactory = default_zeroconf


def numbered_name(base: str, attempt: int) -> str:
    """`base` for attempt 1, else `base (n)`, still one DNS label (<= 63 UTF-8 bytes)."""
    if attempt <= 1:
        return base
    suffix = f" ({attempt})"
    room = MAX_LABEL_BYTES - len(suffix)
    head = base.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip()
    return head + suffix


def service_info(plan: AnnouncePlan, name: str | None = None) -> ServiceInfo:
    name = name or safe_service_name(instance_name(plan.ctx))
    return ServiceInfo(
        SERVICE_TYPE,
        f"{name}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton(a) for a in plan.addresses],
        port=plan.ctx.port,
        properties=build_txt(plan.ctx),
        server=f"{plan.ctx.host_label}.local.",
    )


def _summary(info: ServiceInfo, state: str) -> str:
    return f"gateway fqdn={info.name} host={info.server} port={info.port} state={state}"


@attrs.define
class Announcer:
    """What the supervisor holds: the live registration and its one-time withdrawal."""

    zc: Zeroconf
    info: ServiceInfo
    log: Logger
    registered: bool = False
    registration_done: trio.Event = attrs.field(factory=trio.Event)
    _withdrawn: bool = False
    closed: trio.Event = attrs.field(factory=trio.Event)

    async def withdraw(self) -> None:
        """Goodbye (TTL 0 for every record) and close; idempotent, shielded, bounded."""
        if self._withdrawn:
            with trio.move_on_after(WITHDRAW_TIMEOUT, shield=True):
                await self.closed.wait()
            return
        self._withdrawn = True
        with trio.CancelScope(shield=True):
            with trio.move_on_after(REGISTRATION_WAIT_ON_WITHDRAW):
                await self.registration_done.wait()
            with trio.move_on_after(WITHDRAW_TIMEOUT) as scope:
                try:
                    if self.registered:
                        await trio.to_thread.run_sync(
                            self.zc.unregister_all_services, abandon_on_cancel=True
                        )
                        self.log.info(SUBSYSTEM, f"bonjour: goodbye sent ({self.info.name})")
                    await trio.to_thread.run_sync(self.zc.close, abandon_on_cancel=True)
                except Exception as exc:  # zeroconf's own errors; never stop the shutdown
                    self.log.warn(SUBSYSTEM, f"bonjour: withdraw failed: {exc}")
            if scope.cancelled_caught:
                self.log.warn(SUBSYSTEM, f"bonjour: withdraw timed out after {WITHDRAW_TIMEOUT}s")
            self.closed.set()

    async def update(self, ctx: AdvertiseContext) -> None:
        """The same name with a new TXT (a renewed certificate's fingerprint); bounded."""
        with trio.move_on_after(REGISTRATION_WAIT_ON_WITHDRAW):
            await self.registration_done.wait()
        if not self.registered or self._withdrawn:
            return
        info = ServiceInfo(
            SERVICE_TYPE,
            self.info.name,
            addresses=self.info.addresses,
            port=self.info.port,
            properties=build_txt(ctx),
            server=self.info.server,
        )
        with trio.move_on_after(WITHDRAW_TIMEOUT):
            try:
                await trio.to_thread.run_sync(self.zc.update_service, info, abandon_on_cancel=True)
            except Exception as exc:  # zeroconf's own errors; the old TXT stays announced
                self.log.warn(SUBSYSTEM, f"bonjour: TXT update failed: {exc}")
                return
            self.info = info
            self.log.info(SUBSYSTEM, f"bonjour: updated {_summary(info, 'announced')}")


def _register_once(zc: Zeroconf, info: ServiceInfo) -> None:
    """Probe (~1.7 s) and announce one name; NonUniqueNameException when it is taken."""
    zc.register_service(info, allow_name_change=False)


async def _register(announcer: Announcer, plan: AnnouncePlan) -> None:
    base = safe_service_name(instance_name(plan.ctx))
    try:
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = numbered_name(base, attempt)
            info = announcer.info if attempt == 1 else service_info(plan, name)
            announcer.info = info
            try:
                await trio.to_thread.run_sync(
                    _register_once, announcer.zc, info, abandon_on_cancel=True
                )
            except NonUniqueNameException:
                continue  # another host answered our probe for this name: try the next one
            announcer.registered = True
            if attempt > 1:
                announcer.log.warn(
                    SUBSYSTEM, f'bonjour: gateway name conflict resolved; newName="{name}"'
                )
            announcer.log.info(SUBSYSTEM, f"bonjour: advertised {_summary(info, 'announced')}")
            return
        announcer.log.warn(
            SUBSYSTEM,
            f"bonjour: advertise failed ({_summary(announcer.info, 'unannounced')}): "
            f"{MAX_NAME_ATTEMPTS} names are taken",
        )
    except Exception as exc:
        announcer.log.warn(
            SUBSYSTEM,
            f"bonjour: advertise failed ({_summary(announcer.info, 'unannounced')}): {exc}",
        )
    finally:
        announcer.registration_done.set()


async def run_announcer(
    plan: AnnouncePlan,
    log: Logger,
    *,
    task_status: trio.TaskStatus[Announcer | None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Announce until cancelled; started() with None when zeroconf cannot start."""
    try:
        info = service_info(plan)
        zc = await trio.to_thread.run_sync(plan.zeroconf_factory)
    except Exception as exc:
        log.warn(SUBSYSTEM, f"gateway discovery service failed {SERVICE_ID}: {exc}")
        task_status.started(None)
        return
    announcer = Announcer(zc, info, log)
    log.debug(
        SUBSYSTEM,
        f'bonjour: starting (hostname={plan.ctx.host_label}, instance="{info.name}", '
        f"gatewayPort={plan.ctx.port}"
        + (", minimal=true)" if plan.ctx.minimal else f", sshPort={plan.ctx.ssh_port or 22})"),
    )
    task_status.started(announcer)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_register, announcer, plan)
            with trio.move_on_after(plan.timeout_s):
                await announcer.registration_done.wait()
            if not announcer.registration_done.is_set():
                timeout_ms = round(plan.timeout_s * 1000)
                log.warn(
                    SUBSYSTEM,
                    f"gateway discovery service timed out after {timeout_ms}ms {SERVICE_ID}; "
                    "continuing startup",
                )
                await announcer.registration_done.wait()
                if announcer.registered:
                    log.warn(
                        SUBSYSTEM,
                        f"gateway discovery service completed after startup timeout {SERVICE_ID}",
                    )
            await trio.sleep_forever()
    finally:
        await announcer.withdraw()
