"""Access-policy reloads over real sockets, as the official: a narrowed Origin allowlist
closes the browser sockets it no longer allows (1008 `origin not allowed`) and keeps the
rest; a new proxy trust makes every socket reconnect (4001 `gateway policy changed`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.core import config as cfg
from openclaw_gateway.security import origin
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.reloader import LiveSettings, ReloadHooks
from tests.helpers import TOKEN, start_gateway, ws_client
from tests.server.integration.support import read_until_closed


def body(origins: list[str], proxies: list[str]) -> dict[str, Any]:
    return {
        "gateway": {
            "mode": "local",
            "reload": {"debounceMs": 50},
            "controlUi": {"allowedOrigins": origins},
            "trustedProxies": proxies,
        }
    }


def derive(loaded: cfg.LoadedConfig) -> LiveSettings:
    gw = loaded.config.gateway
    return LiveSettings(
        policy=AuthPolicy(mode="token", token=TOKEN),
        origin_policy=origin.policy_from_config(gw.control_ui),
        trusted_proxies=gw.trusted_proxies,
    )


async def test_policy_reloads_close_what_they_no_longer_allow(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    start = body(["https://a.example"], [])
    config_path = tmp_path / "state" / "openclaw.json"
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps(start))
    with trio.fail_after(20):
        async with trio.open_nursery() as gateway:
            gw = await start_gateway(
                gateway,
                tmp_path,
                origin_policy=origin.OriginPolicy(("https://a.example",)),
                reload=ReloadHooks(start, derive, poll_interval=0.05),
            )
            async with (
                ws_client(nursery, gw.port, origin="https://a.example") as browser,
                ws_client(nursery, gw.port) as plain,
            ):
                assert (await browser.connect())["ok"] is True
                assert (await plain.connect())["ok"] is True
                config_path.write_text(json.dumps(body(["https://b.example"], [])))
                closed = await read_until_closed(browser)
                assert (closed.code, closed.reason) == (1008, "origin not allowed")
                assert (await plain.call("health"))["ok"] is True  # no Origin: untouched
                config_path.write_text(json.dumps(body(["https://b.example"], ["10.0.0.1"])))
                closed = await read_until_closed(plain)
                assert (closed.code, closed.reason) == (4001, "gateway policy changed")
            gw.shutdown.set()
    gw.settings.logger.close()
