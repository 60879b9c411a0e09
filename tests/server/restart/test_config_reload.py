"""Config hot reload against the real `openclaw gateway run` process (real files, real clock,
every wait bounded): a rotated token applies live, a port change restarts in process, a
broken edit keeps the gateway on its last good config, a file SecretRef is re-resolved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import trio

from tests.server.integration.support import (
    free_port,
    read_until_closed,
    wait_http_ok,
    ws_client,
    ws_connected,
)
from tests.server.restart.support import (
    START_BOUND,
    STOP_BOUND,
    TOKEN_A,
    TOKEN_B,
    Home,
    make_home,
    ready_gateway,
    stop_cleanly,
)

RELOAD_BOUND = 10  # poll 0.5 s + debounce 0.3 s, on a loaded machine


async def wait_message(home: Home, prefix: str) -> str:
    while True:
        found = [m for m in home.messages() if m.startswith(prefix)]
        if found:
            return found[-1]
        await trio.sleep(0.05)


async def test_token_rotation_applies_live_and_closes_old_token_sockets(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    home = make_home(tmp_path)
    port = free_port()
    home.write_config(port, TOKEN_A)
    async with ready_gateway(home, port) as gw:
        with trio.fail_after(RELOAD_BOUND):
            async with ws_connected(nursery, port, auth={"token": TOKEN_A}) as old:
                home.write_config(port, TOKEN_B)
                closed = await read_until_closed(old)
        assert (closed.code, closed.reason) == (4001, "gateway auth changed")
        with trio.fail_after(STOP_BOUND):
            async with ws_connected(nursery, port, auth={"token": TOKEN_B}) as new:
                assert (await new.call("health"))["payload"]["configReload"] == {
                    "hotReloadStatus": "active"
                }
            async with ws_client(nursery, port) as stale:
                assert (await stale.connect(auth={"token": TOKEN_A}))["ok"] is False
            await stop_cleanly(gw)
    messages = home.messages()
    assert messages.count("ready") == 1  # no restart
    assert "config hot reload applied (gateway.auth.token)" in messages
    for text in (gw.output(), home.log_file.read_text()):
        assert TOKEN_A not in text and TOKEN_B not in text


async def test_port_change_restarts_in_process_on_the_new_port(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    first, second = free_port(), free_port()
    home.write_config(first, TOKEN_A)
    async with ready_gateway(home, first) as gw:
        pid = gw.process.pid
        home.write_config(second, TOKEN_A)
        with trio.fail_after(START_BOUND):
            await wait_http_ok(gw, second, "/readyz")
        assert gw.process.returncode is None and gw.process.pid == pid
        await stop_cleanly(gw)
    messages = home.messages()
    assert "config change requires gateway restart (gateway.port)" in messages
    assert any(m.startswith("restart mode: in-process restart (") for m in messages)
    assert messages.count("ready") == 2


async def test_broken_edit_keeps_the_last_good_config(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    home = make_home(tmp_path)
    port = free_port()
    home.write_config(port, TOKEN_A)
    async with ready_gateway(home, port) as gw:
        async with ws_connected(nursery, port, auth={"token": TOKEN_A}) as client:
            # A schema error (the token stays in the file, the port is wrong)...
            body = {
                "gateway": {"mode": "local", "port": "x", "auth": {"token": TOKEN_B}},
                "logging": {"file": str(home.log_file)},
            }
            home.config_path.write_text(json.dumps(body, indent=2), encoding="utf-8")
            with trio.fail_after(RELOAD_BOUND):
                schema = await wait_message(home, "config reload skipped (invalid config)")
            # ...then bad JSON5.
            home.config_path.write_text('{"gateway": {"mode": ', encoding="utf-8")
            with trio.fail_after(RELOAD_BOUND):
                parse = await wait_message(
                    home, "config reload skipped (invalid config): <root>: JSON5 parse failed"
                )
            assert (await client.call("health"))["ok"] is True  # still served, same socket
        with trio.fail_after(STOP_BOUND):
            async with ws_connected(nursery, port, auth={"token": TOKEN_A}):
                pass
            await stop_cleanly(gw)
    assert schema == (
        "config reload skipped (invalid config): openclaw.json:4 — gateway.port: Invalid "
        "input: expected number, received string"
    )
    assert parse.startswith("config reload skipped (invalid config): <root>: JSON5 parse failed: ")
    assert home.messages().count("ready") == 1
    assert TOKEN_B not in home.log_file.read_text() + gw.output()


async def test_file_secret_ref_is_re_resolved_on_reload(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    home = make_home(tmp_path)
    port = free_port()
    secrets_file = home.root / "gateway-secrets.json"
    secrets_file.write_text(json.dumps({"gw": {"token": TOKEN_A}}))
    secrets_file.chmod(0o600)
    ref = {"source": "file", "provider": "local", "id": "/gw/token"}
    providers = {"providers": {"local": {"source": "file", "path": str(secrets_file)}}}
    home.write_config(port, ref, secrets=providers)
    async with ready_gateway(home, port) as gw:
        async with ws_connected(nursery, port, auth={"token": TOKEN_A}) as old:
            # The secret file changes, then the config is touched: refs resolve again.
            tmp = secrets_file.with_suffix(".new")
            tmp.write_text(json.dumps({"gw": {"token": TOKEN_B}}))
            tmp.chmod(0o600)
            os.replace(tmp, secrets_file)
            home.write_config(port, ref, secrets=providers, meta={"n": 1})
            with trio.fail_after(RELOAD_BOUND):
                closed = await read_until_closed(old)
        assert closed.code == 4001
        # A ref that stops resolving keeps the last good secret.
        secrets_file.chmod(0o644)
        home.write_config(port, ref, secrets=providers, meta={"n": 2})
        with trio.fail_after(RELOAD_BOUND):
            skipped = await wait_message(home, "config reload skipped (invalid config): gateway")
        with trio.fail_after(STOP_BOUND):
            async with ws_connected(nursery, port, auth={"token": TOKEN_B}):
                pass
            await stop_cleanly(gw)
    assert skipped.startswith(
        "config reload skipped (invalid config): gateway.auth.token is unavailable: "
        "secrets.providers.local.path permissions are too open"
    )
    for text in (gw.output(), home.log_file.read_text()):
        assert TOKEN_A not in text and TOKEN_B not in text
