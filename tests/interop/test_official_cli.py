"""The official `openclaw` CLI (npm 2026.9.6) against OUR gateway running as a subprocess.

Each test runs one official command and checks the shapes that cli.md §1.2-§1.6/§9 and
protocol.md §6/§11 describe, not just the exit code. One gateway serves the whole module.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from openclaw_gateway import __version__
from tests.interop.conftest import CliResult, GatewayProcess, OfficialCli

pytestmark = pytest.mark.interop

HEALTH_KEYS = {
    # cli.md §1.2 "health payload keys" as observed from the official gateway.
    "ok",
    "ts",
    "durationMs",
    "plugins",
    "configReload",
    "channels",
    "channelOrder",
    "channelLabels",
    "heartbeatSeconds",
    "defaultAgentId",
    "agents",
    "sessions",
    "modelRuntime",
    "eventLoop",
}


def _call(cli: OfficialCli, gw: GatewayProcess, method: str, *extra: str) -> CliResult:
    return cli.run(
        "gateway", "call", method, "--json", "--url", gw.url, "--token", gw.token, *extra
    )


def _ok_json(result: CliResult) -> Any:
    assert result.returncode == 0, result.describe()
    return result.json()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _assert_health_payload(payload: Any) -> None:
    assert isinstance(payload, dict), payload
    assert payload["ok"] is True
    assert payload.keys() >= HEALTH_KEYS, sorted(HEALTH_KEYS - payload.keys())
    assert _is_int(payload["ts"])
    # Cached snapshots may be up to 60 s old (protocol.md §6.1); never from the future.
    now_ms = int(time.time() * 1000)
    assert now_ms - 120_000 < payload["ts"] <= now_ms + 5_000
    assert isinstance(payload["durationMs"], int | float)
    assert payload["durationMs"] >= 0
    assert isinstance(payload["channels"], dict)
    assert isinstance(payload["channelOrder"], list)
    assert isinstance(payload["channelLabels"], dict)
    assert isinstance(payload["plugins"], dict)
    assert isinstance(payload["plugins"]["loaded"], list)
    assert isinstance(payload["plugins"]["errors"], list)
    assert payload["configReload"]["hotReloadStatus"] in ("active", "disabled")
    assert isinstance(payload["agents"], list)
    assert isinstance(payload["defaultAgentId"], str)
    assert isinstance(payload["sessions"], dict)
    assert _is_int(payload["sessions"]["count"])
    assert isinstance(payload["sessions"]["recent"], list)
    assert isinstance(payload["eventLoop"]["degraded"], bool)
    assert isinstance(payload["modelRuntime"]["degraded"], bool)


def test_call_health_json(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    _assert_health_payload(_ok_json(_call(official_cli, gateway_proc, "health")))


def test_call_health_with_array_params(
    official_cli: OfficialCli, gateway_proc: GatewayProcess
) -> None:
    # cli.md §1.2: `--params` is passed through unchanged; `[1]` was accepted for `health`.
    result = _call(official_cli, gateway_proc, "health", "--params", "[1]")
    _assert_health_payload(_ok_json(result))


def test_call_status_json(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    payload = _ok_json(_call(official_cli, gateway_proc, "status"))
    assert isinstance(payload, dict), payload
    assert isinstance(payload["runtimeVersion"], str)
    assert payload["runtimeVersion"]
    if "pid" in payload:
        assert payload["pid"] == gateway_proc.proc.pid
    for key in ("channelSummary", "queuedSystemEvents"):
        if key in payload:
            assert isinstance(payload[key], list)


def test_call_system_presence_json(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    rows = _ok_json(_call(official_cli, gateway_proc, "system-presence"))
    # protocol.md §6.3 / §8: the raw array, sorted by ts descending, with the gateway's self row;
    # CLI clients never create presence rows of their own.
    assert isinstance(rows, list), rows
    assert all(isinstance(row, dict) and _is_int(row.get("ts")) for row in rows), rows
    assert [r["ts"] for r in rows] == sorted((r["ts"] for r in rows), reverse=True)
    selves = [r for r in rows if r.get("mode") == "gateway" and r.get("reason") == "self"]
    assert len(selves) == 1, rows
    me = selves[0]
    for key in ("host", "ip", "version", "platform", "instanceId", "text"):
        assert isinstance(me.get(key), str), (key, me)
        assert me[key], (key, me)
    assert me["version"] == __version__
    assert me["text"].startswith(f"Gateway: {me['host']} ({me['ip']})"), me["text"]
    assert f"app {me['version']}" in me["text"]
    assert "mode gateway" in me["text"]
    assert "reason self" in me["text"]
    assert not any(r.get("mode") == "cli" for r in rows), rows


def test_gateway_health_human(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    result = official_cli.run(
        "gateway", "health", "--url", gateway_proc.url, "--token", gateway_proc.token
    )
    assert result.returncode == 0, result.describe()
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert "Gateway Health" in lines, result.describe()
    assert any(re.fullmatch(r"OK \(\d+ms\)", line) for line in lines), result.describe()


def test_gateway_probe_json(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    result = official_cli.run(
        "gateway", "probe", "--url", gateway_proc.url, "--token", gateway_proc.token, "--json"
    )
    report = _ok_json(result)
    assert isinstance(report, dict), report
    assert report["ok"] is True
    assert report["primaryTargetId"] == "explicit"
    # The CLI's config points gateway.port at us, so localLoopback de-duplicates into --url.
    targets = {t["id"]: t for t in report["targets"]}
    assert set(targets) == {"explicit"}, report["targets"]
    target = targets["explicit"]
    assert target["url"] == gateway_proc.url
    assert target["connect"]["ok"] is True
    assert target["connect"]["close"] is None
    assert _is_int(target["connect"]["latencyMs"])
    assert target["server"]["version"] == __version__
    assert isinstance(target["server"]["connId"], str)
    assert target["server"]["connId"]
    assert target["auth"]["role"] == "operator"
    # protocol.md §11.3: device-less probe-mode connections get their scopes cleared, so the
    # official gateway reports "connect-only" / "Read probe: limited"; so must we.
    assert target["connect"]["scopeLimited"] is True
    assert target["connect"]["error"] == "missing scope: operator.read"
    assert target["auth"]["scopes"] == []
    assert report["capability"] == "connected_no_operator_scope"
    assert [w["code"] for w in report["warnings"]] == ["probe_scope_limited"]


def test_call_wrong_token(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    result = official_cli.run(
        "gateway", "call", "health", "--json", "--url", gateway_proc.url, "--token", "wrong-token"
    )
    assert result.returncode == 1, result.describe()
    # cli.md §1.2, the exact JSON the official gateway produces.
    assert result.json() == {
        "ok": False,
        "error": {
            "type": "gateway_request_error",
            "code": "INVALID_REQUEST",
            "message": "unauthorized: gateway token mismatch (use this gateway's "
            "gateway.auth.token or pair the device)",
            "details": {
                "code": "AUTH_TOKEN_MISMATCH",
                "authReason": "token_mismatch",
                "canRetryWithDeviceToken": False,
                "recommendedNextStep": "update_auth_credentials",
            },
            "retryable": False,
        },
    }
    assert "gateway token mismatch" in result.stderr
    assert "wrong-token" not in result.stdout + result.stderr


def test_call_unknown_method(official_cli: OfficialCli, gateway_proc: GatewayProcess) -> None:
    result = _call(official_cli, gateway_proc, "nosuch.method")
    assert result.returncode == 1, result.describe()
    assert result.json() == {
        "ok": False,
        "error": {
            "type": "gateway_request_error",
            "code": "INVALID_REQUEST",
            "message": "unknown method: nosuch.method",
            "retryable": False,
        },
    }


def test_gateway_file_log_stays_in_tmp(gateway_proc: GatewayProcess) -> None:
    # The module's config sets logging.file; the gateway must honour it (and so not write to
    # /tmp/openclaw). Runs last, after the CLI calls above have been logged.
    assert gateway_proc.log_file.is_file(), gateway_proc.output()
    assert gateway_proc.log_file.stat().st_size > 0
    assert str(gateway_proc.log_file) in gateway_proc.output()


def test_official_health_sees_an_active_watcher_and_real_loop_figures(
    official_cli: OfficialCli, gateway_proc: GatewayProcess
) -> None:
    # `openclaw health` reaches the gateway its config names (gateway.port -> us).
    result = official_cli.run("health", env={"OPENCLAW_GATEWAY_TOKEN": gateway_proc.token})
    assert result.returncode == 0, result.describe()
    assert "Config hot reload" not in result.stdout + result.stderr, result.describe()
    line = next(
        (s for s in result.stdout.splitlines() if s.startswith("Gateway event loop:")), None
    )
    assert line is not None, result.describe()
    found = re.search(r"util=(\S+) cpu=(\S+)$", line)
    assert found is not None, line
    util, cpu = (float(v) for v in found.groups())  # "undefined" would not parse
    assert 0.0 <= util <= 1.0 and cpu >= 0.0, line
