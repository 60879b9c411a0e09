"""Command jobs run with a documented environment without the gateway's own secrets (issue 13):
the gateway's environment minus OPENCLAW_GATEWAY_TOKEN/_PASSWORD, any variable holding the
configured token or password (a SecretRef, the systemd env file), and the service manager's
sockets; the job's own `env` on top."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.cron.job_env import job_base_environment
from tests.helpers import TOKEN, connected, start_gateway

PROBE = (
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in "
    "['OPENCLAW_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_PASSWORD', 'MY_TOKEN_REF', 'NOTIFY_SOCKET', "
    "'WATCHDOG_USEC', 'KEEP_ME', 'PATH', 'JOB_OWN']}))"
)
PASSWORD = "gateway-password-0123456789"


async def test_a_command_job_never_sees_the_gateway_secrets(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", TOKEN)
    monkeypatch.setenv("OPENCLAW_GATEWAY_PASSWORD", PASSWORD)
    monkeypatch.setenv("MY_TOKEN_REF", TOKEN)  # e.g. gateway.auth.token: {source:"env",...}
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/user/0/systemd/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("KEEP_ME", "ordinary")
    gw = await start_gateway(nursery, tmp_path, policy=AuthPolicy(mode="token", token=TOKEN))
    try:
        with trio.fail_after(20):
            async with connected(gw.port, scopes=["operator.admin"]) as admin:
                job = {
                    "name": "env probe",
                    "schedule": {"kind": "every", "everyMs": 3_600_000},
                    "payload": {
                        "kind": "command",
                        "argv": [sys.executable, "-c", PROBE],
                        "env": {"JOB_OWN": "mine"},
                    },
                    "delivery": {"mode": "none"},
                }
                added = await admin.call("cron.add", job)
                assert added["ok"], added
                ran = await admin.call("cron.run", {"id": added["payload"]["id"]})
                assert ran["ok"], ran
                finished = await _finished(admin)
    finally:
        gw.settings.logger.close()
    assert finished["status"] == "ok", finished
    seen = json.loads(finished["summary"])
    assert seen["OPENCLAW_GATEWAY_TOKEN"] is None
    assert seen["OPENCLAW_GATEWAY_PASSWORD"] is None
    assert seen["MY_TOKEN_REF"] is None
    assert seen["NOTIFY_SOCKET"] is None and seen["WATCHDOG_USEC"] is None
    assert seen["KEEP_ME"] == "ordinary"
    assert seen["PATH"]
    assert seen["JOB_OWN"] == "mine"


async def _finished(client: Any) -> dict[str, Any]:
    while True:
        event = await client.next_event("cron")
        if event["payload"].get("action") == "finished":
            payload: dict[str, Any] = event["payload"]
            return payload


def test_the_base_environment_rules() -> None:
    env = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "OPENCLAW_GATEWAY_TOKEN": "t0k3n-0123456789",
        "OPENCLAW_GATEWAY_PASSWORD": "other",
        "REF": "pw-0123456789",
        "URL": "ws://gw:18789/?token=t0k3n-0123456789",
        "SHORT": "abc-and-more",
        "NOTIFY_SOCKET": "/run/x",
        "WATCHDOG_PID": "1",
        "LISTEN_FDS": "2",
        "EMPTY": "",
    }
    out = job_base_environment(env, ("t0k3n-0123456789", "pw-0123456789", "abc", None, ""))
    # A short secret is matched only as a whole value, so SHORT stays.
    assert out == {"PATH": "/usr/bin", "HOME": "/root", "EMPTY": "", "SHORT": "abc-and-more"}
