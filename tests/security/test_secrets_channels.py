"""Secrets never leave through an output channel (security.md item 21).

After a battery of failed and successful auth attempts carrying the configured secret and a
near-miss guess, every channel is searched for both: the console (stdout/stderr), the JSONL
file log, `logs.tail`, every frame sent back, `config.get`, HTTP answers and the process title.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.origin import OriginPolicy
from tests.helpers import RunningGateway
from tests.server.integration.conftest import _start as _start  # the `start` fixture
from tests.server.integration.support import (
    ADMIN_SCOPES,
    StartGateway,
    http_request,
    raw_http,
    read_until_closed,
    ws_client,
    ws_connected,
)

TIMEOUT = 20
SECRET = "s3cret-Tok3n-9f2c81d4e6a7b0c3"
GUESS = "guess-Zq9x7Lw3Kp5Rt1Vn8Bm2"  # a wrong credential is somebody's secret too
CLI = {"id": "cli", "version": "t", "platform": "linux", "mode": "cli"}
UI = {"id": "openclaw-control-ui", "version": "t", "platform": "web", "mode": "ui"}


async def _refused_frames(
    nursery: trio.Nursery, gw: RunningGateway, headers: dict[str, str], **overrides: Any
) -> list[str]:
    """Every text the server sent on one refused connect (frames and close reason)."""
    async with ws_client(nursery, gw.port, **headers) as client:
        challenge = await client.read_challenge()
        frame = await client.connect(**overrides)
        closed = await read_until_closed(client)
        return [json.dumps(challenge), json.dumps(frame), closed.reason] + [
            json.dumps(f) for f in closed.frames
        ]


async def _attack(nursery: trio.Nursery, gw: RunningGateway, secret_field: str) -> list[str]:
    seen: list[str] = []
    proxy = {"X-Forwarded-For": "198.51.100.7"}
    for headers, overrides in [
        ({}, {"auth": {secret_field: GUESS}}),
        ({}, {"auth": {secret_field: GUESS, "deviceToken": GUESS}}),
        (proxy, {"auth": {secret_field: GUESS}}),
        ({"Origin": "https://evil.example"}, {"auth": {secret_field: SECRET}}),
        ({"Origin": "http://localhost:5173"}, {"client": UI, "auth": {secret_field: SECRET}}),
        ({}, {"role": "node", "client": CLI, "auth": {secret_field: SECRET}}),
    ]:
        seen += await _refused_frames(nursery, gw, headers, **{"client": CLI, **overrides})
    for _ in range(11):  # through the lockout
        seen += await _refused_frames(nursery, gw, proxy, auth={secret_field: GUESS})
    # Plain HTTP with the secrets in a bearer header and in a query string.
    for target in (f"/readyz?token={SECRET}", f"/nope?password={GUESS}#{SECRET}"):
        reply = await http_request(
            gw.port, "GET", target, [("Authorization", f"Bearer {GUESS}"), *list(proxy.items())]
        )
        seen.append(reply.body.decode("utf-8", "replace"))
    seen.append(
        (await raw_http(gw.port, f"GET /?token={SECRET} HTTP/1.0\r\n\r\n".encode())).decode()
    )
    # An authenticated admin echoing secrets at the server.
    async with ws_connected(
        nursery, gw.port, client=CLI, scopes=ADMIN_SCOPES, auth={secret_field: SECRET}
    ) as admin:
        seen.append(json.dumps(admin.hello))
        # A method named like the secret: the reply echoes the caller's own input to it
        # (`unknown method: ...`, as the official), but the logs must not keep it.
        assert (await admin.call(SECRET))["error"]["code"] == "INVALID_REQUEST"
        for method, params in [
            ("health", {"token": SECRET}),
            ("config.get", {"password": GUESS}),
            ("config.get", {}),
            ("logs.tail", {"limit": 5000, "maxBytes": 1_000_000}),
            ("status", {}),
        ]:
            seen.append(json.dumps(await admin.call(method, params)))
    return seen


def _channels(gw: RunningGateway) -> dict[str, str]:
    assert gw.settings.log_file is not None
    return {
        "stdout": gw.stdout.getvalue(),
        "stderr": gw.stderr.getvalue(),
        "file log": gw.settings.log_file.read_text(encoding="utf-8"),
        "process title": Path("/proc/self/cmdline").read_bytes().decode("utf-8", "replace")
        + Path("/proc/self/comm").read_text(),
    }


@pytest.mark.parametrize("mode", ["token", "password"])
async def test_no_channel_carries_a_secret(
    nursery: trio.Nursery, start: StartGateway, mode: str
) -> None:
    policy = (
        AuthPolicy(mode="token", token=SECRET)
        if mode == "token"
        else AuthPolicy(mode="password", password=SECRET)
    )
    gw = await start(
        policy=policy,
        verbose=True,
        trusted_proxies=("127.0.0.1",),
        origin_policy=OriginPolicy(("https://ui.example.com",)),
    )
    # A config file holding the secret, as on a real install: config.get must redact it.
    gw.settings.config_path.parent.mkdir(parents=True, exist_ok=True)
    gw.settings.config_path.write_text(
        json.dumps({"gateway": {"auth": {"mode": mode, mode: SECRET}, "remote": {"token": GUESS}}})
    )
    with trio.fail_after(TIMEOUT):
        frames = await _attack(nursery, gw, mode)
    logged = _channels(gw)
    assert "unauthorized" in logged["stdout"] + logged["stderr"] + logged["file log"]
    for name, text in {**logged, "frames": "\n".join(frames)}.items():
        assert SECRET not in text, name
        assert GUESS not in text, name


async def test_config_get_of_an_unparseable_file_does_not_echo_it(
    nursery: trio.Nursery, start: StartGateway
) -> None:
    gw = await start()
    gw.settings.config_path.parent.mkdir(parents=True, exist_ok=True)
    gw.settings.config_path.write_text('{ gateway: { auth: { token: "' + SECRET + '" ,,, } }')
    with trio.fail_after(TIMEOUT):
        async with ws_connected(nursery, gw.port, scopes=ADMIN_SCOPES) as admin:
            reply = await admin.call("config.get")
    assert reply["ok"], reply
    assert reply["payload"]["valid"] is False
    assert SECRET not in json.dumps(reply)
