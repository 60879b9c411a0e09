"""`gateway probe` against the in-process gateway: JSON shape, report text, classification."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.cli import gateway_probe, probe_report, probe_targets
from openclaw_gateway.cli.gateway_probe import ProbeResult, probe_capability, summarize_capability
from openclaw_gateway.cli.probe_cmd import run_probe
from openclaw_gateway.cli.probe_targets import ProbeTarget, probe_budget_ms, resolve_targets
from openclaw_gateway.cli.ssh_tunnel import resolve_ssh_client
from tests.cli.probe.support import cli_env, free_port, probe, write_config
from tests.helpers import TOKEN, RunningGateway

TOP_KEYS = [
    "ok",
    "degraded",
    "capability",
    "ts",
    "durationMs",
    "timeoutMs",
    "primaryTargetId",
    "warnings",
    "network",
    "discovery",
    "targets",
]
TARGET_KEYS = [
    "id",
    "kind",
    "url",
    "active",
    "tunnel",
    "connect",
    "auth",
    "server",
    "self",
    "config",
    "health",
    "summary",
    "presence",
]


async def test_probe_json_shape_token_only_is_connect_only(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    code, out, err = await probe(
        {"port": str(gateway.port), "token": TOKEN, "json": True}, cli_env(tmp_path)
    )
    assert code == 0, err
    body = json.loads(out)
    assert list(body) == TOP_KEYS
    assert body["ok"] is True and body["degraded"] is True
    assert body["capability"] == "connected_no_operator_scope"
    assert body["timeoutMs"] == 3000 and body["primaryTargetId"] == "localLoopback"
    # mDNS is off in these tests (cli_env); the section keeps the official shape.
    assert body["discovery"] == {"timeoutMs": 1200, "count": 0, "beacons": []}
    assert body["network"]["localLoopbackUrl"] == gateway.url
    assert body["warnings"] == [
        {
            "code": "probe_scope_limited",
            "message": probe_targets.SCOPE_LIMITED,
            "targetIds": ["localLoopback"],
        }
    ]
    [target] = body["targets"]
    assert list(target) == TARGET_KEYS
    assert target["url"] == gateway.url and target["active"] is True and target["tunnel"] is None
    connect = target["connect"]
    assert connect["ok"] is True and connect["rpcOk"] is False and connect["scopeLimited"] is True
    assert connect["error"] == "missing scope: operator.read" and connect["close"] is None
    assert isinstance(connect["latencyMs"], int)
    assert target["auth"] == {
        "role": "operator",
        "scopes": [],
        "capability": "connected_no_operator_scope",
    }
    assert target["server"]["version"] and target["server"]["connId"]
    assert [target[k] for k in ("self", "config", "health", "summary", "presence")] == [None] * 5


async def test_probe_human_report(gateway: RunningGateway, tmp_path: Path) -> None:
    code, out, err = await probe({"port": str(gateway.port), "token": TOKEN}, cli_env(tmp_path))
    assert code == 0 and err == ""
    text = re.sub(r"\(\d+ms\)", "(Nms)", out)
    assert text == (
        "Gateway Status\n"
        "Reachable: yes\n"
        "Capability: connected-no-operator-scope\n"
        "Probe budget: 3000ms\n"
        "\n"
        "Warning:\n"
        f"- {probe_targets.SCOPE_LIMITED}\n"
        "\n"
        "Discovery (this machine)\n"
        "Found 0 gateways via Bonjour (local.)\n"
        f"{probe_report.DISCOVERY_TIP}\n"
        "\n"
        "Targets\n"
        f"Local loopback {gateway.url}\n"
        "  Connect: ok (Nms) · Capability: connect-only · Read probe: limited - missing scope: "
        "operator.read\n"
        "\n"
    )


async def test_unreachable_target_exits_1_with_close_1006(tmp_path: Path) -> None:
    port = free_port()
    code, out, _ = await probe({"port": str(port), "json": True}, cli_env(tmp_path))
    assert code == 1
    body = json.loads(out)
    assert body["ok"] is False and body["degraded"] is False
    assert body["capability"] == "unknown" and body["primaryTargetId"] is None
    assert [w["code"] for w in body["warnings"]] == ["no_gateway_reachable"]
    assert body["warnings"][0]["targetIds"] == ["localLoopback"]
    [target] = body["targets"]
    assert target["connect"] == {
        "ok": False,
        "rpcOk": False,
        "scopeLimited": False,
        "latencyMs": None,
        "error": f"connect ECONNREFUSED 127.0.0.1:{port}",
        "close": {"code": 1006, "reason": ""},
    }
    assert target["auth"] == {"role": None, "scopes": [], "capability": "unknown"}
    assert target["server"] == {"version": None, "connId": None}
    code, out, _ = await probe({"port": str(port)}, cli_env(tmp_path))
    assert code == 1
    assert "Reachable: no\n" in out
    assert (
        f"  Connect: failed - connect ECONNREFUSED 127.0.0.1:{port} · Capability: unknown\n" in out
    )


async def test_wrong_token_is_reached_but_read_probe_failed(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    code, out, _ = await probe(
        {"port": str(gateway.port), "token": "wrong-token", "json": True}, cli_env(tmp_path)
    )
    assert code == 0  # reached: the gateway answered the connect
    body = json.loads(out)
    connect = body["targets"][0]["connect"]
    assert connect["ok"] is True and connect["rpcOk"] is False
    assert connect["error"].startswith("unauthorized: gateway token mismatch")
    assert connect["close"]["code"] == 1008
    assert body["capability"] == "unknown"
    assert [w["code"] for w in body["warnings"]] == ["probe_detail_failed"]
    assert body["warnings"][0]["message"].startswith(
        "Gateway accepted the WebSocket connection, but follow-up read diagnostics failed: "
        "unauthorized:"
    )


async def test_silent_listener_times_out_within_budget(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    listeners = await nursery.start(trio.serve_tcp, silent, 0)
    port = listeners[0].socket.getsockname()[1]
    started = trio.current_time()
    code, out, _ = await probe(
        {"port": str(port), "timeout": "300", "json": True}, cli_env(tmp_path)
    )
    assert trio.current_time() - started < 3
    assert code == 1
    connect = json.loads(out)["targets"][0]["connect"]
    assert connect["error"] == "timeout" and connect["close"] is None
    assert json.loads(out)["timeoutMs"] == 300


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "1.5"])
async def test_invalid_timeout(raw: str, tmp_path: Path) -> None:
    message = (
        "Invalid --timeout. Use a positive millisecond value, e.g. --timeout 30000. "
        f'Received: "{raw}".'
    )
    code, out, err = await probe({"timeout": raw, "json": True}, cli_env(tmp_path))
    assert code == 1 and err == ""
    assert json.loads(out) == {"ok": False, "error": {"type": "cli_error", "message": message}}
    code, out, err = await probe({"timeout": raw}, cli_env(tmp_path))
    assert code == 1 and out == "" and err == message + "\n"


async def test_usage_errors(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    code, out, err = await probe({"url": "ws://127.0.0.1:1"}, env)
    assert code == 1 and out == ""
    assert err.startswith("gateway url override requires explicit credentials\n")
    code, out, _ = await probe({"port": "abc", "json": True}, env)
    assert code == 1 and json.loads(out)["error"]["message"] == gateway_probe.INVALID_PORT


async def test_explicit_url_deduplicates_with_local_loopback(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, OPENCLAW_GATEWAY_PORT=str(gateway.port))
    code, out, _ = await probe({"url": gateway.url, "token": TOKEN, "json": True}, env)
    body = json.loads(out)
    assert code == 0
    assert [t["id"] for t in body["targets"]] == ["explicit"]
    assert body["primaryTargetId"] == "explicit"


async def test_explicit_and_loopback_both_reachable_warns_multiple(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    """Two reachable targets without a provable self identity: `multiple_gateways`."""
    env = cli_env(tmp_path, OPENCLAW_GATEWAY_PORT=str(gateway.port))
    url = f"ws://localhost:{gateway.port}"
    code, out, _ = await probe({"url": url, "token": TOKEN, "json": True}, env)
    body = json.loads(out)
    assert code == 0
    assert [t["id"] for t in body["targets"]] == ["explicit", "localLoopback"]
    codes = [w["code"] for w in body["warnings"]]
    assert codes[0] == "multiple_gateways" and codes.count("probe_scope_limited") == 2


async def test_configured_remote_uses_remote_auth(gateway: RunningGateway, tmp_path: Path) -> None:
    """mode=remote: configRemote is active and gets gateway.remote.token; the SSH target from
    the config fails (nothing listens) and is reported, probing goes on directly."""
    dead = free_port()
    env = cli_env(tmp_path, OPENCLAW_GATEWAY_PORT=str(free_port()))
    write_config(
        env,
        {
            "gateway": {
                "mode": "remote",
                "remote": {
                    "url": gateway.url,
                    "token": TOKEN,
                    "sshTarget": f"tester@127.0.0.1:{dead}",
                },
            }
        },
    )
    opts: dict[str, Any] = {
        "json": True,
        "ssh_options": ["-F", "none", "-o", "UserKnownHostsFile=/dev/null"],
    }
    code, out, _ = await probe(opts, env)
    body = json.loads(out)
    assert code == 0
    ids = [(t["id"], t["active"]) for t in body["targets"]]
    assert ids == [("configRemote", True), ("localLoopback", False)]
    assert body["primaryTargetId"] == "configRemote"
    assert body["targets"][0]["connect"]["ok"] is True
    assert body["targets"][1]["connect"]["ok"] is False
    if resolve_ssh_client() is not None:
        ssh_warning = body["warnings"][0]
        assert ssh_warning["code"] == "ssh_tunnel_failed" and "targetIds" not in ssh_warning
        assert ssh_warning["message"].startswith("SSH tunnel failed: ssh exited (255)")
    code, out, _ = await probe({"ssh_options": opts["ssh_options"]}, env)
    assert f"Remote (configured) {gateway.url}\n" in out
    assert "Local loopback ws://127.0.0.1:" in out


def test_target_order_and_port_override() -> None:
    raw = {"gateway": {"mode": "remote", "remote": {"url": "wss://gw.example:443"}}}
    targets = resolve_targets(raw, "ws://127.0.0.1:9", 18789, port_override=False)
    assert [(t.id, t.active) for t in targets] == [
        ("explicit", True),
        ("configRemote", True),
        ("localLoopback", False),
    ]
    only_local = resolve_targets(raw, None, 19001, port_override=True)
    assert [(t.id, t.url, t.active) for t in only_local] == [
        ("localLoopback", "ws://127.0.0.1:19001", True)
    ]
    assert resolve_targets({}, "http://x", 1, port_override=False)[0].id == "localLoopback"


def test_budgets() -> None:
    def target(kind: str, active: bool, url: str = "ws://127.0.0.1:1") -> ProbeTarget:
        return ProbeTarget(kind, kind, url, active)

    assert probe_budget_ms(3000, target("sshTunnel", True)) == 2000
    assert probe_budget_ms(3000, target("localLoopback", True)) == 3000
    assert probe_budget_ms(3000, target("localLoopback", False)) == 800
    assert probe_budget_ms(3000, target("configRemote", False, "wss://gw.example")) == 1500
    assert probe_budget_ms(3000, target("configRemote", False)) == 3000
    assert probe_budget_ms(500, target("sshTunnel", True)) == 500


def test_capability_classification() -> None:
    def cap(scopes: list[str], **kw: Any) -> str:
        return probe_capability(scopes, **{"auth_metadata": True, "latency_ms": 5, **kw})

    assert cap(["operator.admin", "operator.read"]) == "admin_capable"
    assert cap(["operator.write"]) == "write_capable"
    assert cap(["operator.read"]) == "read_only"
    assert cap([], verified_read=True) == "read_only"
    assert cap([]) == "connected_no_operator_scope"
    assert cap([], auth_metadata=False) == "unknown"
    assert cap([], latency_ms=None) == "unknown"
    assert cap(["operator.admin"], pairing=True) == "pairing_pending"

    def result(capability: str) -> ProbeResult:
        r = ProbeResult("ws://x")
        r.auth["capability"] = capability
        return r

    assert summarize_capability([]) == "unknown"
    assert (
        summarize_capability([result("connected_no_operator_scope"), result("read_only")])
        == "read_only"
    )
    limited = ProbeResult("ws://x", gateway_reached=True, error="missing scope: operator.read")
    assert limited.scope_limited and limited.post_connect_failure and limited.reachable
    limited.missing_scope = "operator.write"
    assert not limited.scope_limited


def test_pairing_pending_summary_line() -> None:
    r = ProbeResult("ws://x", error="device pairing required")
    r.auth["capability"] = "pairing_pending"
    assert probe_report.probe_summary_line(r) == (
        "Connect: blocked - device pairing required · Capability: pairing pending"
    )


async def test_run_probe_sync_entry_point(gateway: RunningGateway, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    opts = {"port": str(gateway.port), "token": TOKEN, "json": True}
    with trio.fail_after(30):
        code = await trio.to_thread.run_sync(
            lambda: run_probe(opts, cli_env(tmp_path), out=out, err=err)
        )
    assert code == 0 and json.loads(out.getvalue())["ok"] is True


async def test_http_server_that_refuses_the_upgrade(nursery: trio.Nursery, tmp_path: Path) -> None:
    async def http_404(stream: trio.SocketStream) -> None:
        with trio.move_on_after(5):
            await stream.receive_some(4096)
            body = b"not\n  here"
            await stream.send_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )
        await stream.aclose()

    listeners = await nursery.start(trio.serve_tcp, http_404, 0)
    port = listeners[0].socket.getsockname()[1]
    code, out, _ = await probe({"port": str(port), "json": True}, cli_env(tmp_path))
    assert code == 1
    connect = json.loads(out)["targets"][0]["connect"]
    assert connect["error"] == "gateway rejected websocket upgrade (HTTP 404): not here"
    assert connect["close"] == {"code": 1006, "reason": ""}
