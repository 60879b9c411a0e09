"""kill -9 during a cron run, then restart: no job lost, no finished run repeated, the
interrupted run recorded. A real `python -m openclaw_gateway gateway run` subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from openclaw_gateway.server.cron.scheduler import INTERRUPTED
from tests.helpers import RawClient, connected

TOKEN = "crash-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class Proc:
    base: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        home = self.base / "home"
        state = home / ".openclaw"
        state.mkdir(parents=True, exist_ok=True)
        config = {"gateway": {"mode": "local"}, "logging": {"file": str(self.base / "gw.log")}}
        (state / "openclaw.json").write_text(json.dumps(config), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}
        env |= {"HOME": str(home), "OPENCLAW_STATE_DIR": str(state)}
        self.port = _free_port()
        argv = [
            sys.executable,
            "-m",
            "openclaw_gateway",
            "gateway",
            "run",
            "--port",
            str(self.port),
            "--bind",
            "loopback",
            "--allow-unconfigured",
            "--token",
            TOKEN,
        ]
        with (self.base / "out.txt").open("ab") as out:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=self.base
            )

    async def wait_ready(self) -> None:
        assert self.proc is not None
        while True:
            assert self.proc.poll() is None, (self.base / "out.txt").read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                await trio.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(timeout=10)


@pytest.fixture(name="gw")
def _gw(tmp_path: Path) -> Iterator[Proc]:
    proc = Proc(tmp_path)
    yield proc
    if proc.proc is not None and proc.proc.poll() is None:
        proc.stop()


async def _call(c: RawClient, method: str, params: dict[str, Any]) -> Any:
    res = await c.call(method, params)
    assert res["ok"], res
    return res["payload"]


async def _runs(c: RawClient, job_id: str) -> list[dict[str, Any]]:
    page = await _call(c, "cron.runs", {"id": job_id, "sortDir": "asc"})
    entries: list[dict[str, Any]] = page["entries"]
    return entries


async def test_kill9_mid_run_then_restart(gw: Proc, tmp_path: Path) -> None:
    marker = tmp_path / "slow-started"
    auth = {"token": TOKEN}
    with trio.fail_after(60):
        gw.start()
        await gw.wait_ready()
        async with connected(gw.port, scopes=["operator.admin"], auth=auth) as c:
            hourly = {"kind": "every", "everyMs": 3_600_000}
            quick = await _call(
                c,
                "cron.add",
                {
                    "name": "quick",
                    "schedule": hourly,
                    "payload": {"kind": "command", "argv": ["true"]},
                },
            )
            slow = await _call(
                c,
                "cron.add",
                {
                    "name": "slow",
                    "schedule": hourly,
                    "payload": {
                        "kind": "command",
                        "argv": ["sh", "-c", f"touch {marker}; sleep 3"],
                    },
                },
            )
            idle = await _call(
                c,
                "cron.add",
                {
                    "name": "idle",
                    "schedule": hourly,
                    "payload": {"kind": "systemEvent", "text": "x"},
                },
            )
            await _call(c, "cron.run", {"id": quick["id"]})
            while not await _runs(c, quick["id"]):  # noqa: ASYNC110 - another process
                await trio.sleep(0.05)
            await _call(c, "cron.run", {"id": slow["id"]})
            while not marker.exists():  # noqa: ASYNC110 - written by the gateway's child
                await trio.sleep(0.02)
        gw.kill9()

        gw.start()
        await gw.wait_ready()
        async with connected(gw.port, scopes=["operator.admin"], auth=auth) as c:
            listed = await _call(c, "cron.list", {"includeDisabled": True})
            assert sorted(j["name"] for j in listed["jobs"]) == ["idle", "quick", "slow"]
            assert {j["id"] for j in listed["jobs"]} == {quick["id"], slow["id"], idle["id"]}
            for job in listed["jobs"]:
                assert "runningAtMs" not in job["state"]
                assert job["nextRunAtMs"] == job["createdAtMs"] + 3_600_000

            [interrupted] = await _runs(c, slow["id"])
            assert interrupted["status"] == "error"
            assert interrupted["errorReason"] == "interrupted"
            assert interrupted["error"] == INTERRUPTED
            slow_now = await _call(c, "cron.get", {"id": slow["id"]})
            assert slow_now["lastRunStatus"] == "error"
            await trio.sleep(1.0)  # give a (wrong) catch-up the chance to show itself
            [done] = await _runs(c, quick["id"])
            assert done["status"] == "ok"
            assert len(await _runs(c, slow["id"])) == 1
            all_runs = await _call(c, "cron.runs", {"scope": "all"})
            assert all_runs["total"] == 2
        assert gw.stop() == 0


async def test_sigterm_stops_a_running_command_and_records_it(gw: Proc, tmp_path: Path) -> None:
    from openclaw_gateway.state.store import Store

    pid_file = tmp_path / "pid"
    # Ignores SIGTERM, so the gateway has to escalate to SIGKILL after its grace.
    script = f"trap '' TERM; echo $$ > {pid_file}; sleep 30"
    with trio.fail_after(60):
        gw.start()
        await gw.wait_ready()
        async with connected(gw.port, scopes=["operator.admin"], auth={"token": TOKEN}) as c:
            job = await _call(
                c,
                "cron.add",
                {
                    "name": "stubborn",
                    "schedule": {"kind": "every", "everyMs": 3_600_000},
                    "payload": {"kind": "command", "argv": ["sh", "-c", script]},
                },
            )
            await _call(c, "cron.run", {"id": job["id"]})
            while not pid_file.exists() or not pid_file.read_text().strip():  # noqa: ASYNC110
                await trio.sleep(0.02)
        assert gw.stop() == 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    store = Store.open(tmp_path / "home" / ".openclaw")
    try:
        [(status, entry)] = store.cron_runs(job["id"])
        assert store.cron_running() == []
    finally:
        store.close()
    assert status == "interrupted"
    assert entry["error"] == INTERRUPTED
