"""A real `systemd --user` managing the gateway, end to end, inside private namespaces.

PID 1 here is not systemd, so the test makes its own world (testing-discovery-and-services.md
§2): `unshare --mount --net --pid --fork --mount-proc --kill-child` runs
systemd_e2e_driver.py as the namespace's PID 1, which mounts a tmpfs over /run/systemd (with
the `system` dir sd_booted() checks) and over the account home (the service commands insist
on HOME being the account home), starts `systemd --user`, and drives our CLI through install,
start (blocks until READY=1), status, a SIGKILL (restarted), a SIGSTOP (the watchdog fires,
restarted), stop (clean exit 0), an exit 78 (not restarted), restart and uninstall.

Nothing escapes: the network namespace has only lo, the mounts vanish with the mount
namespace, and `--kill-child` + `timeout -s KILL` end every process in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.host.service.identity import account_home

DRIVER = Path(__file__).with_name("systemd_e2e_driver.py")
HARD_TIMEOUT = 60  # seconds; the run takes ~12 s
TOKEN = "e2e-token-0123456789abcdefghij"
PORT = 18789  # inside a private network namespace: nothing else can be on it


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root for unshare --mount --net --pid"
    for tool in ("unshare", "timeout", "ip", "systemctl", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/lib/systemd/systemd").exists():
        return "/lib/systemd/systemd is not installed"
    if not Path("/run/systemd").is_dir():
        return "/run/systemd does not exist to mount a private tmpfs over"
    probe = subprocess.run(
        ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "true"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot create namespaces: {probe.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reason = _why_not()
    if reason is not None:
        pytest.skip(f"SYSTEMD E2E NOT RUN: {reason}")
    scratch = tmp_path_factory.mktemp("systemd-e2e")
    done = subprocess.run(
        [
            "timeout",
            "-s",
            "KILL",
            str(HARD_TIMEOUT),
            "unshare",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            sys.executable,
            str(DRIVER),
            str(scratch),
            str(account_home()),
            str(PORT),
            TOKEN,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=HARD_TIMEOUT + 10,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out.get("error") is None, (
        f"{out['error']}\n--- service log ---\n{out.get('service.log')}\n"
        f"--- systemd ---\n{out.get('systemd.log')}"
    )
    return out


def _step(out: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in out["steps"] if s["name"] == name)


def test_install_starts_and_blocks_until_ready(run: dict[str, Any]) -> None:
    install = _step(run, "install")
    assert install["rc"] == 0, install
    assert install["json"]["result"] == "installed"
    # `install` returned only after READY=1: the unit is running and says what it listens on.
    assert install["show"]["ActiveState"] == "active"
    assert install["show"]["SubState"] == "running"
    assert install["show"]["StatusText"] == f"listening on port {PORT}"


def test_status_reports_the_active_unit(run: dict[str, Any]) -> None:
    status = _step(run, "status")
    assert status["rc"] == 0
    service = status["json"]["service"]
    assert service["mode"] == "systemd"
    assert service["loaded"] is True
    assert service["runtime"]["status"] == "running"
    assert service["runtime"]["state"] == "active"
    assert service["runtime"]["pid"] == int(_step(run, "install")["show"]["MainPID"])
    assert service["command"]["programArguments"][-2:] == ["--port", str(PORT)]
    assert status["json"]["rpc"]["ok"] is True
    human = _step(run, "status-human")["stdout"].splitlines()
    pid = service["runtime"]["pid"]
    assert human[0] == "Service: systemd (enabled)"
    assert f"Runtime: running (pid {pid}, state active, sub running)" in human
    assert "Connectivity probe: ok" in human
    again = _step(run, "start-again")["json"]
    assert again["result"] == "already-running"
    assert again["message"] == f"Gateway service already running (pid {service['runtime']['pid']})."


def test_sigkill_and_watchdog_restart_the_gateway(run: dict[str, Any]) -> None:
    kill = _step(run, "sigkill")
    assert kill["after"]["NRestarts"] == "1"
    assert kill["after"]["MainPID"] != kill["before"]["MainPID"]
    watchdog = _step(run, "watchdog")
    assert watchdog["after"]["NRestarts"] == "2"
    assert watchdog["after"]["MainPID"] != watchdog["before"]["MainPID"]


def test_stop_is_a_clean_exit(run: dict[str, Any]) -> None:
    stop = _step(run, "stop")
    assert stop["rc"] == 0 and stop["json"]["result"] == "stopped"
    show = stop["show"]
    assert (show["ActiveState"], show["Result"]) == ("inactive", "success")
    assert (show["ExecMainCode"], show["ExecMainStatus"]) == ("1", "0")  # exited, status 0


def test_exit_78_is_not_restarted(run: dict[str, Any]) -> None:
    broken = _step(run, "start-broken")
    assert broken["rc"] == 1
    assert broken["json"]["error"].startswith("Gateway start failed: Error: systemctl start failed")
    show = broken["show"]
    assert (show["ActiveState"], show["ExecMainStatus"], show["NRestarts"]) == ("failed", "78", "0")
    restart = _step(run, "restart")
    assert restart["rc"] == 0 and restart["json"]["result"] == "restarted"
    assert restart["show"]["ActiveState"] == "active"


def test_uninstall_leaves_nothing_of_ours(run: dict[str, Any]) -> None:
    uninstall = _step(run, "uninstall")
    assert uninstall["rc"] == 0 and uninstall["json"]["result"] == "uninstalled"
    # Only the test's own drop-in (operator-owned, deliberately kept) remains.
    assert uninstall["left"] == [
        "openclaw-gateway.service.d",
        "openclaw-gateway.service.d/test.conf",
    ]
    assert uninstall["env_file"] is False
    assert "No such file" in uninstall["is_enabled"]
    assert uninstall["show"]["ActiveState"] == "inactive"
    assert run["manager_rc"] == 0
