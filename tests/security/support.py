"""Helpers for the device-security tests: remote peers, hand-made proofs, database snapshots."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from openclaw_gateway.state.store import Store, db_path
from tests.devicekit import SigningDevice
from tests.helpers import TOKEN, RawClient, RunningGateway, connect_params, ws_client
from tests.server.integration.support import Closed, read_until_closed

REMOTE_IP = "203.0.113.7"
CLI_CLIENT = {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"}
APP_CLIENT = {"id": "openclaw-macos", "version": "t", "platform": "macos", "mode": "ui"}


@asynccontextmanager
async def remote_client(nursery: trio.Nursery, port: int) -> AsyncIterator[RawClient]:
    """A socket the gateway sees as remote (forwarded by the trusted 127.0.0.1 proxy)."""
    async with ws_client(nursery, port, x_forwarded_for=REMOTE_IP) as client:
        yield client


def snapshot(gw: RunningGateway) -> dict[str, Any]:
    """Everything pairing keeps: rows of every table."""
    store = Store(db_path(gw.settings.state_dir))
    try:
        return {
            "paired": store.list_paired(),
            "pending": store.list_pending(),
            "tokens": {p["deviceId"]: store.tokens_for(p["deviceId"]) for p in store.list_paired()},
        }
    finally:
        store.close()


EMPTY = {"paired": [], "pending": [], "tokens": {}}


async def send_connect(
    client: RawClient,
    dev: SigningDevice | None,
    /,
    *,
    mutate: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Read the challenge, sign for it (if `dev`), let `mutate(params, challenge)` tamper,
    send, and return the response frame."""
    challenge = (await client.read_challenge())["payload"]
    params = connect_params(**overrides)
    if dev is not None:
        params["device"] = dev.block(params, challenge["nonce"], challenge["ts"])
    if mutate is not None:
        mutate(params, challenge)
    await client.send(
        {"type": "req", "id": f"1:{uuid.uuid4()}", "method": "connect", "params": params}
    )
    frame = await client.recv()
    if frame.get("ok"):
        client.hello = frame["payload"]
    return frame


async def refused(client: RawClient, frame: dict[str, Any]) -> tuple[dict[str, Any], Closed]:
    """The error of a refused connect and how the socket closed."""
    assert frame["ok"] is False, frame
    return frame["error"], await read_until_closed(client)


def operator(scopes: list[str], **extra: Any) -> dict[str, Any]:
    """Connect overrides for the local device-less CLI (keeps its requested scopes)."""
    return {"client": CLI_CLIENT, "scopes": scopes, "auth": {"token": TOKEN}, **extra}
