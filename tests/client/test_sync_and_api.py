"""The blocking wrapper against a real in-process gateway, and the package's public names."""

from __future__ import annotations

import importlib

import pytest
import trio

import openclaw_gateway.client as client_pkg
from openclaw_gateway.client import GatewayClient, GatewayRequestError, SyncGatewayClient
from tests.helpers import TOKEN, RunningGateway


async def test_sync_client_calls_a_real_gateway(gateway: RunningGateway) -> None:
    def script() -> tuple[dict[str, object], object]:
        with GatewayClient.sync(gateway.url, token=TOKEN) as gw:
            assert isinstance(gw, SyncGatewayClient)
            return gw.hello, gw.call("health")

    hello, health = await trio.to_thread.run_sync(script)
    assert hello["type"] == "hello-ok"
    assert isinstance(health, dict) and health["ok"] is True


async def test_sync_client_raises_a_refused_connect(gateway: RunningGateway) -> None:
    def script() -> None:
        with GatewayClient.sync(gateway.url, token="wrong-token"):
            pytest.fail("a wrong token must not connect")

    with pytest.raises(GatewayRequestError) as caught:
        await trio.to_thread.run_sync(script)
    assert caught.value.code == "INVALID_REQUEST"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("Session", "session"),
        ("open_session", "session"),
        ("connect_params", "session"),
        ("ClientIdentity", "session"),
        ("Event", "session"),
        ("GatewayRequestError", "session"),
        ("GatewayTransportError", "session"),
        ("GatewayClient", "reconnecting"),
        ("SyncGatewayClient", "sync"),
        ("NodeHost", "node_host"),
    ],
)
def test_public_names_are_the_modules_own(name: str, module: str) -> None:
    home = importlib.import_module(f"openclaw_gateway.client.{module}")
    assert getattr(client_pkg, name) is getattr(home, name)


def test_every_exported_name_resolves() -> None:
    missing = [n for n in client_pkg.__all__ if not hasattr(client_pkg, n)]
    assert missing == []
