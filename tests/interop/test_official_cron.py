"""The official CLI's `gateway call cron.*` against OUR gateway (a real subprocess)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.interop.conftest import GatewayProcess, OfficialCli

pytestmark = pytest.mark.interop


def call(cli: OfficialCli, gw: GatewayProcess, method: str, params: dict[str, Any]) -> Any:
    res = cli.run(
        "gateway",
        "call",
        method,
        "--params",
        json.dumps(params),
        "--url",
        gw.url,
        "--token",
        gw.token,
        "--json",
    )
    assert res.returncode == 0, res.describe()
    return res.json()


def test_official_cli_drives_cron(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    job = call(
        official_cli,
        gateway_proc,
        "cron.add",
        {
            "name": "interop",
            "schedule": {"kind": "every", "everyMs": 3_600_000},
            "payload": {"kind": "systemEvent", "text": "from the official cli"},
        },
    )
    assert job["name"] == "interop"
    assert job["configRevision"].startswith("sha256:")
    listed = call(official_cli, gateway_proc, "cron.list", {})
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    assert listed["total"] == 1

    run = call(official_cli, gateway_proc, "cron.run", {"id": job["id"]})
    assert run["ok"] is True
    assert run["enqueued"] is True
    assert run["runId"].startswith(f"manual:{job['id']}:")

    deadline = time.monotonic() + 20
    while True:
        runs = call(official_cli, gateway_proc, "cron.runs", {"id": job["id"]})
        if runs["total"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert runs["total"] == 1
    assert runs["entries"][0]["status"] == "ok"
    assert runs["entries"][0]["runId"] == run["runId"]

    removed = call(official_cli, gateway_proc, "cron.remove", {"id": job["id"]})
    assert removed == {"ok": True, "removed": True}
    after = call(official_cli, gateway_proc, "cron.list", {"includeDisabled": True})
    assert after["jobs"] == []


def test_official_cron_commands_work_against_our_gateway(
    official_cli: OfficialCli, gateway_proc: GatewayProcess
) -> None:
    """`openclaw cron add|list|rm` (not just `gateway call`) speak to our gateway unchanged."""
    common = ("--url", gateway_proc.url, "--token", gateway_proc.token)
    added = official_cli.run(
        "cron",
        "add",
        "--name",
        "from-official-cron",
        "--every",
        "1h",
        "--system-event",
        "hello from the official cron command",
        "--json",
        *common,
    )
    assert added.returncode == 0, added.describe()
    listed = official_cli.run("cron", "list", "--json", *common)
    assert listed.returncode == 0, listed.describe()
    body = listed.json()
    assert isinstance(body, dict)
    names = {job["name"]: job for job in body["jobs"]}
    assert "from-official-cron" in names
    job = names["from-official-cron"]
    assert job["schedule"]["kind"] == "every"
    assert job["schedule"]["everyMs"] == 3_600_000
    assert job["payload"] == {"kind": "systemEvent", "text": "hello from the official cron command"}
    removed = official_cli.run("cron", "rm", job["id"], "--json", *common)
    assert removed.returncode == 0, removed.describe()
    after = official_cli.run("cron", "list", "--json", *common).json()
    assert isinstance(after, dict)
    assert "from-official-cron" not in {j["name"] for j in after["jobs"]}
