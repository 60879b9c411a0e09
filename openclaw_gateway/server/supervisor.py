"""run_gateway(): builds the shared objects and owns THE task tree and the shutdown order.

trio.run(run_gateway)
└─ services nursery              signals (SIGINT/SIGTERM -> shutdown; before the bind), the
   │                             listeners' bind (EADDRINUSE retries), conversations (the
   │                             session book and the agent-run tasks), cron scheduler,
   │                             tailscale route claim (torn down after the listeners closed),
   │                             discovery (wide-area zone, Bonjour announcer)
   │                             sd_notify (READY once listening, STOPPING, WATCHDOG pings)
   └─ handlers nursery           one task per connection; outlives the accept loop (drain)
      └─ edge nursery            accept loop (server), ticker, loop monitor

Shutdown, in order: Bonjour goodbye (while the listener still accepts), stop accepting
(cancel edge), publish `shutdown`, ask every socket to
close with 1012 after its queued frames, give them DRAIN_TIMEOUT, cancel what is left, stop
the services (the tailscale claim: SIGTERM, SIGKILL after 2 s, optional reset; shielded), then
release the state lock and remove the runtime token file.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

import attrs
import trio

from openclaw_gateway.core import gcpace
from openclaw_gateway.core.errors import GatewayError
from openclaw_gateway.core.logs import Logger
from openclaw_gateway.host.fdlimit import raise_descriptor_limit
from openclaw_gateway.host.lock import StateLock
from openclaw_gateway.host.sdnotify import run_notifier
from openclaw_gateway.security.auth import safe_equal
from openclaw_gateway.security.ingress import Transport
from openclaw_gateway.security.ratelimit import (
    AuthLimiters,
    PreauthBudget,
    preauth_limit_from_env,
)
from openclaw_gateway.server.assembly import build_state, gateway_metrics, gateway_router
from openclaw_gateway.server.channels.service import run_channels
from openclaw_gateway.server.connection import Deps, handle_connection
from openclaw_gateway.server.cron.service import run_cron_service
from openclaw_gateway.server.discovery_service import run_discovery_service
from openclaw_gateway.server.dispatch import run_keepalive
from openclaw_gateway.server.edge import EdgeHooks, open_listeners, run_server
from openclaw_gateway.server.gc_pacer import run_gc_pacer
from openclaw_gateway.server.hub import Hub
from openclaw_gateway.server.loop_monitor import run_loop_monitor
from openclaw_gateway.server.mainsession.service import run_main_session
from openclaw_gateway.server.reloader import LiveSettings, Reloader, ReloadHooks, run_config_watcher
from openclaw_gateway.server.restart import Lifecycle, SignalObserver
from openclaw_gateway.server.rpc import methods
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.rpc.methods.system import broadcast_presence, refresh_health
from openclaw_gateway.server.run_settings import RunSettings
from openclaw_gateway.server.runs.agents import AgentDirectory
from openclaw_gateway.server.runs.service import run_conversations
from openclaw_gateway.server.socket_limits import ConnectionSlots, default_max_connections
from openclaw_gateway.server.tls import RELOAD_CHECK_INTERVAL, TlsAcceptor
from openclaw_gateway.state.pairing import Book
from openclaw_gateway.state.sessions import SessionBook
from openclaw_gateway.state.store import Store

if TYPE_CHECKING:
    pass

CLEANUP_TIMEOUT = 2.0
HEALTH_REFRESH_INTERVAL = 60.0


async def _watch_signals(
    shutdown: trio.Event,
    log: Logger,
    lifecycle: Lifecycle,
    observer: SignalObserver | None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """SIGINT/SIGTERM stop, SIGUSR2 restarts (unless commands.restart=false); a second signal
    during shutdown is logged and ignored; the same signal 3 times in 5 min warns."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGUSR2) as signals:
        task_status.started()
        async for signum in signals:
            name = signal.Signals(signum).name
            hint = observer.observe(name) if observer is not None else None
            if hint is not None:
                log.warn("gateway", hint)
            if shutdown.is_set() and lifecycle.action is None:
                lifecycle.action = "stop"  # stopped by the caller's event, not a signal
            verdict, lines = lifecycle.decide(name)
            for level, subsystem, message in lines:
                log.log(level, subsystem, message)
            if verdict != "ignored":
                shutdown.set()


async def _ticker(state: GatewayState, interval_s: float) -> None:
    """tick every interval, presence expiry, and the periodic health refresh (no drift)."""
    start = trio.current_time()
    next_tick = start + interval_s
    next_health = start + HEALTH_REFRESH_INTERVAL
    while True:
        await trio.sleep_until(min(next_tick, next_health))
        now = trio.current_time()
        if now >= next_tick:
            state.broadcast("tick", {"ts": state.now_ms()})
            if state.presence.prune(state.now_ms()):
                broadcast_presence(state)
            next_tick += interval_s
        if now >= next_health:
            refresh_health(state)
            next_health += HEALTH_REFRESH_INTERVAL


def _no_derive(loaded: object) -> LiveSettings:
    raise AssertionError("no config watcher runs without RunSettings.reload")


async def _cancel_on(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


@contextlib.asynccontextmanager
async def _services_nursery() -> AsyncIterator[trio.Nursery]:
    """The services nursery; a start-up failure of one service surfaces as itself."""
    try:
        async with trio.open_nursery() as nursery:
            yield nursery
    except BaseExceptionGroup as group:
        only = group.exceptions[0] if len(group.exceptions) == 1 else None
        if isinstance(only, GatewayError):
            raise only from None
        raise


async def run_gateway(
    settings: RunSettings,
    *,
    shutdown: trio.Event | None = None,
    lifecycle: Lifecycle | None = None,
    task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
) -> str:
    """Run until `shutdown` is set (or SIGINT/SIGTERM/SIGUSR2 when handling signals).

    Returns "restart" when the run ended for a restart (lifecycle.action), else "stop"; the
    caller (cli/run.py) redoes the whole start-up for a restart.
    """
    log = settings.logger
    if lifecycle is None:
        lifecycle = Lifecycle(restart_allowed=settings.restart_allowed)
    state = build_state(settings)
    hub = Hub(settings.max_buffered_bytes)
    registry = (settings.registry_factory or methods.load)()
    state.metrics = gateway_metrics(registry, hub, state)
    state.broadcast = hub.broadcast
    state.corked = hub.corked
    state.invalidate_device = hub.close_device
    state.connected_devices = hub.device_ids
    state.send_to = lambda conn_id, frame: (
        (sub := hub.get(conn_id)) is not None and hub.send(sub, frame)
    )
    limiters = AuthLimiters.create(settings.auth_rate_limit)
    stop = shutdown = trio.Event() if shutdown is None else shutdown

    def request_restart() -> None:
        """A config change that needs a restart: end this run as SIGUSR2 would."""
        if lifecycle.action is None:
            lifecycle.action = "restart"
        stop.set()

    reloader = Reloader(
        LiveSettings(
            policy=settings.policy,
            cron_enabled=settings.cron_enabled,
            cron_skip_missed=settings.cron_skip_missed,
            discovery=settings.discovery,
            origin_policy=settings.origin_policy,
            trusted_proxies=tuple(settings.trusted_proxies),
            auth_rate_limit=settings.auth_rate_limit,
            log_level=log.level_name,
            restart_allowed=settings.restart_allowed,
        ),
        settings.reload or ReloadHooks({}, _no_derive),
        log,
        hub,
        limiters,
        lifecycle,
        request_restart,
    )
    if settings.reload is not None:
        state.reload_status = lambda: reloader.status
    deps = Deps(
        state=state,
        hub=hub,
        registry=registry,
        auth_policy=lambda: reloader.live.policy,
        handshake_timeout=settings.handshake_timeout,
        tick_interval_ms=settings.tick_interval_ms,
        origin_policy=lambda: reloader.live.origin_policy,
        limiters=limiters,
    )
    state.health_cache = {}

    def bearer_ok(token: str) -> bool:
        policy = reloader.live.policy
        secret = policy.token if policy.mode == "token" else policy.password
        return policy.mode != "none" and bool(secret) and safe_equal(token, secret or "")

    hooks = EdgeHooks(
        on_websocket=lambda ws, peer, abort, authenticated: handle_connection(
            ws, peer, deps, abort, authenticated
        ),
        router=gateway_router(settings, state, reloader, limiters),
        bearer_ok=bearer_ok,
        trusted_proxies=reloader.trusted_proxies,  # replaced in place on a reload
        allow_real_ip_fallback=settings.allow_real_ip_fallback,
        preauth=PreauthBudget(
            settings.max_preauth_per_ip
            if settings.max_preauth_per_ip is not None
            else preauth_limit_from_env(os.environ)
        ),
        log_error=lambda msg: log.error("gateway", msg),
        slots=ConnectionSlots(
            settings.max_connections
            if settings.max_connections is not None
            else default_max_connections(raise_descriptor_limit())
        ),
        tls=TlsAcceptor(
            settings.tls,
            log,
            check_interval=RELOAD_CHECK_INTERVAL if settings.tls_renewal else None,
        )
        if settings.tls is not None
        else None,
    )
    if hooks.tls is not None:
        # The watcher also renews a replaced certificate pair (between accepts too).
        reloader.extra_watches.append(hooks.tls.reload)
    lock = StateLock(settings.state_dir)
    lock.acquire(port=settings.port, config_path=settings.config_path)
    listeners: list[trio.SocketListener] = []  # every listener, closed in `finally`
    ingress_listeners: list[trio.SocketListener] = []  # the managed Tailscale ingress
    store: Store | None = None
    try:
        # Opened under the state lock: one gateway writes a state dir's database.
        store = Store.open(settings.state_dir)
        state.pairing = Book(store)
        state.store = store
        async with _services_nursery() as services:
            if settings.handle_signals:
                # Before the bind: SIGTERM during its EADDRINUSE retries (up to 10 s) is a clean
                # stop (listeners closed, runtime token file removed), not the default action.
                await services.start(
                    _watch_signals, shutdown, log, lifecycle, settings.signal_observer
                )
            binding = trio.CancelScope()
            services.start_soon(_cancel_on, shutdown, binding)
            with binding:
                listeners.extend(
                    await open_listeners(
                        settings.bind.hosts, settings.port, lambda msg: log.warn("gateway", msg)
                    )
                )
            if binding.cancelled_caught:
                state.shutting_down = True
                services.cancel_scope.cancel()
                await trio.lowlevel.checkpoint()  # leaves the services nursery
            gateway_listeners = list(listeners)
            # Sessions and agent runs; before the edge, so every socket finds them.
            conversations = await services.start(
                lambda task_status: run_conversations(
                    state,
                    SessionBook(store),
                    AgentDirectory.from_config(settings.agents_config),
                    lambda conn_id: hub.get(conn_id) is not None,
                    task_status=task_status,
                )
            )
            hub.session_members = conversations.session_members
            if settings.reload is not None:
                await services.start(run_config_watcher, reloader, settings.config_path)
            # Bridges and the delivery queue, then system events/wakes/heartbeats on top.
            await services.start(
                lambda task_status: run_channels(
                    state, conversations, store, settings.raw_config, task_status=task_status
                )
            )
            await services.start(
                lambda task_status: run_main_session(
                    state, conversations, settings.raw_config, task_status=task_status
                )
            )
            # sd_notify (READY/STOPPING/WATCHDOG) when systemd runs us as Type=notify.
            notifier = await services.start(run_notifier)
            await services.start(run_cron_service, state, store, reloader)
            if settings.tailscale_mode != "off":
                # Imported only when exposure is on (issue 17: not on the default start path).
                from openclaw_gateway.server.tailscale import run_tailscale

                # Started before the edge and cancelled after it: the listener is closed
                # (serve_listeners) before the route claim is torn down.
                report: dict[str, object] = {}
                state.tailscale = report
                # The managed ingress: a loopback listener of its own on an ephemeral port, the
                # only thing Tailscale is pointed at, so its proxied requests are attributed by
                # Tailscale's rules while the gateway port stays for local clients (official).
                ingress_listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
                listeners.extend(ingress_listeners)
                target = ingress_listeners[0].socket.getsockname()[1]
                log.info("gateway", f"tailscale ingress listening on 127.0.0.1:{target}")
                # SIGINT/SIGTERM during the (up to ~2 min) claim start-up stops the gateway.
                starting = trio.CancelScope()
                services.start_soon(_cancel_on, shutdown, starting)
                with starting:
                    await services.start(
                        lambda task_status: run_tailscale(
                            settings.tailscale_mode,
                            target,
                            report,
                            log,
                            gateway_port=settings.port,
                            binary=settings.tailscale_binary,
                            reset_on_exit=settings.tailscale_reset_on_exit,
                            ready_timeout=settings.tailscale_ready_timeout,
                            task_status=task_status,
                        )
                    )
                if starting.cancelled_caught:
                    state.shutting_down = True
                    services.cancel_scope.cancel()
                    await trio.lowlevel.checkpoint()  # leaves the services nursery
            ts_url = state.tailscale.get("url") if state.tailscale else None
            discovery = await services.start(
                partial(
                    run_discovery_service,
                    reloader,
                    log,
                    ts_url if isinstance(ts_url, str) else None,
                    tls=hooks.tls,
                )
            )
            async with trio.open_nursery() as handlers:
                async with trio.open_nursery() as edge:
                    addresses = await edge.start(run_server, gateway_listeners, hooks, handlers)
                    if ingress_listeners:
                        transport = Transport(
                            "managed-tailscale",
                            "funnel" if settings.tailscale_mode == "funnel" else "serve",
                        )
                        # Tailscale terminates TLS; its loopback ingress stays plain HTTP.
                        tailnet_hooks = attrs.evolve(hooks, transport=transport, tls=None)
                        await edge.start(run_server, ingress_listeners, tailnet_hooks, handlers)
                    edge.start_soon(_ticker, state, settings.tick_interval_ms / 1000)
                    if math.isfinite(settings.keepalive_interval):
                        # One timer pings every socket.
                        edge.start_soon(run_keepalive, hub, settings.keepalive_interval)
                    edge.start_soon(run_loop_monitor, state.loop)
                    refresh_health(state)
                    state.ready = True
                    log.info("gateway", f"listening on {settings.bind.mode} port {settings.port}")
                    log.info("gateway", "ready")
                    # Start-up is over: the usual pace, its survivors frozen, and full
                    # collections from a timer (server/gc_pacer.py) when the CLI started us.
                    full_pace = gcpace.steady()
                    if full_pace is not None:
                        edge.start_soon(run_gc_pacer, full_pace)
                    notifier.ready(f"listening on port {settings.port}")
                    task_status.started(addresses)
                    await shutdown.wait()
                    if lifecycle.action != "restart":
                        notifier.stopping()
                    state.ready = False
                    state.shutting_down = True
                    # The goodbye goes out while the listener still accepts (shielded,
                    # bounded); the official stops bonjour first as well.
                    await discovery.withdraw()
                    edge.cancel_scope.cancel()
                # Accepting has stopped; tell everyone, then close them after what is queued.
                hub.broadcast("shutdown", lifecycle.shutdown_payload())
                hub.close_all(1012, "service restart")
                handlers.cancel_scope.deadline = trio.current_time() + settings.drain_timeout
            services.cancel_scope.cancel()
    finally:
        with trio.move_on_after(CLEANUP_TIMEOUT, shield=True):
            for listener in listeners:
                with contextlib.suppress(OSError):
                    await listener.aclose()
        if settings.runtime_token_path is not None:
            with contextlib.suppress(FileNotFoundError):
                settings.runtime_token_path.unlink()
        if store is not None:
            store.close()
        lock.release()
        if state.shutting_down:
            log.info("shutdown", "completed cleanly")
    return "restart" if lifecycle.action == "restart" else "stop"
