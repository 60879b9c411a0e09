"""The Python client SDK: connect (challenge, connect, hello-ok), call, events, close.

    async with GatewayClient("ws://127.0.0.1:18789", token="…") as gw:
        print(await gw.call("health"))
        async for event in gw.events():
            print(event.name, event.payload)

The public names live here; the modules behind them are session (one connection),
reconnecting (GatewayClient), sync (SyncGatewayClient), node_host (NodeHost) and identity.
"""

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
