"""The environment a command job runs with (README "Cron command jobs"). Pure.

The gateway's own environment, minus what belongs to the gateway alone: its shared secrets
(OPENCLAW_GATEWAY_TOKEN / OPENCLAW_GATEWAY_PASSWORD, and any variable whose value is the
configured token or password: a SecretRef `{source:"env"}` or a line of the systemd/launchd
env file), and the service manager's channels to the gateway (sd_notify, watchdog, socket
activation), which a job could otherwise use to speak for the gateway. The job's own `env`
goes on top of this (operator.admin wrote it, so it may set anything).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GATEWAY_SECRET_VARS = frozenset({"OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD"})
SERVICE_MANAGER_VARS = frozenset(
    {"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
)


# A secret at least this long is also found inside a value (a URL carrying it, say); a shorter
# one only as the whole value, or ordinary variables would be dropped by coincidence.
MIN_CONTAINED_SECRET = 8


def _holds_secret(value: str, secrets: set[str]) -> bool:
    return value in secrets or any(
        len(secret) >= MIN_CONTAINED_SECRET and secret in value for secret in secrets
    )


def job_base_environment(env: Mapping[str, str], secrets: Iterable[str | None]) -> dict[str, str]:
    """`env` without the gateway's secrets (by name and by value) and service sockets."""
    known = {s for s in secrets if s}
    return {
        name: value
        for name, value in env.items()
        if name not in GATEWAY_SECRET_VARS
        and name not in SERVICE_MANAGER_VARS
        and not (value and _holds_secret(value, known))
    }
