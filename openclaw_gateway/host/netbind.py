"""Bind modes -> listen addresses (cli.md §3).

loopback: 127.0.0.1 (+ ::1 when it binds). lan: 0.0.0.0. tailnet: the interface address in
100.64.0.0/10 plus 127.0.0.1, else loopback. auto: 0.0.0.0 in a container, else 127.0.0.1.
custom: gateway.customBindHost (a canonical IPv4 that binds) plus 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Iterable, Mapping

import attrs

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.core.netaddr import is_loopback

TAILNET = ipaddress.ip_network("100.64.0.0/10")
_SIOCGIFADDR = 0x8915


@attrs.frozen
class BindPlan:
    mode: str
    hosts: tuple[tuple[str, bool], ...]  # (host, required)

    @property
    def loopback_only(self) -> bool:
        return all(is_loopback(h) for h, _ in self.hosts)


def interface_ipv4s() -> list[tuple[str, str]]:
    """(interface, IPv4) pairs of this host, loopback excluded. Linux ioctl, no dependency."""
    out: list[tuple[str, str]] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(
                    s.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode())
                )
            except OSError:
                continue
            ip = socket.inet_ntoa(packed[20:24])
            if not is_loopback(ip):
                out.append((name, ip))
    return out


def in_container(env: Mapping[str, str], exists: Callable[[str], bool] = os.path.exists) -> bool:
    if any(exists(p) for p in ("/.dockerenv", "/run/.containerenv", "/var/run/.containerenv")):
        return True
    if env.get("FLY_MACHINE_ID") and env.get("FLY_APP_NAME"):
        return True
    try:
        with open("/proc/1/cgroup", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return False
    return any(word in text for word in ("docker", "containerd", "kubepods", "lxc"))


def can_bind(host: str) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


def default_bind(config_bind: str | None, tailscale_mode: str, container: bool) -> str:
    if config_bind:
        return config_bind
    if tailscale_mode != "off":
        return "loopback"
    return "auto" if container else "loopback"


def is_canonical_ipv4(host: str) -> bool:
    """Four dotted decimal parts, no leading zeros (`10.0.0.1`, not `010.0.0.1` or `10.1`)."""
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False


def pick_tailnet_ipv4(interfaces: Iterable[tuple[str, str]]) -> str | None:
    """The first address in 100.64.0.0/10 among (interface, IPv4) pairs (official
    pickPrimaryTailnetIPv4): the tailnet bind host, status/probe hints, the wide-area zone."""
    for _, ip in interfaces:
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(ip) in TAILNET:
                return ip
    return None


def bind_host(
    mode: str,
    *,
    custom_host: str | None,
    container: bool,
    interfaces: Callable[[], list[tuple[str, str]]] = interface_ipv4s,
    bindable: Callable[[str], bool] = can_bind,
) -> str:
    """The primary host a bind mode resolves to, never failing (official resolveGatewayBindHost).

    Used for the pre-start "non-loopback needs auth" check; anything unresolvable is the
    wildcard, which that check then treats as exposed.
    """
    if mode == "loopback":
        return "127.0.0.1"
    if mode == "tailnet":
        ip = pick_tailnet_ipv4(interfaces())
        if ip is not None and bindable(ip):
            return ip
        return "127.0.0.1" if bindable("127.0.0.1") else "0.0.0.0"
    if mode == "custom":
        host = (custom_host or "").strip()
        return host if host and is_canonical_ipv4(host) and bindable(host) else "0.0.0.0"
    if mode == "auto":
        return "127.0.0.1" if not container and bindable("127.0.0.1") else "0.0.0.0"
    return "0.0.0.0"


def _with_required_loopback(mode: str, host: str) -> BindPlan:
    """A specific IPv4 host also listens on a required 127.0.0.1; loopback adds optional ::1."""
    if host == "127.0.0.1":
        return BindPlan(mode, (("127.0.0.1", True), ("::1", False)))
    if host == "0.0.0.0":
        return BindPlan(mode, (("0.0.0.0", True),))
    return BindPlan(mode, ((host, True), ("127.0.0.1", True)))


def plan(
    mode: str,
    *,
    custom_host: str | None,
    container: bool,
    interfaces: Callable[[], list[tuple[str, str]]] = interface_ipv4s,
    bindable: Callable[[str], bool] = can_bind,
) -> BindPlan:
    """The listen addresses of a bind mode, or StartupError (exit 1) with the official text."""
    if mode == "loopback":
        return _with_required_loopback(mode, "127.0.0.1")
    if mode == "lan":
        return BindPlan(mode, (("0.0.0.0", True),))
    if mode == "auto":
        if container or not bindable("127.0.0.1"):
            return BindPlan(mode, (("0.0.0.0", True),))
        return BindPlan(mode, (("127.0.0.1", True),))
    if mode == "tailnet":
        host = bind_host(
            mode, custom_host=None, container=container, interfaces=interfaces, bindable=bindable
        )
        if host == "0.0.0.0":
            raise StartupError(
                "gateway bind=tailnet could not resolve a Tailscale or loopback "
                "address; refusing wildcard fallback"
            )
        return _with_required_loopback(mode, host)
    if mode == "custom":
        configured = (custom_host or "").strip()
        if not configured:
            raise StartupError("gateway.bind=custom requires gateway.customBindHost")
        if not is_canonical_ipv4(configured):
            raise StartupError(
                f"gateway.bind=custom requires a valid IPv4 customBindHost (got {configured})"
            )
        if not bindable(configured):
            raise StartupError(
                f"gateway bind=custom requested {configured} but resolved "
                "0.0.0.0; refusing fallback"
            )
        return _with_required_loopback(mode, configured)
    raise StartupError(f"unknown bind mode {mode!r}")
