"""Config hot reload: the watcher service and what a change does (official server-reload).

`run_config_watcher` (a supervisor service) polls the config file's identity (mtime, size,
inode) every POLL_INTERVAL off the event loop; after a change it waits until the file has
been still for `gateway.reload.debounceMs`, reads and validates it (off the loop), and hands
it to `Reloader.consider`:

- an invalid edit (JSON5 or schema) is logged with its key paths and changes nothing: the
  gateway stays on the last good config (and so does a SecretRef that no longer resolves,
  or a weak secret);
- reload_plan.plan() sorts the changed paths; hot ones are applied in place (LiveSettings:
  the shared token/password — sockets that used the old one close 4001 `gateway auth
  changed` —, the Origin policy, trusted proxies, the auth rate limit, the log level,
  commands.restart, cron.enabled/skipMissedJobs — the scheduler restarts —, discovery.mdns.mode — the
  advertisements are replaced); one that needs a restart ends the run with "restart" (cli/run.py then
  redoes the whole start-up, in process or through the service manager), in `hybrid` and
  `restart` modes; `hot` mode only logs it.

The CLI supplies `derive` (LoadedConfig -> LiveSettings, blocking: it resolves SecretRefs),
so the start-up and a reload compute the same settings in one place.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableSequence, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.logs import Logger
from openclaw_gateway.discovery.runtime import DiscoveryPlan
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.security.origin import OriginPolicy
from openclaw_gateway.security.ratelimit import AuthLimiters, AuthRateLimitPolicy
from openclaw_gateway.server import reload_plan
from openclaw_gateway.server.hub import Hub
from openclaw_gateway.server.restart import Lifecycle

POLL_INTERVAL = 0.5  # seconds between stat() calls of the config file
SUBSYSTEM = "reload"


@attrs.frozen
class LiveSettings:
    """What a config change may alter without a restart."""

    policy: AuthPolicy = attrs.field(repr=False)
    origin_policy: OriginPolicy = attrs.field(factory=OriginPolicy)
    trusted_proxies: tuple[str, ...] = ()
    auth_rate_limit: AuthRateLimitPolicy = attrs.field(factory=AuthRateLimitPolicy)
    log_level: str = "info"
    restart_allowed: bool = True
    cron_enabled: bool = True  # cron.enabled
    cron_skip_missed: bool = False  # cron.skipMissedJobs
    discovery: DiscoveryPlan | None = None  # None: no discovery at all


@attrs.frozen
class ReloadHooks:
    """What the CLI gives the supervisor for hot reload."""

    raw: dict[str, Any] = attrs.field(repr=False)  # the config the run started from
    derive: Callable[[cfg.LoadedConfig], LiveSettings]  # blocking; raises ConfigError
    poll_interval: float = POLL_INTERVAL
    rules: Sequence[reload_plan.Rule] = reload_plan.RULES

    @property
    def mode(self) -> str:
        return reload_plan.reload_settings(self.raw)[0]


FileIdentity = tuple[int, int, int, int] | None  # (st_ino, st_dev, st_size, st_mtime_ns)


def file_identity(path: Path) -> FileIdentity:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns)


@attrs.define(eq=False)
class Reloader:
    """Holds the live settings the gateway reads and applies accepted changes to them."""

    live: LiveSettings
    hooks: ReloadHooks
    logger: Logger
    hub: Hub
    limiters: AuthLimiters
    lifecycle: Lifecycle
    request_restart: Callable[[], None]
    # The edge reads this list on every upgrade; replaced in place.
    trusted_proxies: MutableSequence[str] = attrs.field(factory=list)
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False)
    status: str = "active"  # health configReload.hotReloadStatus
    # Set when the cron settings changed: the supervisor's cron service restarts the scheduler.
    cron_changed: trio.Event = attrs.field(factory=trio.Event)
    # Set when the discovery plan changed: the discovery service re-announces.
    discovery_changed: trio.Event = attrs.field(factory=trio.Event)
    # Other files checked on every poll (e.g. the TLS pair: server/tls.TlsAcceptor.reload).
    extra_watches: list[Callable[[], Awaitable[object]]] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.raw = self.hooks.raw
        self.trusted_proxies[:] = self.live.trusted_proxies

    @property
    def mode(self) -> str:
        return reload_plan.reload_settings(self.raw)[0]

    async def consider(self, loaded: cfg.LoadedConfig) -> None:
        log = self.logger
        if not loaded.valid:
            issues = (
                ", ".join(loaded.issues)
                if loaded.issues
                else f"<root>: JSON5 parse failed: {loaded.parse_error}"
            )
            log.warn(SUBSYSTEM, f"config reload skipped (invalid config): {issues}")
            return
        new_raw = loaded.config.raw
        the_plan = reload_plan.plan(self.raw, new_raw, self.hooks.rules)
        if not the_plan.changed:
            return
        log.info(
            SUBSYSTEM,
            f"config change detected; evaluating reload ({', '.join(the_plan.changed)})",
        )
        try:
            live = await trio.to_thread.run_sync(self.hooks.derive, loaded, abandon_on_cancel=True)
        except ConfigError as exc:
            log.warn(SUBSYSTEM, f"config reload skipped (invalid config): {exc}")
            return
        mode = reload_plan.reload_settings(new_raw)[0]
        wants_restart = bool(the_plan.restart) or (mode == "restart" and bool(the_plan.hot))
        if wants_restart and mode != "hot":
            reasons = ", ".join(the_plan.restart or the_plan.hot)
            log.info(SUBSYSTEM, f"config change requires gateway restart ({reasons})")
            self.raw = new_raw
            self.request_restart()
            return
        if the_plan.restart:
            log.warn(
                SUBSYSTEM,
                "config change requires gateway restart; not applied in hot mode "
                f"({', '.join(the_plan.restart)})",
            )
        self.raw = new_raw
        self._apply(live)
        if the_plan.hot:
            log.info(SUBSYSTEM, f"config hot reload applied ({', '.join(the_plan.hot)})")
        elif the_plan.none and not the_plan.restart:
            log.info(
                SUBSYSTEM, f"config change applied (dynamic reads: {', '.join(the_plan.none)})"
            )

    def _apply(self, live: LiveSettings) -> None:
        old, self.live = self.live, live
        for secret in (live.policy.token, live.policy.password):
            self.logger.redact.add(secret)
        hub = self.hub
        if (old.policy.token, old.policy.password) != (live.policy.token, live.policy.password):
            closed = hub.close_where(lambda s: s.shared_auth, 4001, "gateway auth changed")
            self.logger.info(
                SUBSYSTEM,
                f"gateway auth changed; closed {closed} connection(s) that used the old secret",
            )
        if sorted(live.trusted_proxies) != sorted(old.trusted_proxies):
            # Who is local or remote may have changed: every socket reconnects (official).
            hub.close_where(lambda s: True, 4001, "gateway policy changed")
        elif live.origin_policy != old.origin_policy:
            policy = live.origin_policy
            hub.close_where(
                lambda s: s.origin_allowed is not None and not s.origin_allowed(policy),
                1008,
                "origin not allowed",
            )
        self.trusted_proxies[:] = live.trusted_proxies
        if live.auth_rate_limit != old.auth_rate_limit:
            self.limiters.ip.policy = live.auth_rate_limit
            self.limiters.browser.policy = attrs.evolve(live.auth_rate_limit, exempt_loopback=False)
        self.logger.set_level(live.log_level)
        self.lifecycle.restart_allowed = live.restart_allowed
        if (live.cron_enabled, live.cron_skip_missed) != (old.cron_enabled, old.cron_skip_missed):
            self.cron_changed.set()
        if live.discovery != old.discovery:
            self.discovery_changed.set()


async def run_config_watcher(
    reloader: Reloader,
    config_path: Path,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Watch `config_path` (and `extra_watches`) until cancelled; `off` mode watches nothing
    (the official pauses certificate renewal with it too)."""
    if reloader.mode == "off":
        reloader.status = "off"
        task_status.started()
        return
    seen = await trio.to_thread.run_sync(file_identity, config_path)
    task_status.started()
    interval = reloader.hooks.poll_interval
    while True:
        await trio.sleep(interval)
        for watch in reloader.extra_watches:
            await watch()
        current = await trio.to_thread.run_sync(file_identity, config_path)
        if current == seen:
            continue
        # Settle: editors write temp files and rename; wait until the file holds still.
        debounce = reload_plan.reload_settings(reloader.raw)[1] / 1000
        while True:
            await trio.sleep(debounce)
            settled = await trio.to_thread.run_sync(file_identity, config_path)
            if settled == current:
                break
            current = settled
        seen = current
        if current is None:
            reloader.logger.warn(SUBSYSTEM, f"config reload skipped: {config_path} is missing")
            continue
        try:
            loaded = await trio.to_thread.run_sync(cfg.load_snapshot, config_path)
        except ConfigError as exc:  # unreadable (permissions): keep the last good config
            reloader.logger.warn(SUBSYSTEM, f"config reload skipped: {exc}")
            continue
        await reloader.consider(loaded)
        if reloader.mode == "off":
            reloader.status = "off"
            reloader.logger.info(SUBSYSTEM, "config hot reload turned off (gateway.reload.mode)")
            return
