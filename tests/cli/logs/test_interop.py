"""`openclaw logs`: ours and the official 2026.9.6 CLI, side by side, on both gateways.

- Against OUR gateway (a subprocess): both CLIs in the same HOME print byte-identical output
  (human, --utc, --json, the truncation notice). The gateway logs at `error` level only, over
  a file seeded with fixed lines, so nothing is appended between the two runs.
- Against the OFFICIAL gateway: it keeps writing, so the two JSON tails are compared line by
  line where they overlap (same raw line -> same record), and the human tails the same way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from tests.interop.conftest import (  # noqa: F401 - official_path is a fixture
    _clean_env,
    _which,
    free_port,
    official_path,
)

pytestmark = pytest.mark.interop

TOKEN = "logs-interop-token-0123456789"
READY_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 60.0
SEED = [
    {
        "0": '{"subsystem":"gateway"}',
        "1": "http server listening",
        "_meta": {"logLevelName": "INFO", "name": '{"subsystem":"gateway"}'},
        "time": "2026-11-24T15:57:40.517+00:00",
        "message": "http server listening",
    },
    {
        "0": '{"module":"cron"}',
        "1": {"jobId": "j1"},
        "2": "cron: job added",
        "time": "2026-11-24T16:00:00Z",
    },
    {"0": "plain", "1": 42, "_meta": {"logLevelName": "WARN"}},
]


@attrs.frozen
class Home:
    root: Path
    log_file: Path

    def env(self, official: str | None = None) -> dict[str, str]:
        env = _clean_env() | {
            "HOME": str(self.root),
            "TMPDIR": str(self.root.parent / "tmp"),
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "OPENCLAW_DISABLE_BONJOUR": "1",
            "TZ": "America/New_York",
        }
        for key in ("INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID"):
            env.pop(key, None)
        if official is not None:
            env["PATH"] = official + os.pathsep + os.environ.get("PATH", "")
        return env


def _home(base: Path, port: int, **logging: str) -> Home:
    root = base / "home"
    (root / ".openclaw").mkdir(parents=True)
    (base / "tmp").mkdir()
    log_file = base / "gw.log"
    config = {
        "gateway": {"mode": "local", "port": port, "auth": {"mode": "token", "token": TOKEN}},
        "logging": {"file": str(log_file), **logging},
    }
    (root / ".openclaw" / "openclaw.json").write_text(json.dumps(config))
    return Home(root, log_file)


def _run(argv: list[str], home: Home, official: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=home.env(official),
        cwd=home.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def _both(home: Home, official: str, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    theirs = _run([_which("openclaw", official), "logs", *args], home, official)
    ours = _run([sys.executable, "-m", "openclaw_gateway", "logs", *args], home, None)
    return theirs, ours


def _wait_ready(proc: subprocess.Popen[bytes], port: int, err: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            text = err.read_text(errors="replace")[-2000:]
            pytest.fail(f"gateway not ready (exit {proc.poll()}):\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.25)


@contextmanager
def _gateway(argv: list[str], home: Home, port: int, official: str | None) -> Iterator[None]:
    out, err = home.root.parent / "gw.out", home.root.parent / "gw.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            argv,
            env=home.env(official),
            cwd=home.root,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
            start_new_session=True,  # the official gateway has helper children
        )
    try:
        _wait_ready(proc, port, err)
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(name="official")
def _official(official_path: str) -> str:  # noqa: F811 - the interop fixture, renamed
    return official_path


def test_identical_output_against_our_gateway(official: str, tmp_path: Path) -> None:
    port = free_port()
    home = _home(tmp_path, port, level="error")
    home.log_file.write_text("".join(json.dumps(r) + "\n" for r in SEED) + "not json\n")
    argv = [sys.executable, "-m", "openclaw_gateway", "gateway", "run", "--bind", "loopback"]
    with _gateway(argv, home, port, None):
        for args in ((), ("--utc",), ("--json",), ("--limit", "2"), ("--json", "--limit", "1")):
            theirs, ours = _both(home, official, *args)
            assert theirs.returncode == 0, theirs.stderr
            assert (ours.returncode, ours.stdout, ours.stderr) == (
                theirs.returncode,
                theirs.stdout,
                theirs.stderr,
            ), args
        assert f"Log file: {home.log_file}" in ours.stdout or '"type":"meta"' in ours.stdout
    # And with the gateway gone: both fall back to the file, with the same notice.
    theirs, ours = _both(home, official, "--utc")
    assert theirs.stderr.startswith("Local Gateway RPC unavailable")
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )


def test_same_records_against_the_official_gateway(official: str, tmp_path: Path) -> None:
    port = free_port()
    home = _home(tmp_path, port)
    argv = [_which("openclaw", official), "gateway", "run", "--bind", "loopback"]
    with _gateway(argv, home, port, official):
        theirs, ours = _both(home, official, "--json", "--limit", "40")
        human_theirs, human_ours = _both(home, official, "--limit", "40")
    assert (theirs.returncode, ours.returncode) == (0, 0), theirs.stderr + ours.stderr
    records_theirs = [json.loads(x) for x in theirs.stdout.splitlines()]
    records_ours = [json.loads(x) for x in ours.stdout.splitlines()]
    assert records_ours[0]["type"] == "meta"
    assert {k: v for k, v in records_ours[0].items() if k not in ("cursor", "size")} == {
        k: v for k, v in records_theirs[0].items() if k not in ("cursor", "size")
    }
    by_raw = {r["raw"]: r for r in records_theirs if "raw" in r}
    shared = [r for r in records_ours if r.get("raw") in by_raw]
    assert len(shared) >= 10, "the two tails hardly overlap"
    for record in shared:
        assert record == by_raw[record["raw"]]
    lines_theirs = set(human_theirs.stdout.splitlines())
    lines_ours = human_ours.stdout.splitlines()
    assert lines_ours[0] == f"Log file: {home.log_file}" == human_theirs.stdout.splitlines()[0]
    assert len([x for x in lines_ours if x in lines_theirs]) >= 10
