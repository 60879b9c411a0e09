"""A hand-driven node for the node.* tests: a signed device with role node (node-host)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from tests.devicekit import SigningDevice
from tests.helpers import RawClient, raw_client, ws_client

NODE_CLIENT = {
    "id": "node-host",
    "version": "test",
    "platform": "linux",
    "mode": "node",
    "displayName": "Test Node",
}


def node_params(device: SigningDevice, commands: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "client": NODE_CLIENT,
        "role": "node",
        "scopes": [],
        "caps": ["system"],
        "commands": commands,
        "device": device,
        **extra,
    }


@asynccontextmanager
async def node_client(
    port: int, device: SigningDevice, commands: list[str], nursery: trio.Nursery | None = None
) -> AsyncIterator[RawClient]:
    """A connected node. Pass `nursery` when the server will close the socket (see
    tests.helpers.ws_client)."""
    opener = raw_client(port) if nursery is None else ws_client(nursery, port)
    async with opener as client:
        frame = await client.connect(**node_params(device, commands))
        assert frame["ok"], frame
        yield client


@asynccontextmanager
async def operator_client(port: int, scopes: list[str]) -> AsyncIterator[RawClient]:
    async with raw_client(port) as client:
        frame = await client.connect(scopes=scopes)
        assert frame["ok"], frame
        yield client


async def answer_invoke(node: RawClient, result: Any = None, **extra: Any) -> dict[str, Any]:
    """Wait for one node.invoke.request and answer it; returns the request payload."""
    ev = await node.next_event("node.invoke.request")
    req = ev["payload"]
    params = {"id": req["id"], "nodeId": req["nodeId"], "ok": True, **extra}
    if result is not None:
        params["payloadJSON"] = json.dumps(result)
    res = await node.call("node.invoke.result", params)
    assert res["ok"], res
    return dict(ev)


async def approve(op: RawClient, node_id: str) -> dict[str, Any]:
    """Approve the node's pending capability request (the operator holds operator.pairing)
    and wait for the resolution; returns the node.pair.approve answer."""
    ev = await op.next_event("node.pair.requested")
    assert ev["payload"]["nodeId"] == node_id
    res = await op.call("node.pair.approve", {"requestId": ev["payload"]["requestId"]})
    assert res["ok"], res
    resolved = await op.next_event("node.pair.resolved")
    assert resolved["payload"]["decision"] == "approved"
    return dict(res["payload"])
