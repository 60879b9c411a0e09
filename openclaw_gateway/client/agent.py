"""Write an agent in Python: a node that serves `agent.turn`, on top of NodeHost.

    node = AgentNode("ws://127.0.0.1:18789", token=…, device_store=IdentityStore(dir),
                     display_name="my-agent", models=("llama3.2",))

    @node.turn
    async def reply(turn: Turn) -> AsyncIterator[str]:
        async for piece in my_model(turn.history, turn.message):
            yield piece                    # streamed: chat deltas for every operator

    await node.serve()

A handler may instead return the whole text (`async def reply(turn) -> str`). It sees the
message, the recent transcript (`turn.history`: [{role, text, timestamp}], oldest first),
the session key, run id, agent id and the thinking/model overrides; it may set `turn.usage`. `turn.aborted` is set
when the gateway cancels the turn (chat.abort, timeout): the handler's task is cancelled
at its next checkpoint, and nothing more is sent for it.

Capabilities declared: `agent:<id>` for each agent in `agents` (none: any agent not pinned
elsewhere) and `model:<name>` for each model, shown by models.list. An operator approves the
node's `agent.turn` command once (`openclaw nodes approve`).
"""

from __future__ import annotations

import collections
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import trio

from openclaw_gateway.client import Event, GatewayClient, NodeHost
from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.client.invoke_context import CURRENT_INVOKE
from openclaw_gateway.client.session import SentCall

MAX_CHUNK_BYTES = 16_384
# Progress chunks sent and not answered yet, at most (then the next one waits).
PROGRESS_IN_FLIGHT = 64
TurnHandler = Callable[["Turn"], AsyncIterator[str] | Awaitable[str] | str]


@attrs.define(eq=False)
class Turn:
    message: str
    session_key: str
    run_id: str
    agent_id: str
    history: list[dict[str, Any]]
    model: str | None = None
    thinking: str | None = None
    extra_system_prompt: str | None = None
    aborted: trio.Event = attrs.field(factory=trio.Event)
    # Set by the handler: the turn's token usage in the official normalized names (input,
    # output, cacheRead, cacheWrite, total, reasoningTokens); the OpenAI endpoints report it.
    usage: dict[str, int] | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Turn:
        history = params.get("history")
        return cls(
            message=str(params.get("message", "")),
            session_key=str(params.get("sessionKey", "")),
            run_id=str(params.get("runId", "")),
            agent_id=str(params.get("agentId", "main")),
            history=[h for h in history if isinstance(h, dict)]
            if isinstance(history, list)
            else [],
            model=params.get("model") if isinstance(params.get("model"), str) else None,
            thinking=params.get("thinking") if isinstance(params.get("thinking"), str) else None,
            extra_system_prompt=params.get("extraSystemPrompt")
            if isinstance(params.get("extraSystemPrompt"), str)
            else None,
        )


def split_chunk(text: str, limit: int = MAX_CHUNK_BYTES) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, never splitting a character."""
    pieces: list[str] = []
    while len(text.encode("utf-8")) > limit:
        cut = limit // 4  # a character is at most 4 bytes
        while len(text[: cut + 1].encode("utf-8")) <= limit:
            cut += 1
        pieces.append(text[:cut])
        text = text[cut:]
    if text:
        pieces.append(text)
    return pieces


class TurnAborted(Exception):
    """The gateway cancelled this turn (reported back, and ignored by the gateway)."""


class AgentNode(NodeHost):
    def __init__(
        self,
        url: str,
        *,
        device_store: IdentityStore,
        token: str | None = None,
        display_name: str | None = None,
        agents: tuple[str, ...] = (),
        models: tuple[str, ...] = (),
        reconnect: bool = True,
        **kwargs: Any,
    ) -> None:
        caps = tuple(f"agent:{a}" for a in agents) + tuple(f"model:{m}" for m in models)
        super().__init__(
            url,
            device_store=device_store,
            token=token,
            display_name=display_name,
            caps=caps,
            reconnect=reconnect,
            **kwargs,
        )
        self._handler: TurnHandler | None = None
        self._turns: dict[str, tuple[Turn, trio.CancelScope]] = {}
        self.command("agent.turn")(self._agent_turn)

    def turn(self, fn: TurnHandler) -> TurnHandler:
        """Decorator: the turn handler (one per node)."""
        if self._handler is not None:
            raise ValueError("AgentNode has a turn handler already")
        self._handler = fn
        return fn

    def observe(self, event: Event) -> None:
        if event.name == "node.invoke.cancel" and isinstance(event.payload, dict):
            entry = self._turns.get(str(event.payload.get("invokeId")))
            if entry is not None:
                entry[0].aborted.set()
                entry[1].cancel()

    async def _agent_turn(self, params: Any) -> dict[str, Any]:
        if self._handler is None:
            raise LookupError("this agent node has no turn handler")
        request = CURRENT_INVOKE.get() or {}
        invoke_id, node_id = str(request.get("id", "")), str(request.get("nodeId", ""))
        turn = Turn.from_params(params if isinstance(params, dict) else {})
        client = self.client
        assert client is not None
        text = ""
        with trio.CancelScope() as scope:
            self._turns[invoke_id] = (turn, scope)
            try:
                text = await self._run(turn, client, invoke_id, node_id)
            finally:
                self._turns.pop(invoke_id, None)
        if scope.cancelled_caught:
            raise TurnAborted("turn aborted by the gateway")
        return {"text": text} if turn.usage is None else {"text": text, "usage": turn.usage}

    async def _run(self, turn: Turn, client: GatewayClient, invoke_id: str, node_id: str) -> str:
        assert self._handler is not None
        out = self._handler(turn)
        if inspect.isawaitable(out):
            return str(await out)
        if isinstance(out, str):
            return out
        text: list[str] = []
        seq = 0
        # Chunks go out without waiting for each answer (the gateway takes a connection's
        # requests in order): a refusal surfaces at a later chunk; at most
        # PROGRESS_IN_FLIGHT wait for their answer at once.
        in_flight: collections.deque[SentCall] = collections.deque()
        try:
            async for piece in out:
                if not piece:
                    continue
                text.append(piece)
                for chunk in split_chunk(piece):
                    while in_flight and (
                        in_flight[0].answered or len(in_flight) >= PROGRESS_IN_FLIGHT
                    ):
                        await in_flight[0].answer()
                        in_flight.popleft().outcome()  # raises the gateway's refusal
                    in_flight.append(
                        await client.send_call(
                            "node.invoke.progress",
                            {"invokeId": invoke_id, "nodeId": node_id, "seq": seq, "chunk": chunk},
                        )
                    )
                    seq += 1
        finally:
            closer = getattr(out, "aclose", None)
            if closer is not None:
                with trio.CancelScope(shield=True):
                    await closer()  # the handler's own cleanup runs now, not at GC
        return "".join(text)
