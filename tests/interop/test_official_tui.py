"""The official `openclaw tui` (npm openclaw 2026.9.6) driven in tmux against OUR gateway,
answered by a real SDK agent node process that streams its reply in several chunks.

A message typed into the TUI shows the first chunk while the agent holds the rest (so the
screen really shows a stream, not only the final text), then the whole reply; after the TUI
is killed and started again it shows the conversation from chat.history. Nothing the TUI
calls at start may fail: no error line on screen, no failed request in the gateway's log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.agent_node import approved_agent_node
from tests.interop.conftest import GatewayProcess, OfficialCli, loud_skip

pytestmark = pytest.mark.interop
SCREEN_WAIT_S = 30.0
POLL_S = 0.2
TMUX_TIMEOUT_S = 10.0
COLS, ROWS = 150, 40
# The agent streams "alpha-chunk ", then waits for the test's release file (bounded), then
# "omega-chunk " and the echo: three progress chunks, the last two after the first is seen.
HANDLER = """
    yield "alpha-chunk "
    release = pathlib.Path(sys.argv[3]).parent / "release"
    with trio.move_on_after(30):
        while not release.exists():
            await trio.sleep(0.05)
    yield "omega-chunk "
    yield "echo:" + turn.message
"""
# What the TUI prints when a start-up call or the connection fails.
ERROR_MARKS = ("failed", "disconnected", "unknown method", "error")


class Tmux:
    """One tmux server on its own socket (-L), no user config; killed by `close`."""

    def __init__(self, exe: str, env: dict[str, str]) -> None:
        self.exe = exe
        self.socket = f"openclaw-tui-{uuid.uuid4().hex[:12]}"
        self.env = env

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.exe, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            timeout=TMUX_TIMEOUT_S,
            check=False,
            env=self.env,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode(errors="replace")

    def start(self, name: str, command: list[str]) -> None:
        size = ["-x", str(COLS), "-y", str(ROWS)]
        self.run("new-session", "-d", "-s", name, *size, *command)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name)

    def wait_for(self, name: str, what: str, ok: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + SCREEN_WAIT_S
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(name)
            if ok(text):
                return text
            time.sleep(POLL_S)
        pytest.fail(f"the TUI did not show {what} within {SCREEN_WAIT_S}s; screen:\n{text}")

    def close(self) -> None:
        subprocess.run(
            [self.exe, "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=TMUX_TIMEOUT_S,
            check=False,
        )


def _assert_no_error(screen: str) -> None:
    lowered = screen.lower()
    assert not [m for m in ERROR_MARKS if m in lowered], screen


def test_official_tui_streams_the_reply_and_shows_history_after_restart(
    gateway_proc: GatewayProcess, official_cli: OfficialCli, tmp_path: Path
) -> None:
    exe = shutil.which("tmux")
    if exe is None:
        loud_skip("tmux is not installed (apt-get install tmux): the official TUI was not driven")
    path = official_cli.path_fragment + os.pathsep + os.environ.get("PATH", "")
    env = {
        "HOME": str(official_cli.home),
        "TMPDIR": str(official_cli.tmpdir),
        "PATH": path,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    tui = [
        "env", *(f"{k}={v}" for k, v in env.items()),
        "openclaw", "tui", "--url", gateway_proc.url, "--token", gateway_proc.token,
    ]  # fmt: skip
    tmux = Tmux(exe, env)
    workdir = tmp_path / "agent"
    workdir.mkdir()
    try:
        with approved_agent_node(gateway_proc, official_cli, workdir, HANDLER, "tui-agent"):
            tmux.start("tui", tui)
            ready = tmux.wait_for(
                "tui",
                "a connected, idle main session",
                lambda s: "session agent:main:main" in s and "connected | idle" in s,
            )
            _assert_no_error(ready)
            tmux.run("send-keys", "-t", "tui", "hello from tmux", "Enter")
            partial = tmux.wait_for("tui", "the first chunk", lambda s: "alpha-chunk" in s)
            assert "omega-chunk" not in partial, partial  # the agent still holds the rest
            (workdir / "release").touch()
            done = tmux.wait_for(
                "tui",
                "the whole streamed reply",
                lambda s: "alpha-chunk omega-chunk echo:hello from tmux" in s and "idle" in s,
            )
            _assert_no_error(done)

            tmux.run("kill-session", "-t", "tui")
            tmux.start("tui2", tui)
            again = tmux.wait_for(
                "tui2",
                "the history after reconnecting",
                lambda s: (
                    "hello from tmux" in s
                    and "alpha-chunk omega-chunk echo:hello from tmux" in s
                    and "connected | idle" in s
                ),
            )
            _assert_no_error(again)
            assert again.index("hello from tmux") < again.index("alpha-chunk"), again

            tmux.run("send-keys", "-t", "tui2", "/new", "Enter")  # sessions.create
            fresh = tmux.wait_for(
                "tui2", "a new session", lambda s: "new session: agent:main:tui-" in s
            )
            _assert_no_error(fresh)
    finally:
        tmux.close()
    log = gateway_proc.log_file.read_text(encoding="utf-8", errors="replace")
    failed = [line for line in log.splitlines() if "res ✗" in line]
    assert failed == [], "\n".join(failed)
