"""netbind.py: bind modes -> listen addresses with injected interfaces and bindability."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.host.netbind import (
    bind_host,
    default_bind,
    in_container,
    is_canonical_ipv4,
    pick_tailnet_ipv4,
    plan,
)

LOOPBACK = (("127.0.0.1", True), ("::1", False))


def ifaces(*pairs: tuple[str, str]) -> Callable[[], list[tuple[str, str]]]:
    return lambda: list(pairs)


def only(*hosts: str) -> Callable[[str], bool]:
    return lambda host: host in hosts


def test_loopback_lan_auto() -> None:
    assert plan("loopback", custom_host=None, container=False).hosts == LOOPBACK
    assert plan("lan", custom_host=None, container=False).hosts == (("0.0.0.0", True),)
    auto = plan("auto", custom_host=None, container=False, bindable=only("127.0.0.1"))
    assert auto.hosts == (("127.0.0.1", True),)
    assert auto.loopback_only
    in_box = plan("auto", custom_host=None, container=True, bindable=only("127.0.0.1"))
    assert in_box.hosts == (("0.0.0.0", True),)
    assert not in_box.loopback_only
    no_lo = plan("auto", custom_host=None, container=False, bindable=only())
    assert no_lo.hosts == (("0.0.0.0", True),)


def test_tailnet_picks_the_cgnat_address_plus_required_loopback() -> None:
    found = plan(
        "tailnet",
        custom_host=None,
        container=True,
        interfaces=ifaces(("eth0", "10.0.0.5"), ("tailscale0", "100.101.102.103")),
        bindable=only("100.101.102.103", "127.0.0.1"),
    )
    assert found.hosts == (("100.101.102.103", True), ("127.0.0.1", True))
    assert not found.loopback_only


@pytest.mark.parametrize(
    "interfaces",
    [
        ifaces(("eth0", "10.0.0.5")),  # no tailnet address
        ifaces(("eth0", "100.63.255.255"), ("x", "100.128.0.1")),  # just outside 100.64/10
        ifaces(("tailscale0", "100.64.0.1")),  # inside, but not bindable (below)
    ],
)
def test_tailnet_falls_back_to_loopback(interfaces: Callable[[], list[tuple[str, str]]]) -> None:
    found = plan(
        "tailnet",
        custom_host=None,
        container=False,
        interfaces=interfaces,
        bindable=only("127.0.0.1"),
    )
    assert found.hosts == LOOPBACK
    assert found.loopback_only


def test_tailnet_refuses_the_wildcard_fallback() -> None:
    with pytest.raises(StartupError) as info:
        plan("tailnet", custom_host=None, container=False, interfaces=ifaces(), bindable=only())
    assert str(info.value) == (
        "gateway bind=tailnet could not resolve a Tailscale or loopback address; refusing "
        "wildcard fallback"
    )
    assert info.value.exit_code == 1


def test_custom_host_plus_required_loopback() -> None:
    found = plan("custom", custom_host=" 192.0.2.2 ", container=False, bindable=only("192.0.2.2"))
    assert found.hosts == (("192.0.2.2", True), ("127.0.0.1", True))
    # 127.0.0.1 and 0.0.0.0 are not doubled up with the loopback alias.
    assert (
        plan("custom", custom_host="127.0.0.1", container=False, bindable=only("127.0.0.1")).hosts
        == LOOPBACK
    )
    assert plan(
        "custom", custom_host="0.0.0.0", container=False, bindable=only("0.0.0.0")
    ).hosts == (("0.0.0.0", True),)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (None, "gateway.bind=custom requires gateway.customBindHost"),
        ("  ", "gateway.bind=custom requires gateway.customBindHost"),
        ("::1", "gateway.bind=custom requires a valid IPv4 customBindHost (got ::1)"),
        ("10.0.0.01", "gateway.bind=custom requires a valid IPv4 customBindHost (got 10.0.0.01)"),
        ("10.1", "gateway.bind=custom requires a valid IPv4 customBindHost (got 10.1)"),
        ("myhost", "gateway.bind=custom requires a valid IPv4 customBindHost (got myhost)"),
        (
            "192.0.2.9",
            "gateway bind=custom requested 192.0.2.9 but resolved 0.0.0.0; refusing fallback",
        ),
    ],
)
def test_custom_errors(host: str | None, message: str) -> None:
    with pytest.raises(StartupError) as info:
        plan("custom", custom_host=host, container=False, bindable=only("127.0.0.1"))
    assert str(info.value) == message


def test_bind_host_never_fails() -> None:
    assert bind_host("loopback", custom_host=None, container=True) == "127.0.0.1"
    assert bind_host("lan", custom_host=None, container=False) == "0.0.0.0"
    assert bind_host("auto", custom_host=None, container=True, bindable=only("127.0.0.1")) == (
        "0.0.0.0"
    )
    assert bind_host("auto", custom_host=None, container=False, bindable=only("127.0.0.1")) == (
        "127.0.0.1"
    )
    assert bind_host("custom", custom_host=None, container=False) == "0.0.0.0"
    assert bind_host("custom", custom_host="bad", container=False) == "0.0.0.0"
    assert (
        bind_host(
            "tailnet",
            custom_host=None,
            container=False,
            interfaces=ifaces(("t", "100.100.1.1")),
            bindable=only("100.100.1.1", "127.0.0.1"),
        )
        == "100.100.1.1"
    )


def test_default_bind() -> None:
    assert default_bind("lan", "serve", True) == "lan"
    assert default_bind(None, "serve", True) == "loopback"
    assert default_bind(None, "off", True) == "auto"
    assert default_bind(None, "off", False) == "loopback"


def test_small_predicates() -> None:
    assert is_canonical_ipv4("192.168.1.1")
    assert not is_canonical_ipv4("192.168.1.01")
    assert not is_canonical_ipv4("1.2.3")


def test_first_tailnet_address() -> None:
    assert pick_tailnet_ipv4([("eth0", "10.0.0.2"), ("ts0", "100.64.1.2")]) == "100.64.1.2"
    assert pick_tailnet_ipv4([("ts0", "100.127.0.9"), ("ts1", "100.64.0.1")]) == "100.127.0.9"
    assert pick_tailnet_ipv4([("eth0", "100.128.0.1"), ("bad", "not-an-ip")]) is None
    assert pick_tailnet_ipv4([]) is None


def test_container_detection_markers() -> None:
    assert in_container({}, exists=lambda p: p == "/run/.containerenv")
    assert in_container({"FLY_MACHINE_ID": "m", "FLY_APP_NAME": "a"}, exists=lambda p: False)
