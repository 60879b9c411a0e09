"""What a cold start must not import (issue 17): each is deferred to the first use that needs
it, and these checks keep a later import line from quietly putting it back on the path."""

from __future__ import annotations

import subprocess
import sys

# Loaded only when config turns them on, or by the first request / scrape / signature.
GATEWAY_DEFERRED = (
    "prometheus_client",  # the first scrape (server/metrics)
    "cryptography",  # the first PEM key or device signature (security/devices)
    "openclaw_gateway.server.hooks.route",
    "openclaw_gateway.server.openai.responses",
    "openclaw_gateway.server.openai.chat_completions",
    "openclaw_gateway.server.tailscale",
    "openclaw_gateway.server.web.control_ui",  # the first HTTP request (server/web/front.py)
    "openclaw_gateway.server.cron.scheduler",  # when cron runs
)
# `openclaw gateway call` on loopback with a shared secret and no config file.
CALL_DEFERRED = (
    "cattrs",
    "json5",
    "cryptography",
    "openclaw_gateway.cli.service_app",
    "openclaw_gateway.client.node_host",
    "openclaw_gateway.client.reconnecting",
    "openclaw_gateway.client.sync",
)


def _loaded(code: str, names: tuple[str, ...]) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(n for n in {names!r} if n in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return [name for name in out.stdout.strip().split(",") if name]


def test_the_gateway_start_path_defers_what_config_or_first_use_needs() -> None:
    code = (
        "import openclaw_gateway.cli.app, openclaw_gateway.cli.gateway_app\n"
        "import openclaw_gateway.cli.run, openclaw_gateway.server.supervisor\n"
        "from openclaw_gateway.server.rpc import methods\n"
        "methods.load()\n"
    )
    assert _loaded(code, GATEWAY_DEFERRED) == []


def test_the_one_shot_call_path_loads_neither_the_daemon_nor_unused_modules() -> None:
    code = (
        "import openclaw_gateway.cli.app, openclaw_gateway.cli.gateway_app\n"
        "import openclaw_gateway.cli.rpc_cmds\n"
        "bad = [m for m in sys.modules if m.startswith(('openclaw_gateway.server', "
        "'openclaw_gateway.state', 'openclaw_gateway.host.lock'))]\n"
        "assert not bad, bad\n"
    )
    assert _loaded(code, CALL_DEFERRED) == []
