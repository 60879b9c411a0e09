"""A node written in Python: declared commands answered over `node.invoke.request`."""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import trio

from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.client.invoke_context import CURRENT_INVOKE
from openclaw_gateway.client.reconnecting import GatewayClient
from openclaw_gateway.client.session import ClientIdentity, Connector, Event
from openclaw_gateway.core.errors import GatewayError

NodeCommand = Callable[[Any], Any]


class NodeHost:
    """A node in Python: declare commands with `@node.command(name)`, then `await node.serve()`.

        node = NodeHost("ws://127.0.0.1:18789", token="…", device_store=IdentityStore(dir))

        @node.command("agent.turn")
        async def turn(params):
            return {"text": "hi"}

    It connects with role `node` (client id `node-host`, mode `node`) and a signed device,
    declares the commands, and answers each `node.invoke.request` with `node.invoke.result`
    (the handler's return value as payloadJSON, or its exception as the error). An operator
    must approve the declared commands (`node.pair.approve`) before they can be invoked.
    """

    def __init__(
        self,
        url: str,
        *,
        device_store: IdentityStore,
        token: str | None = None,
        display_name: str | None = None,
        caps: tuple[str, ...] = (),
        reconnect: bool = True,
        connector: Connector | None = None,
        tls_fingerprint: str | None = None,
    ) -> None:
        self.url = url
        self.device_store = device_store
        self.token = token
        self.display_name = display_name
        self.caps = caps
        self.reconnect = reconnect
        self._connector = connector
        self._tls_fingerprint = tls_fingerprint
        self.commands: dict[str, NodeCommand] = {}
        self.client: GatewayClient | None = None

    def command(self, name: str) -> Callable[[NodeCommand], NodeCommand]:
        def record(fn: NodeCommand) -> NodeCommand:
            if name in self.commands:
                raise ValueError(f"node command {name!r} registered twice")
            self.commands[name] = fn
            return fn

        return record

    async def serve(self) -> None:
        """Run until cancelled."""
        async with self.running():
            await trio.sleep_forever()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[NodeHost]:
        """Connected (after the first hello-ok) and answering invokes inside the block."""
        identity = ClientIdentity(
            client_id="node-host", mode="node", display_name=self.display_name
        )
        client = GatewayClient(
            self.url,
            token=self.token,
            role="node",
            scopes=(),
            identity=identity,
            reconnect=self.reconnect,
            connector=self._connector,
            device_store=self.device_store,
            tls_fingerprint=self._tls_fingerprint,
        )
        client._params["caps"] = list(self.caps)
        client._params["commands"] = list(self.commands)
        async with client, trio.open_nursery() as nursery:
            self.client = client
            nursery.start_soon(self._dispatch, client, nursery)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    async def _dispatch(self, client: GatewayClient, nursery: trio.Nursery) -> None:
        async for event in client.events():
            if event.name == "node.invoke.request" and isinstance(event.payload, dict):
                nursery.start_soon(self._answer, client, event.payload)
            self.observe(event)

    def observe(self, event: Event) -> None:
        """Sees every event this node receives (AgentNode: `node.invoke.cancel`)."""

    async def _answer(self, client: GatewayClient, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request.get("id"), "nodeId": request.get("nodeId")}
        handler = self.commands.get(str(request.get("command")))
        try:
            if handler is None:
                raise LookupError(f"unknown command: {request.get('command')}")
            text = request.get("paramsJSON")
            params = json.loads(text) if isinstance(text, str) and text else None
            CURRENT_INVOKE.set(request)
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
            reply |= {"ok": True, "payloadJSON": json.dumps(result)}
        except Exception as exc:  # the node reports it; the operator sees "<code>: <message>"
            code = "UNKNOWN_COMMAND" if handler is None else "COMMAND_FAILED"
            reply |= {"ok": False, "error": {"code": code, "message": str(exc) or repr(exc)}}
        with contextlib.suppress(GatewayError):
            await client.call("node.invoke.result", reply)
