"""The official Control UI (the official package's dist/control-ui) served from
`gateway.controlUi.root` by our gateway, in headless Chromium (issue 16 §2): it loads, its
socket gets hello-ok with a device identity (silent local pairing) and stays up, and a chat
with a real SDK agent node streams back into it. Skips when the official package is not
installed (tests/officialkit.py: OPENCLAW_REFERENCE_BIN, else the default cache)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import officialkit
from tests.browser.support import TOKEN, Gateway, agent_node, loud_skip, running_gateway

HISTORY_WAIT_S = 20.0
STAYS_UP_S = 3.0  # watched after the chat: no close, still "Connected"
# The official bundle is large (hundreds of modules); on a busy 2-core machine its first
# connect takes ~15 s and the first chat ~20 s more.
OFFICIAL_UI_TIMEOUT_MS = 90_000


def official_control_ui() -> Path:
    index = officialkit.package_file("dist/control-ui/index.html")
    if index is None or not index.is_file():
        loud_skip(
            "official Control UI: no official package with dist/control-ui "
            "(OPENCLAW_REFERENCE_BIN, ~/.cache/openclaw-ref; run scripts/reference-openclaw)"
        )
    return index.parent


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Gateway]:
    root = official_control_ui()
    with running_gateway(tmp_path_factory.mktemp("official-ui"), {"root": str(root)}) as gw:
        yield gw


def test_official_control_ui_connects_and_chats(page: Any, gateway: Gateway) -> None:
    page.set_default_timeout(OFFICIAL_UI_TIMEOUT_MS)
    sockets: list[dict[str, Any]] = []

    def watch(ws: Any) -> None:
        seen: dict[str, Any] = {"hello": None, "closed": False}
        sockets.append(seen)
        ws.on("framereceived", lambda p: _note_hello(seen, p))
        ws.on("close", lambda _ws: seen.update(closed=True))

    bootstrap: list[int] = []
    page.on("websocket", watch)
    page.on(
        "response",
        lambda r: bootstrap.append(r.status) if "control-ui-config.json" in r.url else None,
    )
    with agent_node(gateway, "ui-agent"):
        gateway.approve_node("ui-agent")
        page.goto(f"{gateway.http}/#token={TOKEN}")
        page.get_by_text("Connected", exact=True).wait_for()
        hello = next(s["hello"] for s in sockets if s["hello"])
        assert hello["auth"]["role"] == "operator"
        assert "operator.admin" in hello["auth"]["scopes"]
        assert hello["auth"].get("deviceToken")  # paired silently (loopback, device identity)
        assert bootstrap and all(status == 200 for status in bootstrap), bootstrap

        composer = page.get_by_placeholder(re.compile(r"^Message "))
        composer.fill("hello official ui")
        composer.press("Enter")
        # The reply is a transcript paragraph; the page also announces it to screen readers
        # in a status region, so the text alone names two elements.
        reply = page.get_by_role("paragraph").filter(has_text="echo: hello official ui")
        reply.first.wait_for()
        # The page shows the streamed delta; the transcript holds the reply once the run's
        # final is committed, a moment later on a busy machine.
        deadline = time.monotonic() + HISTORY_WAIT_S
        while not any(
            "echo: hello official ui" in json.dumps(m)
            for m in gateway.call("chat.history", {"sessionKey": "main"})["messages"]
        ):
            assert time.monotonic() < deadline, "the reply never reached chat.history"
            time.sleep(0.1)

        time.sleep(STAYS_UP_S)
        assert page.get_by_text("Connected", exact=True).is_visible()
        assert reply.count() == 1  # the streamed reply and the committed one are one bubble
        assert [s for s in sockets if s["hello"] and not s["closed"]], sockets
    assert [e for e in page.errors if e.startswith("pageerror")] == []


def _note_hello(seen: dict[str, Any], payload: Any) -> None:
    if seen["hello"] is None and isinstance(payload, str) and '"hello-ok"' in payload:
        frame = json.loads(payload)
        if frame.get("ok"):
            seen["hello"] = frame["payload"]
