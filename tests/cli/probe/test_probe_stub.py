"""`gateway probe` against a stub gateway that grants operator.read: the full-success path
(self presence line, config summary, read_only) and the exact connect the probe sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio
from trio_websocket import WebSocketRequest, serve_websocket

from tests.cli.probe.support import cli_env, probe

SELF_ROW = {
    "mode": "gateway",
    "reason": "self",
    "host": "studio",
    "ip": "192.0.2.7",
    "version": "9.9.9",
    "platform": "linux",
    "instanceId": "inst-1",
    "text": "Gateway: studio (192.0.2.7) · linux · app 9.9.9",
}
CONFIG_SNAPSHOT = {
    "path": "/srv/openclaw.json",
    "exists": True,
    "valid": True,
    "issues": [],
    "config": {
        "gateway": {"mode": "local", "bind": "loopback", "port": 18789, "auth": {"token": "x"}},
        "discovery": {"wideArea": {"domain": ""}},
    },
}


async def _stub_gateway(
    nursery: trio.Nursery, seen: list[dict[str, Any]], scopes: list[str]
) -> int:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(
            json.dumps(
                {"type": "event", "event": "connect.challenge", "payload": {"nonce": "n", "ts": 1}}
            )
        )
        connect = json.loads(await ws.get_message())
        seen.append(connect["params"])
        hello = {
            "type": "hello-ok",
            "protocol": 4,
            "server": {"version": "9.9.9", "connId": "c-1"},
            "auth": {"role": "operator", "scopes": scopes},
        }
        await ws.send_message(
            json.dumps({"type": "res", "id": connect["id"], "ok": True, "payload": hello})
        )
        answers: dict[str, Any] = {
            "health": {"ok": True, "ts": 1, "durationMs": 0},
            "status": {"sessions": 0},
            "system-presence": [SELF_ROW],
            "config.get": CONFIG_SNAPSHOT,
        }
        try:
            while True:
                req = json.loads(await ws.get_message())
                await ws.send_message(
                    json.dumps(
                        {
                            "type": "res",
                            "id": req["id"],
                            "ok": True,
                            "payload": answers[req["method"]],
                        }
                    )
                )
        except Exception:
            return

    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return int(server.port)


async def test_full_read_probe_reports_self_and_config(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []
    port = await _stub_gateway(nursery, seen, ["operator.read"])
    code, out, err = await probe({"port": str(port), "token": "T", "json": True}, cli_env(tmp_path))
    assert code == 0, err
    body = json.loads(out)
    assert body["ok"] is True and body["degraded"] is False and body["warnings"] == []
    assert body["capability"] == "read_only"
    [target] = body["targets"]
    assert target["connect"]["rpcOk"] is True and target["connect"]["error"] is None
    assert target["self"] == {
        "host": "studio",
        "ip": "192.0.2.7",
        "version": "9.9.9",
        "platform": "linux",
        "instanceId": "inst-1",
    }
    assert target["config"]["gateway"]["authTokenConfigured"] is True
    assert target["config"]["discovery"] == {"wideAreaEnabled": False}
    assert target["health"]["ok"] is True and target["summary"] == {"sessions": 0}
    assert target["presence"] == [SELF_ROW]

    params = seen[0]
    assert params["client"]["id"] == "cli" and params["client"]["mode"] == "probe"
    assert params["client"]["version"] == "dev"
    assert (params["minProtocol"], params["maxProtocol"]) == (3, 4)
    assert params["scopes"] == ["operator.read"] and params["role"] == "operator"
    assert params["auth"] == {"token": "T"}

    code, out, _ = await probe({"port": str(port), "token": "T"}, cli_env(tmp_path))
    assert code == 0
    assert "Capability: read-only\n" in out
    assert "· Capability: read-only · Read probe: ok\n" in out
    assert "  Gateway: studio (192.0.2.7) · linux · app 9.9.9\n" in out
    assert "  Wide-area discovery: disabled\n" in out


async def test_admin_scopes_are_admin_capable(nursery: trio.Nursery, tmp_path: Path) -> None:
    port = await _stub_gateway(nursery, [], ["operator.admin", "operator.read"])
    code, out, _ = await probe({"port": str(port), "token": "T", "json": True}, cli_env(tmp_path))
    assert code == 0 and json.loads(out)["capability"] == "admin_capable"
