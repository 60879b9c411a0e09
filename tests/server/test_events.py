"""events: which broadcasts exist and who receives them (protocol.md §7.3)."""

from __future__ import annotations

import pytest

from openclaw_gateway.security import scopes as S
from openclaw_gateway.server import events

UNGATED = ["tick", "health", "shutdown"]


@pytest.mark.parametrize("event", UNGATED)
@pytest.mark.parametrize("role", ["operator", "node"])
def test_ungated_events_reach_every_authenticated_socket(event: str, role: str) -> None:
    assert events.may_receive(event, role, [])


@pytest.mark.parametrize(
    ("granted", "ok"),
    [
        ([S.READ], True),
        ([S.WRITE], True),
        ([S.ADMIN], True),
        ([S.SESSIONS_READ], False),
        ([S.PAIRING, S.APPROVALS, S.TALK], False),
        ([], False),
    ],
)
def test_presence_needs_operator_read(granted: list[str], ok: bool) -> None:
    assert events.may_receive("presence", "operator", granted) is ok


def test_presence_never_reaches_nodes() -> None:
    assert not events.may_receive("presence", "node", [S.ADMIN, S.READ])


@pytest.mark.parametrize("event", ["connect.challenge", "made.up", "", "Presence", "plugin.x"])
def test_unknown_or_direct_events_are_never_broadcast(event: str) -> None:
    assert not events.may_receive(event, "operator", [S.ADMIN])


def test_advertised_events_and_slow_consumer_policy() -> None:
    assert events.EVENTS == (
        "connect.challenge",
        "agent",
        "chat",
        "session.message",
        "sessions.changed",
        "presence",
        "tick",
        "shutdown",
        "health",
        "heartbeat",
        "cron",
        "node.pair.requested",
        "node.pair.resolved",
        "node.invoke.cancel",
        "node.invoke.request",
        "node.event",
        "device.pair.requested",
        "device.pair.resolved",
    )
    assert set(events.EVENT_SCOPES) == set(events.EVENTS) - events.DIRECT_EVENTS
    assert (
        frozenset(
            {
                "presence",
                "cron",
                "heartbeat",
                "device.pair.requested",
                "device.pair.resolved",
                "node.pair.requested",
                "node.pair.resolved",
                "node.event",
                "sessions.changed",
            }
        )
        == events.DROP_IF_SLOW
    )
    assert not events.DROP_IF_SLOW & {"tick", "health", "shutdown"}


def test_device_pairing_events_need_operator_pairing() -> None:
    for event in (
        "device.pair.requested",
        "device.pair.resolved",
        "node.pair.requested",
        "node.pair.resolved",
    ):
        assert events.may_receive(event, "operator", [S.PAIRING])
        assert events.may_receive(event, "operator", [S.ADMIN])
        assert not events.may_receive(event, "operator", [S.READ, S.WRITE])
        assert not events.may_receive(event, "node", [S.PAIRING])
