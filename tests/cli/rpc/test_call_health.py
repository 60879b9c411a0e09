"""`gateway call` / `gateway health` against a live in-process gateway: outputs and errors."""

from __future__ import annotations

import io
import json
import socket
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.cli.rpc_cmds import method_scope, run_rpc
from tests.helpers import TOKEN, RunningGateway


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), **extra}


async def _run(
    method: str, params: str | None, opts: dict[str, Any], env: dict[str, str], render: str = "call"
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await trio.to_thread.run_sync(
        lambda: run_rpc(method, params, opts, env, render=render, out=out, err=err)
    )
    return code, out.getvalue(), err.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_call_health_human_and_json(gateway: RunningGateway, tmp_path: Path) -> None:
    env = _env(tmp_path)
    opts = {"url": gateway.url, "token": TOKEN}
    code, out, err = await _run("health", None, opts, env)
    assert code == 0, err
    assert out.startswith('Gateway call: health\n{\n  "ok": true,')
    code, out, _ = await _run("health", None, {**opts, "json": True}, env)
    payload = json.loads(out)
    assert code == 0 and payload["ok"] is True and isinstance(payload["ts"], int)


async def test_call_presence_is_raw_array(gateway: RunningGateway, tmp_path: Path) -> None:
    code, out, _ = await _run(
        "system-presence", None, {"url": gateway.url, "token": TOKEN, "json": True}, _env(tmp_path)
    )
    rows = json.loads(out)
    assert code == 0 and isinstance(rows, list)
    assert rows[0]["mode"] == "gateway" and rows[0]["reason"] == "self"


async def test_gateway_health_human(gateway: RunningGateway, tmp_path: Path) -> None:
    code, out, _ = await _run(
        "health", None, {"url": gateway.url, "token": TOKEN}, _env(tmp_path), render="health"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Gateway Health"
    assert lines[1].startswith("OK (") and lines[1].endswith("ms)")


async def test_bad_params_json(tmp_path: Path) -> None:
    code, out, _ = await _run(
        "health", "{nope", {"url": "ws://127.0.0.1:9", "token": "t", "json": True}, _env(tmp_path)
    )
    assert code == 1
    assert json.loads(out) == {
        "ok": False,
        "error": {"type": "cli_error", "message": "--params must be valid JSON."},
    }
    code, _, err = await _run(
        "health", "{nope", {"url": "ws://127.0.0.1:9", "token": "t"}, _env(tmp_path)
    )
    assert code == 1 and err.strip() == "Gateway call failed: --params must be valid JSON."


async def test_unknown_method_and_wrong_token(gateway: RunningGateway, tmp_path: Path) -> None:
    env = _env(tmp_path)
    code, out, _ = await _run(
        "nosuch.method", None, {"url": gateway.url, "token": TOKEN, "json": True}, env
    )
    assert code == 1
    assert json.loads(out)["error"] == {
        "type": "gateway_request_error",
        "code": "INVALID_REQUEST",
        "message": "unknown method: nosuch.method",
        "retryable": False,
    }
    code, out, _ = await _run(
        "health", None, {"url": gateway.url, "token": "wrong-token-x", "json": True}, env
    )
    error = json.loads(out)["error"]
    assert code == 1
    assert error["type"] == "gateway_request_error"
    assert error["details"]["code"] == "AUTH_TOKEN_MISMATCH"
    assert "wrong-token-x" not in out


async def test_admin_method_requests_admin_scope(gateway: RunningGateway, tmp_path: Path) -> None:
    # The CLI asks for the method's least-privilege scope (admin for system-event); the
    # local cli/cli client keeps what it asked for, as with the official gateway.
    code, out, err = await _run(
        "system-event",
        '{"text":"hello"}',
        {"url": gateway.url, "token": TOKEN, "json": True},
        _env(tmp_path),
    )
    assert code == 0, err
    assert json.loads(out) == {"ok": True}


async def test_unreachable_gateway(tmp_path: Path) -> None:
    port = _free_port()
    url = f"ws://127.0.0.1:{port}"
    code, out, _ = await _run(
        "health", None, {"url": url, "token": "t", "json": True}, _env(tmp_path)
    )
    assert code == 1
    body = json.loads(out)
    assert body["error"]["type"] == "gateway_transport_error"
    assert body["error"]["kind"] == "closed"
    assert body["error"]["message"] == f"Gateway not reachable at {url} (ECONNREFUSED)."
    assert body["gateway"] == {"url": url, "urlSource": "cli --url"}


async def test_timeout_against_silent_listener(tmp_path: Path) -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        code, out, _ = await _run(
            "health",
            None,
            {"url": f"ws://127.0.0.1:{port}", "token": "t", "json": True, "timeout": "300"},
            _env(tmp_path),
        )
    finally:
        listener.close()
    assert code == 1
    error = json.loads(out)["error"]
    assert error == {
        "type": "gateway_transport_error",
        "kind": "timeout",
        "message": "gateway timeout after 300ms",
        "timeoutMs": 300,
    }


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "1.5"])
async def test_invalid_timeout(bad: str, tmp_path: Path) -> None:
    code, _, err = await _run(
        "health", None, {"url": "ws://127.0.0.1:9", "token": "t", "timeout": bad}, _env(tmp_path)
    )
    assert code == 1
    assert err.strip() == (
        "Gateway call failed: Invalid --timeout. Use a positive millisecond "
        f'value, e.g. --timeout 30000. Received: "{bad}".'
    )


async def test_url_override_needs_explicit_credentials(tmp_path: Path) -> None:
    code, out, _ = await _run(
        "health",
        None,
        {"url": "ws://127.0.0.1:9", "json": True},
        _env(tmp_path, OPENCLAW_GATEWAY_TOKEN="from-env"),
    )
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "gateway_credentials_required"
    assert error["message"].startswith("gateway url override requires explicit credentials\n")


async def test_plaintext_ws_to_remote_host_refused(tmp_path: Path) -> None:
    code, out, _ = await _run(
        "health", None, {"url": "ws://192.0.2.10:18789", "token": "t", "json": True}, _env(tmp_path)
    )
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "cli_error"
    assert error["message"].startswith(
        'SECURITY ERROR: Gateway URL "ws://192.0.2.10:18789" uses '
        "plaintext ws:// to a non-loopback address."
    )


async def test_no_credentials_fails_before_connecting(tmp_path: Path) -> None:
    code, out, _ = await _run("health", None, {"json": True}, _env(tmp_path))
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "gateway_credentials_required"
    assert error["message"].startswith("gateway health requires credentials before opening")


async def test_local_runtime_token_file_is_used(gateway: RunningGateway, tmp_path: Path) -> None:
    env = _env(
        tmp_path, OPENCLAW_STATE_DIR=str(tmp_path / "st"), OPENCLAW_GATEWAY_PORT=str(gateway.port)
    )
    token_file = tmp_path / "st" / "gateway.runtime-token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN + "\n")
    code, out, err = await _run("health", None, {"json": True}, env)
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True


def test_method_scope_least_privilege() -> None:
    assert method_scope("health") == ("operator.read",)
    assert method_scope("system-event") == ("operator.admin",)
    assert method_scope("wake") == ("operator.write",)
    assert "operator.admin" in method_scope("no.such.method")


async def test_call_against_a_plain_web_server(nursery: trio.Nursery, tmp_path: Path) -> None:
    """A URL that answers HTTP but not WebSocket gives a transport error, not a traceback."""

    async def web(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.receive_some(65536)
            await stream.send_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nNot Found"
            )

    listeners = await nursery.start(partial(trio.serve_tcp, web, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    code, out, _ = await _run(
        "health",
        None,
        {"url": f"ws://127.0.0.1:{port}", "token": "t", "json": True},
        _env(tmp_path),
    )
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "gateway_transport_error"
    assert error["message"].startswith("Gateway closed the connection")
    assert "HTTP 404" in error["message"]
