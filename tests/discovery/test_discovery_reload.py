"""discovery.mdns.mode hot-applies: the advertisements are replaced without a restart. The
wide-area zone carries the same TXT as the LAN records, so `minimal` -> `full` shows there
(host namespace: no real mDNS here; real config file, real clock, bounded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.core import config as cfg
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.reloader import LiveSettings, ReloadHooks
from tests.discovery.test_gateway_discovery import _plan
from tests.helpers import TOKEN, connected, start_gateway


def raw(mode: str) -> dict[str, Any]:
    return {
        "gateway": {"mode": "local", "reload": {"debounceMs": 50}},
        "discovery": {"mdns": {"mode": mode}, "wideArea": {"domain": "openclaw.example"}},
    }


async def test_mdns_mode_change_replaces_the_advertisements(tmp_path: Path) -> None:
    tailnet = {"interfaces": lambda: [("tailscale0", "100.101.102.103")]}
    env = {"OPENCLAW_CLI_PATH": "/opt/openclaw/bin/openclaw"}

    def derive(loaded: cfg.LoadedConfig) -> LiveSettings:
        plan = _plan(tmp_path, loaded.config.raw, env, **tailnet)
        return LiveSettings(policy=AuthPolicy(mode="token", token=TOKEN), discovery=plan)

    config_path = tmp_path / "state" / "openclaw.json"
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps(raw("minimal")))
    zone = tmp_path / "state" / "dns" / "openclaw.example.db"
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            gw = await start_gateway(
                nursery,
                tmp_path,
                discovery=_plan(tmp_path, raw("minimal"), env, **tailnet),
                reload=ReloadHooks(raw("minimal"), derive, poll_interval=0.05),
            )
            assert "cliPath=" not in zone.read_text()
            async with connected(gw.port) as client:
                config_path.write_text(json.dumps(raw("full")))
                while True:  # polling a file: no event to wait on
                    if "cliPath=/opt/openclaw/bin/openclaw" in zone.read_text():
                        break
                    await trio.sleep(0.05)
                assert (await client.call("health"))["ok"] is True  # the same socket
            gw.shutdown.set()
    gw.settings.logger.close()
    out = gw.stdout.getvalue()
    assert "config hot reload applied (discovery.mdns.mode)" in out
    assert "[discovery] discovery advertisements replaced for the new config" in out
    assert out.count("[gateway] ready") == 1
