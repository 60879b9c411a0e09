"""Pacing of streamed text (official LIVE_TEXT_PACING_MS = 75): the first chunk goes out at
once, chunks within the window are held and sent together when it ends, each delta carries
only what was added; on trio's virtual clock, through a real hub."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, cast

import trio
import trio.testing

from openclaw_gateway.server.hub import Hub, Outgoing, Subscriber
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.agents import AgentDirectory
from openclaw_gateway.server.runs.live_text import LIVE_TEXT_PACING_S, broadcast_delta
from openclaw_gateway.server.runs.manager import RunManager
from openclaw_gateway.server.runs.run import Run, TurnRequest
from openclaw_gateway.state import session_keys as K
from openclaw_gateway.state.sessions import SessionBook
from openclaw_gateway.state.store import Store


def test_broadcast_delta_is_what_was_added() -> None:
    assert broadcast_delta("", None) is None
    assert broadcast_delta("Hel", None) == ("Hel", False)
    assert broadcast_delta("Hello", "Hel") == ("lo", False)
    assert broadcast_delta("Hello", "Hello") is None
    assert broadcast_delta("Goodbye", "Hello") == ("Goodbye", True)


class Recorder:
    """A subscriber's socket: every frame with the virtual time it was written."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, dict[str, Any]]] = []

    def send_nowait(self, value: Outgoing, /) -> None:
        assert isinstance(value, bytes)
        self.frames.append((trio.current_time(), json.loads(value)))

    def frame(self, frames: Any, /) -> bytes:
        return b"\0".join(frames)

    def frame_one(self, frame: bytes, /) -> bytes:
        return frame

    def write(self, data: bytes, /) -> None:
        for frame in data.split(b"\0"):
            self.send_nowait(frame)


async def test_chunks_are_paced_and_merged(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    hub = Hub()
    sock = Recorder()
    sub = Subscriber("c1", "operator", ("operator.read",), sock, abort=lambda code, why: None)
    sub.writer = sock
    hub.add(sub)
    state = types.SimpleNamespace(broadcast=hub.broadcast, corked=hub.corked, now_ms=lambda: 1)
    book = SessionBook(Store(tmp_path / "db.sqlite"))
    async with trio.open_nursery() as nursery:
        manager = RunManager(
            cast(GatewayState, state), book, AgentDirectory.from_config(None), nursery,
            journal=cast(Any, None),
        )  # fmt: skip
        run = Run(TurnRequest(K.parse("main"), "hi", "r1"), status="running")
        start = trio.current_time()
        for chunk, at in (("a", 0.0), ("b", 0.01), ("c", 0.02), ("d", 0.2), ("e", 0.21)):
            await trio.sleep_until(start + at)
            manager._on_chunk(run, chunk)
        await trio.sleep(1)
        manager._send_live(run)  # what _finish does before the terminal: nothing is held
    chat = [(t - start, e["payload"]) for t, e in sock.frames if e["event"] == "chat"]
    agent = [(t - start, e["payload"]["data"]) for t, e in sock.frames if e["event"] == "agent"]
    pace = LIVE_TEXT_PACING_S
    assert [(round(t, 3), p["deltaText"], p["message"]["content"][0]["text"]) for t, p in chat] == [
        (0.0, "a", "a"),
        (round(pace, 3), "bc", "abc"),
        (0.2, "d", "abcd"),
        (round(0.2 + pace, 3), "e", "abcde"),
    ]
    assert [p["seq"] for _t, p in chat] == [1, 2, 3, 4]
    assert [(d["delta"], d["text"]) for _t, d in agent] == [
        ("a", "a"),
        ("bc", "abc"),
        ("d", "abcd"),
        ("e", "abcde"),
    ]
    # One write per paced event: the chat delta and its agent event leave together.
    assert [t for t, _e in sock.frames][::2] == [t for t, _e in sock.frames][1::2]


async def test_held_text_goes_out_before_the_end(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    hub = Hub()
    sock = Recorder()
    hub.add(Subscriber("c1", "operator", ("operator.read",), sock, abort=lambda code, why: None))
    state = types.SimpleNamespace(broadcast=hub.broadcast, corked=hub.corked, now_ms=lambda: 1)
    book = SessionBook(Store(tmp_path / "db.sqlite"))
    async with trio.open_nursery() as nursery:
        manager = RunManager(
            cast(GatewayState, state), book, AgentDirectory.from_config(None), nursery,
            journal=cast(Any, None),
        )  # fmt: skip
        run = Run(TurnRequest(K.parse("main"), "hi", "r1"), status="running")
        manager._on_chunk(run, "one ")
        manager._on_chunk(run, "two")  # held for the window
        manager._send_live(run)  # the run ends first: the held text goes now
        run.done.set()
        await trio.sleep(1)  # the window's own flush then finds nothing to send
    deltas = [e["payload"]["deltaText"] for _t, e in sock.frames if e["event"] == "chat"]
    assert deltas == ["one ", "two"]
