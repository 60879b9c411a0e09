"""`gateway run`: the settings a config change may alter live, computed one way at start and
on every hot reload (server/reloader.py calls `derive` off the event loop).

A reload re-reads the same sources as the start: the run flags (--token, --auth, --password
keep winning over the file), the environment, and the config with its SecretRefs resolved
again (file/exec included). A weak or missing secret, or an out-of-range port, is refused as
at start (ConfigError): the gateway then stays on its last good config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openclaw_gateway.cli.run_checks import (
    ResolvedAuth,
    gateway_secrets,
    resolve_auth,
    weak_secret_error,
)
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.discovery.runtime import DiscoveryPlan
from openclaw_gateway.security import origin, ratelimit
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.reloader import LiveSettings


def log_level(env: Mapping[str, str], config: cfg.Config) -> str:
    """--log-level / OPENCLAW_LOG_LEVEL beat logging.level (`silent` keeps only fatal)."""
    raw = (env.get("OPENCLAW_LOG_LEVEL") or config.logging.level or "info").strip().lower()
    return "fatal" if raw == "silent" else raw


def restart_allowed(raw: Mapping[str, object]) -> bool:
    """commands.restart: only an explicit false blocks an external SIGUSR2 (official)."""
    section = raw.get("commands")
    return not (isinstance(section, dict) and section.get("restart") is False)


DiscoveryFor = Callable[[Mapping[str, Any]], DiscoveryPlan | None]


def live_settings(
    auth: ResolvedAuth,
    config: cfg.Config,
    env: Mapping[str, str],
    runtime_token: str | None,
    discovery_for: DiscoveryFor,
) -> LiveSettings:
    """`runtime_token`: the token generated at start when token mode had none configured;
    `discovery_for`: the discovery plan of a config (the port and bind of this run)."""
    gw = config.gateway
    token = auth.token or (runtime_token if auth.mode == "token" else None)
    return LiveSettings(
        policy=AuthPolicy(mode=auth.mode, token=token, password=auth.password),  # type: ignore[arg-type]
        origin_policy=origin.policy_from_config(gw.control_ui),
        trusted_proxies=gw.trusted_proxies,
        auth_rate_limit=ratelimit.policy_from_config(gw.auth.rate_limit),
        log_level=log_level(env, config),
        restart_allowed=restart_allowed(config.raw),
        cron_enabled=_cron_option(config.raw, "enabled", True),
        cron_skip_missed=_cron_option(config.raw, "skipMissedJobs", False),
        discovery=discovery_for(config.raw),
    )


def _cron_option(raw: Mapping[str, object], key: str, default: bool) -> bool:
    """cron.enabled / cron.skipMissedJobs from the config file (booleans only)."""
    section = raw.get("cron")
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, bool) else default


def make_derive(
    *,
    token_flag: str | None,
    auth_flag: str | None,
    password_arg: str | None,
    env: Mapping[str, str],
    runtime_token: str | None,
    discovery_for: DiscoveryFor,
) -> Callable[[cfg.LoadedConfig], LiveSettings]:
    def derive(loaded: cfg.LoadedConfig) -> LiveSettings:
        config = loaded.config
        gw = config.gateway
        if gw.port is not None and not 1 <= gw.port <= 65535:
            raise ConfigError("gateway.port: must be a number from 1 to 65535")
        auth = resolve_auth(
            token_flag=token_flag,
            auth_flag=auth_flag,
            password_arg=password_arg,
            gw=gw,
            env=env,
            resolve=gateway_secrets(config.raw, env),
        )
        weak = weak_secret_error(auth)
        if weak is not None:
            raise ConfigError(weak)
        if auth.mode == "password" and not auth.password:
            raise ConfigError("Gateway auth is set to password, but no password is configured.")
        return live_settings(auth, config, env, runtime_token, discovery_for)

    return derive
