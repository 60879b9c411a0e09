"""Find gateway beacons: mDNS in `local.` (in process, zeroconf) and unicast DNS-SD in the
wide-area domain (the system resolver). Used by `gateway discover` and `gateway probe`.

Beyond the official (which runs `avahi-browse` on Linux and finds nothing without it), this
needs no daemon. As with the official, any failure yields no beacons, never an error.

`OPENCLAW_DISABLE_BONJOUR` (truthy) also turns off the in-process mDNS browse: this build's
"Bonjour" is in-process in both directions, and the switch is how tests and users keep a
process from multicasting at all.
"""

from __future__ import annotations

import contextlib
import math
import random
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import trio
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from openclaw_gateway.discovery import unicast
from openclaw_gateway.discovery.beacons import Beacon, make_beacon, parse_txt_tokens
from openclaw_gateway.discovery.txt import SERVICE_LABEL, SERVICE_TYPE, env_bool

LOCAL_DOMAIN = "local."
CLOSE_GRACE_S = 1.0  # closing zeroconf after the browse window (goodbyes for its queries)
RESOLV_CONF = Path("/etc/resolv.conf")
DEFAULT_NAMESERVER = "127.0.0.1"  # glibc's default when resolv.conf names none
NAME_BUFFER = 256  # browse events waiting for trio (a LAN has few gateways)
MAX_PTRS = 64  # instances resolved per wide-area domain
UDP_ANSWER_MAX = 65535
RESOLVE_FLOOR_MS = 50  # the least time one get_service_info is given

ZeroconfFactory = Callable[[], Zeroconf]


def default_zeroconf() -> Zeroconf:
    return Zeroconf(ip_version=IPVersion.V4Only, use_asyncio=False)


def local_browse_enabled(env: Mapping[str, str]) -> bool:
    return env_bool(env.get("OPENCLAW_DISABLE_BONJOUR")) is not True


def _decode_properties(info: ServiceInfo) -> dict[str, str]:
    txt: dict[str, str] = {}
    for key, value in info.properties.items():
        if value is None:  # a bare key (no '='): the official token parser drops it too
            continue
        txt[key.decode("utf-8", errors="replace")] = value.decode("utf-8", errors="replace")
    return txt


def _instance_of(name: str) -> str:
    suffix = "." + SERVICE_TYPE
    return name[: -len(suffix)] if name.endswith(suffix) else name


def beacon_from_info(info: ServiceInfo, domain: str = LOCAL_DOMAIN) -> Beacon:
    tokens = [f"{k}={v}" for k, v in _decode_properties(info).items()]
    return make_beacon(
        _instance_of(info.name),
        domain,
        info.server,
        info.port,
        parse_txt_tokens(tokens),
    )


async def browse_local(
    timeout_s: float, *, zeroconf_factory: ZeroconfFactory = default_zeroconf
) -> list[Beacon]:
    """Browse `_openclaw-gw._tcp.local.` for `timeout_s`, resolving each instance as it
    appears; an instance that says goodbye within the window is dropped."""
    token = trio.lowlevel.current_trio_token()
    send, receive = trio.open_memory_channel[tuple[str, bool]](NAME_BUFFER)
    found: dict[str, Beacon] = {}
    gone: set[str] = set()
    deadline = trio.current_time() + timeout_s

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:  # zeroconf's thread
        added = state_change is not ServiceStateChange.Removed
        with contextlib.suppress(trio.RunFinishedError, trio.WouldBlock, trio.ClosedResourceError):
            trio.from_thread.run_sync(send.send_nowait, (name, added), trio_token=token)

    zc = await trio.to_thread.run_sync(zeroconf_factory)
    browser: ServiceBrowser | None = None
    try:
        browser = await trio.to_thread.run_sync(
            lambda: ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
        )

        async def resolve(name: str) -> None:
            remaining_ms = max(RESOLVE_FLOOR_MS, int((deadline - trio.current_time()) * 1000))
            info = await trio.to_thread.run_sync(
                lambda: zc.get_service_info(SERVICE_TYPE, name, timeout=remaining_ms),
                abandon_on_cancel=True,
            )
            if info is not None and info.server and info.port and name not in gone:
                found[name] = beacon_from_info(info)

        with trio.move_on_at(deadline):
            async with trio.open_nursery() as nursery:
                async for name, added in receive:
                    if added:
                        gone.discard(name)
                        nursery.start_soon(resolve, name)
                    else:
                        gone.add(name)
                        found.pop(name, None)
    finally:
        with trio.CancelScope(shield=True):
            send.close()
            if browser is not None:
                await trio.to_thread.run_sync(browser.cancel)
            await trio.to_thread.run_sync(zc.close)
    return [found[n] for n in found if n not in gone]


def system_nameservers(path: Path = RESOLV_CONF) -> list[tuple[str, int]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    servers = unicast.resolv_conf_nameservers(text) or [DEFAULT_NAMESERVER]
    return [(s, unicast.DNS_PORT) for s in servers]


async def _udp_exchange(
    server: tuple[str, int], name: str, qtype: int, deadline: float
) -> unicast.Answer:
    """One question to one server over UDP; waits for a datagram that answers it."""
    qid = random.randrange(0, 0x10000)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with trio.socket.socket(family, socket.SOCK_DGRAM) as sock:
        await sock.connect(server)
        await sock.send(unicast.build_query(name, qtype, qid))
        with trio.fail_after(max(0.0, deadline - trio.current_time())):
            while True:  # ends with an answer or the deadline (fail_after)
                data = await sock.recv(UDP_ANSWER_MAX)
                try:
                    return unicast.parse_answer(data, qid, name, qtype)
                except unicast.BadResponse:
                    continue  # a stray or spoofed datagram; keep waiting for ours


async def query(
    servers: Sequence[tuple[str, int]], name: str, qtype: int, deadline: float
) -> unicast.Answer | None:
    """Ask each server in turn (each gets an equal share of what is left)."""
    for index, server in enumerate(servers):
        left = deadline - trio.current_time()
        if left <= 0:
            return None
        share = left / (len(servers) - index)
        try:
            return await _udp_exchange(server, name, qtype, trio.current_time() + share)
        except (OSError, trio.TooSlowError):
            continue
    return None


async def browse_wide_area(
    domain: str, timeout_s: float, nameservers: Sequence[tuple[str, int]]
) -> list[Beacon]:
    """PTR `_openclaw-gw._tcp.<domain>`, then SRV + TXT of every instance, within timeout_s."""
    deadline = trio.current_time() + timeout_s
    service = f"{SERVICE_LABEL}.{domain}"
    ptr = await query(nameservers, service, unicast.TYPE_PTR, deadline)
    if ptr is None or ptr.rcode != 0:
        return []
    results: list[Beacon | None] = [None] * min(len(ptr.ptrs), MAX_PTRS)

    async def resolve(index: int, instance: str) -> None:
        srv_answer: list[unicast.Answer | None] = [None]
        txt_answer: list[unicast.Answer | None] = [None]

        async def get(slot: list[unicast.Answer | None], qtype: int) -> None:
            slot[0] = await query(nameservers, instance, qtype, deadline)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(get, srv_answer, unicast.TYPE_SRV)
            nursery.start_soon(get, txt_answer, unicast.TYPE_TXT)
        srv = srv_answer[0].srv if srv_answer[0] is not None else None
        if srv is None:
            return  # the official skips an instance whose SRV does not resolve
        tokens = txt_answer[0].txt if txt_answer[0] is not None else ()
        name = unicast.instance_from_ptr(instance) or instance.rstrip(".")
        results[index] = make_beacon(name, domain, srv.host, srv.port, parse_txt_tokens(tokens))

    async with trio.open_nursery() as nursery:
        for index, instance in enumerate(ptr.ptrs[:MAX_PTRS]):
            nursery.start_soon(resolve, index, instance)
    return [b for b in results if b is not None]


async def discover_beacons(
    timeout_ms: int,
    wide_area_domain: str | None,
    env: Mapping[str, str],
    *,
    nameservers: Sequence[tuple[str, int]] | None = None,
    zeroconf_factory: ZeroconfFactory = default_zeroconf,
) -> list[Beacon]:
    """Every domain in parallel, each within timeout_ms; failures give no beacons."""
    timeout_s = max(0.0, timeout_ms / 1000) if math.isfinite(timeout_ms) else 0.0
    per_domain: list[list[Beacon]] = [[], []]

    async def local() -> None:
        if not local_browse_enabled(env):
            return
        with contextlib.suppress(Exception):
            per_domain[0] = await browse_local(timeout_s, zeroconf_factory=zeroconf_factory)

    async def wide() -> None:
        if not wide_area_domain or wide_area_domain == LOCAL_DOMAIN:
            return
        servers = list(nameservers) if nameservers is not None else system_nameservers()
        with contextlib.suppress(Exception):
            per_domain[1] = await browse_wide_area(wide_area_domain, timeout_s, servers)

    # A bound on the whole: a thread abandoned at the deadline cannot hold us.
    with trio.move_on_after(timeout_s + CLOSE_GRACE_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(local)
            nursery.start_soon(wide)
    return per_domain[0] + per_domain[1]
