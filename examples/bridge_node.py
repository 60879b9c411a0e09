"""A channel bridge node: every line on stdin becomes a `channel.message` node event (relayed by
the gateway to operators as a `node.event` event), and `channel.send` invokes are printed — the
place where a real bridge would post into its chat channel.

    python examples/bridge_node.py ws://127.0.0.1:18789 <gateway-token> < lines.txt
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import trio

from openclaw_gateway.client import NodeHost
from openclaw_gateway.client.identity import IdentityStore


def build(
    url: str,
    token: str | None,
    state: Path = Path(".bridge-node"),
    out: Callable[[str], None] = print,
) -> NodeHost:
    node = NodeHost(url, token=token, device_store=IdentityStore(state), display_name="bridge")

    @node.command("channel.send")
    def send(params: Any) -> dict[str, Any]:
        text = str((params or {}).get("text", ""))
        out(f"send: {text}")
        return {"delivered": True}

    return node


async def relay_lines(node: NodeHost, lines: TextIO) -> int:
    """Relay each input line as a `channel.message` event; returns how many were sent."""
    assert node.client is not None
    count = 0
    while True:
        line = await trio.to_thread.run_sync(lines.readline)
        if not line:
            return count
        text = line.rstrip("\n")
        await node.client.call(
            "node.event", {"event": "channel.message", "payload": {"text": text}}
        )
        count += 1


async def main(url: str, token: str | None) -> None:
    node = build(url, token)
    async with node.running():
        await relay_lines(node, sys.stdin)
        await trio.sleep_forever()  # keep answering channel.send


if __name__ == "__main__":
    trio.run(
        main,
        sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:18789",
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
