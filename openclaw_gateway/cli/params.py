"""What every command shares: the environment it runs with, and the gateway flags.

`COMMAND_ENV` is set once per invocation by app.prepare() (root --dev/--profile from raw argv)
and the meta app (--log-level, --no-color); commands read it through command_env().
"""

# No `from __future__ import annotations` here: cyclopts reads these command signatures on
# every run, and annotations evaluated once at import spare it an eval() each (issue 17).
import os
from typing import Annotated

import attrs
from cyclopts import Parameter

COMMAND_ENV: dict[str, str] = {}

# The one-line help of commands registered by import path: a cyclopts lazy command lists the
# `help=` given at registration without importing its module (issue 17).
GROUP_HELP = {
    "gateway": "Run, inspect and query the WebSocket gateway.",
    "daemon": "Manage the Gateway service (legacy alias).",
}
SERVICE_HELP = {
    "install": "Install and start the Gateway service (launchd/systemd; detached mode has none).",
    "uninstall": "Uninstall the Gateway service (launchd/systemd; stops a detached gateway).",
    "start": "Start the Gateway service (launchd/systemd, or detached without a service manager).",
    "stop": "Stop the Gateway service (launchd/systemd/detached).",
    "restart": "Restart the Gateway service, or signal a foreground Gateway (SIGUSR2).",
}


def command_env() -> dict[str, str]:
    return COMMAND_ENV if COMMAND_ENV else dict(os.environ)


URL = Parameter(help="Gateway WebSocket URL (credentials are never taken from config with it).")
PORT = Parameter(help="Local gateway port (ws://127.0.0.1:<port>).")
TOKEN = Parameter(help="Gateway token.")
PASSWORD = Parameter(help="Gateway password.")
TIMEOUT = Parameter(help="Timeout in ms (default 10000).")
EXPECT_FINAL = Parameter(negative="", help="Wait for final response (agent).")
JSON = Parameter(name="--json", negative="", help="Output JSON.")


@Parameter(name="*")  # flattened: --url, --port, --token, --password on each command
@attrs.frozen
class GatewayFlags:
    """Where the gateway is and how to authenticate (cli.md §1.3), shared by the RPC commands."""

    url: Annotated[str | None, URL] = None
    port: Annotated[str | None, PORT] = None
    token: Annotated[str | None, TOKEN] = attrs.field(default=None, repr=False)
    password: Annotated[str | None, PASSWORD] = attrs.field(default=None, repr=False)
    expect_final: Annotated[bool, EXPECT_FINAL] = False

    def opts(self) -> dict[str, object]:
        return {
            "url": self.url,
            "port": self.port,
            "token": self.token,
            "password": self.password,
            "expect_final": self.expect_final,
        }


NO_FLAGS = GatewayFlags()
