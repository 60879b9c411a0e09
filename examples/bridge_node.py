"""A terminal channel bridge: every line you type is a direct message on the channel
`terminal`, answered by the agent the gateway routes it to (bindings, or the default agent);
the reply comes back through `channel.send` and is printed.

    python examples/bridge_node.py ws://127.0.0.1:18789 <gateway-token>

An operator approves the bridge once (`openclaw nodes pending`, `openclaw nodes approve`),
and an agent node must serve the agent (e.g. examples/agent_node.py).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import trio

from openclaw_gateway.client.bridge import BridgeNode, ChannelSend
from openclaw_gateway.client.identity import IdentityStore

CHANNEL = "terminal"


def build(
    url: str,
    token: str | None,
    state: Path = Path(".bridge-node"),
    out: Callable[[str], None] = print,
) -> BridgeNode:
    bridge = BridgeNode(
        url,
        token=token,
        device_store=IdentityStore(state),
        display_name="terminal-bridge",
        channels=(CHANNEL,),
    )

    @bridge.on_send
    def post(msg: ChannelSend) -> None:
        out(f"agent: {msg.text}")

    return bridge


async def relay_lines(bridge: BridgeNode, lines: TextIO, user: str) -> int:
    """Send each input line as a message from `user`; returns how many were sent."""
    count = 0
    while True:
        line = await trio.to_thread.run_sync(lines.readline)
        if not line:
            return count
        text = line.rstrip("\n")
        if text.strip():
            count += 1
            await bridge.message(CHANNEL, user, text, sender=user, message_id=f"{user}-{count}")


async def main(url: str, token: str | None) -> None:
    bridge = build(url, token)
    async with bridge.running():
        await relay_lines(bridge, sys.stdin, getpass.getuser())
        await trio.sleep_forever()  # keep answering channel.send


if __name__ == "__main__":
    trio.run(
        main,
        sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:18789",
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
