"""The Python client SDK: connect (challenge, connect, hello-ok), call, events, close.

    async with GatewayClient("ws://127.0.0.1:18789", token="…") as gw:
        print(await gw.call("health"))
        async for event in gw.events():
            print(event.name, event.payload)

The public names live here; the modules behind them are session (one connection),
reconnecting (GatewayClient), sync (SyncGatewayClient), node_host (NodeHost) and identity.
They are loaded on first use (PEP 562), so `openclaw gateway call` imports client.session
without the node host, the reconnecting client or the sync wrapper (issue 17).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openclaw_gateway.client.node_host import NodeCommand, NodeHost
    from openclaw_gateway.client.reconnecting import GatewayClient
    from openclaw_gateway.client.session import (
        DEFAULT_CALL_TIMEOUT,
        DEFAULT_CONNECT_TIMEOUT,
        ClientIdentity,
        Connector,
        Event,
        GatewayRequestError,
        GatewayTransportError,
        Session,
        Signer,
        connect_params,
        open_session,
    )
    from openclaw_gateway.client.sync import SyncGatewayClient

_HOMES = {
    "NodeCommand": "node_host",
    "NodeHost": "node_host",
    "GatewayClient": "reconnecting",
    "SyncGatewayClient": "sync",
    **dict.fromkeys(
        (
            "DEFAULT_CALL_TIMEOUT",
            "DEFAULT_CONNECT_TIMEOUT",
            "ClientIdentity",
            "Connector",
            "Event",
            "GatewayRequestError",
            "GatewayTransportError",
            "Session",
            "Signer",
            "connect_params",
            "open_session",
        ),
        "session",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:  # a submodule (`from openclaw_gateway.client import session`) or a typo
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "ClientIdentity",
    "Connector",
    "Event",
    "GatewayClient",
    "GatewayRequestError",
    "GatewayTransportError",
    "NodeCommand",
    "NodeHost",
    "Session",
    "Signer",
    "SyncGatewayClient",
    "connect_params",
    "open_session",
]
