"""`gateway probe`: probe every gateway this CLI could mean (cli.md §1.6, §9).

Targets, de-duplicated by URL, in this order: `explicit` (--url), `sshTunnel` (--ssh, or
gateway.remote.sshTarget, or `$USER@<host of gateway.remote.url>`), `configRemote`
(gateway.remote.url) and `localLoopback` (always). `--port` alone probes only local loopback.
Each target gets a WS connect as `cli`/`probe` (protocol 3..4, scopes [operator.read]) and then
`health`, `status`, `system-presence` and `config.get` in parallel, inside its own budget.

Discovery (mDNS in `local.` + the wide-area domain, discovery/browse.py) runs alongside, within
min(1200, overall) ms; `--ssh-auto` then tunnels to the first beacon with a resolved SRV host
and port (`$USER@host`, `:sshPort` when not 22) unless an SSH target was already given.

Exit 1 only when no target is reachable (130/143 when SIGINT/SIGTERM interrupts the run).
The report and its JSON and text shapes are in probe_report.py.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import trio

from openclaw_gateway.cli.gateway_probe import INVALID_PORT, probe_gateway
from openclaw_gateway.cli.probe_report import (
    DISCOVERY_BUDGET_MS,
    ProbeReport,
    dump,
    report_json,
    report_text,
)
from openclaw_gateway.cli.probe_targets import (
    ProbeAuth,
    Probed,
    ProbeTarget,
    build_warnings,
    dig,
    extract_config_summary,
    local_probe_auth,
    network_hints,
    pick_self_presence,
    probe_budget_ms,
    remote_probe_auth,
    resolve_targets,
    trim_or_none,
    tunnel_tls,
)
from openclaw_gateway.cli.rpc_cmds import load_runtime_token, parse_timeout
from openclaw_gateway.cli.ssh_tunnel import (
    SshTunnel,
    SshTunnelError,
    open_ssh_tunnel,
    parse_ssh_target,
    resolve_ssh_config,
)
from openclaw_gateway.cli.target import CliFailure, emit_failure
from openclaw_gateway.cli.tls_info import json_fields, local_certificate
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError, is_interrupt
from openclaw_gateway.core.paths import Paths, parse_port, resolve_paths, resolve_port
from openclaw_gateway.core.tls import normalize_fingerprint
from openclaw_gateway.discovery import beacons
from openclaw_gateway.discovery.browse import discover_beacons
from openclaw_gateway.discovery.txt import wide_area_domain_setting
from openclaw_gateway.discovery.wide_area import resolve_domain

DEFAULT_TIMEOUT_MS = 3000


def _sanitize(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return re.sub(r"^ssh\s+", "", value.strip())


def _load_config(paths: Paths) -> cfg.LoadedConfig:
    try:
        return cfg.load(paths.config_path)
    except ConfigError:
        return cfg.LoadedConfig(paths.config_path, True, cfg.Config())


def pick_auto_ssh_beacon(
    found: Sequence[Mapping[str, Any]], user: str
) -> tuple[str, Mapping[str, Any]] | None:
    """The first beacon whose resolved host/port makes a valid SSH target (TXT hints ignored),
    with that target."""
    for beacon in found:
        target = beacons.ssh_target(beacon, user)
        if target and parse_ssh_target(target) is not None:
            return target, beacon
    return None


def pick_auto_ssh_target(found: Sequence[Mapping[str, Any]], user: str) -> str | None:
    picked = pick_auto_ssh_beacon(found, user)
    return picked[0] if picked else None


async def gather_probe(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    handle_signals: bool = False,
    nameservers: Sequence[tuple[str, int]] | None = None,
) -> ProbeReport:
    """Everything `gateway probe` does before printing. Raises CliFailure for usage errors."""
    started_ms = int(time.time() * 1000)
    url_flag = opts.get("url")
    token_flag = trim_or_none(opts.get("token"))
    password_flag = trim_or_none(opts.get("password"))
    if isinstance(url_flag, str) and url_flag.strip() and not (token_flag or password_flag):
        raise CliFailure(
            "gateway_credentials_required",
            "gateway url override requires explicit credentials\n"
            "Fix: pass --token or --password with --url.\n"
            "For the default local or SSH-tunneled Gateway, remove --url to use the configured "
            "target.",
        )
    paths = resolve_paths(env)
    loaded = _load_config(paths)
    gw = loaded.config.gateway
    raw = loaded.config.raw
    overall_ms = parse_timeout(
        None if opts.get("timeout") is None else str(opts.get("timeout")), DEFAULT_TIMEOUT_MS
    )
    port_override: int | None = None
    if opts.get("port") is not None:
        port_override = parse_port(opts.get("port"))
        if port_override is None:
            raise CliFailure("cli_error", INVALID_PORT)
    try:
        config_port = resolve_port(None, env, gw.port, paths.profile)
    except ConfigError as exc:
        raise CliFailure("cli_error", str(exc)) from None
    local_port = port_override or config_port
    has_url = isinstance(url_flag, str) and bool(url_flag.strip())
    base_targets = resolve_targets(
        raw, url_flag if has_url else None, local_port, port_override is not None
    )
    _pin_targets(base_targets, loaded.config, paths.state_dir, env)
    network = network_hints(raw, local_port)
    remote_port = local_port
    use_config_remote = port_override is None or has_url
    ssh_target = _sanitize(opts.get("ssh")) or (
        _sanitize(dig(raw, "gateway", "remote", "sshTarget")) if use_config_remote else None
    )
    ssh_identity = _sanitize(opts.get("ssh_identity")) or (
        _sanitize(dig(raw, "gateway", "remote", "sshIdentity")) if use_config_remote else None
    )
    if not ssh_target and use_config_remote and gw.remote.url:
        host = urlsplit(gw.remote.url.strip()).hostname
        if host:
            user = (env.get("USER") or "").strip()
            ssh_target = f"{user}@{host}" if user else host
    extra_ssh: Sequence[str] = tuple(opts.get("ssh_options") or ())
    if ssh_target:
        parsed = parse_ssh_target(ssh_target)
        if parsed is not None:
            resolved = await resolve_ssh_config(
                parsed,
                identity=ssh_identity,
                budget_s=min(800, overall_ms) / 1000,
                extra_args=extra_ssh,
            )
            if resolved is not None:
                ssh_target, found_identity = resolved
                ssh_identity = ssh_identity or found_identity
    runtime_token = load_runtime_token(paths)
    report = ProbeReport(started_ms, overall_ms, network, [], [])
    report.discovery_timeout_ms = min(DISCOVERY_BUDGET_MS, overall_ms)
    report.wide_area_domain = resolve_domain(wide_area_domain_setting(raw), env)

    async def body() -> None:
        nonlocal ssh_target
        ssh_error: str | None = None
        tunnel: SshTunnel | None = None
        discovered = trio.Event()

        async def discover() -> None:
            try:
                report.discovery = await discover_beacons(
                    report.discovery_timeout_ms,
                    report.wide_area_domain,
                    env,
                    nameservers=nameservers,
                )
            finally:
                discovered.set()

        # The discovery nursery encloses the tunnel's exit stack (proper nesting); discovery
        # and a configured tunnel start side by side, as the official does.
        async with trio.open_nursery() as discovery, contextlib.AsyncExitStack() as stack:
            discovery.start_soon(discover)

            async def start_tunnel(target: str) -> SshTunnel | None:
                nonlocal ssh_error
                try:
                    return await stack.enter_async_context(
                        open_ssh_tunnel(
                            target,
                            remote_port,
                            ssh_identity,
                            min(1500, overall_ms) / 1000,
                            extra_args=extra_ssh,
                        )
                    )
                except SshTunnelError as exc:
                    ssh_error = str(exc)
                    return None

            if ssh_target:
                tunnel = await start_tunnel(ssh_target)
            await discovered.wait()
            auto_beacon: Mapping[str, Any] | None = None
            if not ssh_target and opts.get("ssh_auto"):
                picked = pick_auto_ssh_beacon(report.discovery, env.get("USER") or "")
                if picked:
                    ssh_target, auto_beacon = picked
                    tunnel = await start_tunnel(ssh_target)
            targets = list(base_targets)
            if tunnel is not None:
                scheme, pin = tunnel_tls(gw, auto_beacon)
                tunnel_target = ProbeTarget(
                    "sshTunnel",
                    "sshTunnel",
                    f"{scheme}://127.0.0.1:{tunnel.local_port}",
                    True,
                    {
                        "kind": "ssh",
                        "target": ssh_target or "",
                        "localPort": tunnel.local_port,
                        "remotePort": remote_port,
                        "pid": tunnel.pid,
                    },
                    tls_fingerprint=pin,
                )
                targets = [tunnel_target, *[t for t in targets if t.url != tunnel_target.url]]
            report.probed = await _probe_all(
                targets, gw, env, token_flag, password_flag, runtime_token, overall_ms
            )
        report.warnings = build_warnings(
            report.probed,
            ssh_target=ssh_target,
            ssh_started=tunnel is not None,
            ssh_error=ssh_error,
            discovery_count=len(report.discovery),
        )

    if not handle_signals:
        await body()
        return report
    async with trio.open_nursery() as nursery:

        async def watch_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
                async for signum in received:
                    report.aborted = signum
                    nursery.cancel_scope.cancel()
                    return

        nursery.start_soon(watch_signals)
        await body()
        nursery.cancel_scope.cancel()
    return report


def _pin_targets(
    targets: Sequence[ProbeTarget], config: cfg.Config, state_dir: Path, env: Mapping[str, str]
) -> None:
    """The configured remote is probed with gateway.remote.tlsFingerprint, the local loopback
    with the local certificate (as the official's connect paths pin them)."""
    local = local_certificate(config, state_dir, env)
    remote_pin = normalize_fingerprint(config.gateway.remote.tls_fingerprint) or None
    for target in targets:
        if not target.url.startswith("wss://"):
            continue
        if target.kind == "configRemote":
            target.tls_fingerprint = remote_pin
        elif target.kind == "localLoopback" and local is not None:
            target.tls_fingerprint = local.fingerprint
            target.tls_expires = json_fields(local)["tlsCertExpiresAt"]


async def _probe_all(
    targets: Sequence[ProbeTarget],
    gw: cfg.GatewayConfig,
    env: Mapping[str, str],
    token_flag: str | None,
    password_flag: str | None,
    runtime_token: str | None,
    overall_ms: int,
) -> list[Probed]:
    results: list[Probed | None] = [None] * len(targets)

    async def one(index: int, target: ProbeTarget) -> None:
        if token_flag or password_flag:
            auth = ProbeAuth(token_flag, password_flag)
        elif target.kind in ("configRemote", "sshTunnel"):
            auth = remote_probe_auth(gw, env)
        else:
            auth = local_probe_auth(gw, env, runtime_token)
        probe = await probe_gateway(
            target.url,
            token=auth.token,
            password=auth.password,
            timeout_ms=probe_budget_ms(overall_ms, target),
            env=env,
            tls_fingerprint=target.tls_fingerprint,
        )
        results[index] = Probed(
            target,
            probe,
            pick_self_presence(probe.presence),
            extract_config_summary(probe.config_snapshot) if probe.config_snapshot else None,
            auth.diagnostics,
        )

    async with trio.open_nursery() as nursery:
        for index, target in enumerate(targets):
            nursery.start_soon(one, index, target)
    return [r for r in results if r is not None]


async def probe_main(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    *,
    handle_signals: bool = False,
) -> int:
    as_json = bool(opts.get("json"))
    try:
        report = await gather_probe(opts, env, handle_signals=handle_signals)
    except CliFailure as failure:
        return emit_failure(failure, as_json=as_json, out=out, err=err)
    if report.aborted is not None:
        return report.exit_code
    if as_json:
        print(dump(report_json(report)), file=out)
    else:
        print(report_text(report), file=out)
    return report.exit_code


def run_probe(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`openclaw gateway probe` (sync entry point; runs its own trio loop)."""
    main_thread = threading.current_thread() is threading.main_thread()
    try:
        return trio.run(
            lambda: probe_main(
                opts, env, out or sys.stdout, err or sys.stderr, handle_signals=main_thread
            )
        )
    except BaseException as exc:
        if is_interrupt(exc):
            return 130
        raise
