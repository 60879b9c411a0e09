"""`gateway status` against the in-process gateway: JSON keys, report, --require-rpc exits."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from openclaw_gateway.cli import status_cmd, status_render
from openclaw_gateway.cli.status_cmd import run_status
from openclaw_gateway.host.service.manager import Context
from tests.cli.probe.support import cli_env, free_port, status, write_config
from tests.helpers import TOKEN, RunningGateway

STATUS_KEYS = [
    "cli",
    "logFile",
    "service",
    "config",
    "gateway",
    "port",
    "portCli",
    "rpc",
    "extraServices",
]


async def test_status_json(gateway: RunningGateway, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    code, out, err = await status({"port": str(gateway.port), "token": TOKEN, "json": True}, env)
    assert code == 0, err
    body = json.loads(out)
    assert list(body) == STATUS_KEYS
    service = body["service"]
    # This host has no service manager (detached mode): nothing started by `gateway start`.
    assert service["mode"] == Context(env=env).kind
    if service["mode"] == "detached":
        assert service["label"] == "detached process"
        assert service["loaded"] is False and service["targetRole"] == "diagnostic-only"
    config_path = str(Path(env["HOME"]) / ".openclaw" / "openclaw.json")
    assert body["config"]["cli"] == {"path": config_path, "exists": False, "valid": True}
    assert body["gateway"] == {
        "bindMode": "loopback",
        "bindHost": "127.0.0.1",
        "port": gateway.port,
        "portSource": "cli",
        "probeUrl": gateway.url,
        "probeNote": "Loopback-only gateway; only local clients can connect.",
        "version": body["rpc"]["server"]["version"],
    }
    assert body["port"]["status"] == "busy"
    assert {row["pid"] for row in body["port"]["listeners"]} == {os.getpid()}
    assert f"127.0.0.1:{gateway.port}" in [row["address"] for row in body["port"]["listeners"]]
    assert body["portCli"]["port"] == 18789
    rpc = body["rpc"]
    assert rpc["ok"] is True and rpc["kind"] == "connect"
    assert rpc["capability"] == "connected_no_operator_scope"
    assert rpc["auth"] == {
        "role": "operator",
        "scopes": [],
        "capability": "connected_no_operator_scope",
    }
    assert rpc["url"] == gateway.url and rpc["version"] == rpc["server"]["version"]
    assert body["extraServices"] == []


async def test_status_human(gateway: RunningGateway, tmp_path: Path) -> None:
    code, out, err = await status({"port": str(gateway.port), "token": TOKEN}, cli_env(tmp_path))
    assert code == 0
    lines = out.splitlines()
    if Context(env=cli_env(tmp_path)).kind == "detached":
        assert lines[0] == (
            "Service: no supported service manager detected; detached gateway not running "
            "(diagnostic only, not the probe target)"
        )
        assert status_render.SERVICE_DETAIL in err
    assert "Config (cli): ~/.openclaw/openclaw.json (missing)" in lines
    assert f"Gateway: bind=loopback (127.0.0.1), port={gateway.port} (cli)" in lines
    assert f"Probe target: {gateway.url}" in lines
    assert "Connectivity probe: ok" in lines
    assert "Capability: connected-no-operator-scope" in lines
    assert f"Listening: 127.0.0.1:{gateway.port}" in "\n".join(lines)
    assert "Note: CLI config resolves gateway port=18789" in out


async def test_require_rpc_success(gateway: RunningGateway, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    opts = {"port": str(gateway.port), "token": TOKEN, "require_rpc": True}
    code, out, _ = await status({**opts, "json": True}, env)
    assert code == 0
    rpc = json.loads(out)["rpc"]
    assert rpc["ok"] is True and rpc["kind"] == "read" and rpc["capability"] == "read_only"
    assert rpc["auth"]["scopes"] == ["operator.read"]
    code, out, _ = await status(opts, env)
    assert code == 0
    assert "Read probe: ok\nCapability: read-only\n" in out


async def test_require_rpc_failure_exit_codes(gateway: RunningGateway, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    port = free_port()
    # The plain connectivity probe failing is still exit 0.
    code, out, err = await status({"port": str(port), "token": TOKEN}, env)
    assert code == 0
    assert "Connectivity probe: failed\n" in err
    assert f"  connect ECONNREFUSED 127.0.0.1:{port}\n" in err
    assert "Capability: unknown\n" in out
    # --require-rpc failing is exit 1: unreachable ...
    code, out, _ = await status(
        {"port": str(port), "token": TOKEN, "require_rpc": True, "json": True}, env
    )
    assert code == 1
    rpc = json.loads(out)["rpc"]
    assert rpc["ok"] is False and rpc["kind"] == "read"
    assert rpc["connectFailure"] == {"kind": "unreachable"}
    assert rpc["error"].splitlines()[:2] == [
        f"Gateway not reachable at ws://127.0.0.1:{port} (ECONNREFUSED).",
        "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
    ]
    assert "Source: service target" in rpc["error"]
    # ... and rejected credentials.
    code, out, err = await status(
        {"port": str(gateway.port), "token": "wrong-token", "require_rpc": True}, env
    )
    assert code == 1
    assert "Read probe: failed\n" in err and "unauthorized: gateway token mismatch" in err


async def test_status_connect_failure_classification(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    code, out, _ = await status(
        {"port": str(gateway.port), "token": "wrong-token", "json": True}, cli_env(tmp_path)
    )
    assert code == 0
    rpc = json.loads(out)["rpc"]
    assert rpc["gatewayReached"] is True
    assert rpc["connectFailure"] == {"kind": "auth-rejected", "detailCode": "AUTH_TOKEN_MISMATCH"}


async def test_status_uses_config_token(gateway: RunningGateway, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    write_config(env, {"gateway": {"port": gateway.port, "auth": {"token": TOKEN}}})
    code, out, _ = await status({"json": True}, env)
    body = json.loads(out)
    assert code == 0 and body["rpc"]["ok"] is True
    assert body["gateway"]["portSource"] == "env/config" and "portCli" not in body


async def test_status_usage_errors(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    code, out, err = await status({"no_probe": True, "require_rpc": True}, env)
    assert code == 1 and err == status_cmd.REQUIRE_RPC_NEEDS_PROBE + "\n"
    code, out, _ = await status({"url": "ws://127.0.0.1:1", "port": "2", "json": True}, env)
    assert code == 1
    assert json.loads(out)["error"]["message"] == "Use either --url or --port, not both."
    code, _, err = await status({"timeout": "x"}, env)
    assert code == 1
    assert err.startswith("Gateway status failed: Invalid --timeout. Use a positive millisecond")


async def test_status_no_probe_and_invalid_config(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    path = write_config(env, {})
    path.write_text("{ not json5 ")
    code, out, _ = await status({"no_probe": True, "port": str(free_port()), "json": True}, env)
    body = json.loads(out)
    assert code == 0
    assert "rpc" not in body and "version" not in body["gateway"]
    assert body["config"]["cli"]["valid"] is False and body["port"]["status"] == "free"


@pytest.mark.parametrize(
    ("opts", "reason"),
    [
        ({"port": "0"}, "--port must be an integer between 1 and 65535."),
        ({"port": "abc"}, "--port must be an integer between 1 and 65535."),
        ({"port": "9", "url": "ws://127.0.0.1:9"}, "Use either --url or --port, not both."),
    ],
)
async def test_status_usage_errors_print_the_generic_block(
    opts: dict[str, str], reason: str, tmp_path: Path
) -> None:
    code, out, err = await status(opts, cli_env(tmp_path))
    assert (code, out) == (1, "")
    assert err.splitlines() == [  # the official generic block, as 2026.9.6 prints it
        "[openclaw] The CLI command failed.",
        f"[openclaw] Reason: {reason}",
        "[openclaw] Debug: set OPENCLAW_DEBUG=1 to include the stack trace.",
        "[openclaw] Try: openclaw doctor",
        "[openclaw] Help: openclaw --help",
    ]


async def test_run_status_sync_entry_point(gateway: RunningGateway, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    opts = {"port": str(gateway.port), "token": TOKEN, "require_rpc": True, "json": True}
    with trio.fail_after(30):
        code = await trio.to_thread.run_sync(
            lambda: run_status(opts, cli_env(tmp_path), out=out, err=err)
        )
    assert code == 0 and json.loads(out.getvalue())["rpc"]["ok"] is True


async def test_options_before_the_subcommand_reach_it(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    """`openclaw gateway --port N --token T status` (cli.md §0: parent options, commander)."""
    argv = ["gateway", "--port", str(gateway.port), "--token", TOKEN, "status", "--json"]
    with trio.fail_after(30):
        done = await trio.run_process(
            [sys.executable, "-m", "openclaw_gateway", *argv],
            env=cli_env(tmp_path),
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert (body["gateway"]["port"], body["gateway"]["portSource"]) == (gateway.port, "cli")
    assert body["rpc"]["ok"] is True and body["rpc"]["url"] == gateway.url
