"""Real SDK bridges and agents on a test gateway (127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.client.bridge import BridgeNode, ChannelSend
from openclaw_gateway.client.identity import IdentityStore
from tests.helpers import TOKEN, RawClient


class Inbox:
    """What a bridge was asked to post, with a wait for the next one."""

    def __init__(self) -> None:
        self.sent: list[ChannelSend] = []
        self._tx, self._rx = trio.open_memory_channel[ChannelSend](64)

    def __call__(self, msg: ChannelSend) -> None:
        self.sent.append(msg)
        self._tx.send_nowait(msg)

    async def next(self) -> ChannelSend:
        return await self._rx.receive()


@asynccontextmanager
async def bridge(
    url: str,
    state: Path,
    channels: tuple[str, ...],
    inbox: Inbox,
    op: RawClient | None = None,
    **kwargs: Any,
) -> AsyncIterator[BridgeNode]:
    """Connected; approved by `op` when given (the first connection of this identity)."""
    node = BridgeNode(
        url,
        token=TOKEN,
        device_store=IdentityStore(state),
        channels=channels,
        display_name=kwargs.pop("display_name", f"{channels[0]}-bridge"),
        reconnect=False,
        **kwargs,
    )
    node.on_send(inbox)
    async with node.running():
        if op is not None:
            ev = await op.next_event("node.pair.requested")
            res = await op.call("node.pair.approve", {"requestId": ev["payload"]["requestId"]})
            assert res["ok"], res
        yield node
