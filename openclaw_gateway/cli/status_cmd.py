"""`gateway status`: service + config + port + RPC probe report (cli.md §1.5).

The service part comes from openclaw_gateway/service (manager.describe): systemd unit or
LaunchAgent (enabled/loaded, pid, state, last exit), or, without a service manager, the
detached gateway `gateway start` recorded. The rest follows the official command: config
paths, the gateway's bind/port/probe URL, who listens on the port (from /proc), and a probe:

- default: a WS connect as `cli`/`probe` (protocol 3..4, scopes [operator.read]) — the
  "Connectivity probe", capability from hello-ok's auth.scopes;
- `--require-rpc`: connect as `gateway-client`/`backend` (displayName `gateway:status`) and
  call `status` — the "Read probe"; its failure makes the exit code 1.

Exit 0 otherwise, even when the probe fails. This module gathers the report (the `--json`
object); the probe itself is status_probe.py and the human report status_render.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import trio

from openclaw_gateway import __version__
from openclaw_gateway.cli.gateway_probe import INVALID_PORT, probe_gateway
from openclaw_gateway.cli.probe_targets import dig, local_probe_auth, trim_or_none
from openclaw_gateway.cli.rpc_cmds import load_runtime_token, parse_timeout
from openclaw_gateway.cli.status_probe import ReadTarget, connect_rpc, read_rpc
from openclaw_gateway.cli.status_render import print_status
from openclaw_gateway.cli.target import CliFailure, emit_failure
from openclaw_gateway.cli.tls_info import json_fields, local_certificate
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError, is_interrupt
from openclaw_gateway.core.logs import default_log_path
from openclaw_gateway.core.paths import Paths, parse_port, resolve_paths, resolve_port
from openclaw_gateway.host import netbind, ports

DEFAULT_TIMEOUT_MS = 10_000
REQUIRE_RPC_NEEDS_PROBE = (
    "Gateway status failed: --require-rpc needs probing enabled. Remove --no-probe or drop "
    "--require-rpc."
)


# --------------------------------------------------------------------------------------------
# Port listeners (/proc), in the official `inspectPortUsage` shape


def _ppid(pid: int, proc: Path = Path("/proc")) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = (proc / str(pid) / "stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    return None


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def inspect_port(port: int, proc: Path = Path("/proc")) -> dict[str, Any]:
    """`{port, status: busy|free, listeners: [...], hints}` (one row per listening socket)."""
    owners = ports.listeners_on(port, proc)
    rows: list[dict[str, Any]] = []
    for owner in owners:
        row: dict[str, Any] = {
            "pid": owner.pid,
            "command": owner.command,
            "address": owner.address or f"*:{port}",
            "user": owner.user,
            "commandLine": owner.cmdline,
        }
        ppid = _ppid(owner.pid, proc)
        if ppid is not None:
            row["ppid"] = ppid
        rows.append(row)
    status = "busy" if owners or not _bindable(port) else "free"
    return {"port": port, "status": status, "listeners": rows, "hints": ports.port_hints(owners)}


# --------------------------------------------------------------------------------------------
# Gathering


def _config_summary(paths: Paths) -> tuple[dict[str, Any], cfg.Config]:
    summary: dict[str, Any] = {"path": str(paths.config_path)}
    try:
        loaded = cfg.load(paths.config_path)
    except ConfigError as exc:
        summary.update(exists=True, valid=False, issues=[{"path": "", "message": str(exc)}])
        return summary, cfg.Config()
    summary["exists"] = loaded.exists
    if loaded.parse_error is not None:
        summary["valid"] = False
        summary["issues"] = [{"path": "", "message": f"JSON5 parse failed: {loaded.parse_error}"}]
    else:
        summary["valid"] = True
    return summary, loaded.config


def _service_block(env: Mapping[str, str]) -> dict[str, Any]:
    from openclaw_gateway.host.service.manager import Context, describe

    block = describe(Context(env=dict(env)))
    if block.get("inspectionReason") == "service-manager-unavailable":
        block["targetRole"] = "diagnostic-only"
    return block


def _extra_services(env: Mapping[str, str]) -> list[dict[str, Any]]:
    from openclaw_gateway.host.service.manager import Context, extra_services

    return extra_services(Context(env=dict(env)))


def _log_file(config: cfg.Config, paths: Paths) -> str:
    if config.logging.file:
        return os.path.expanduser(config.logging.file)
    return str(default_log_path(paths.profile, dt.datetime.now()))


async def gather_status(opts: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The `gateway status --json` object. Raises CliFailure for usage errors."""
    probe = opts.get("probe", True) is not False and not opts.get("no_probe")
    require_rpc = bool(opts.get("require_rpc"))
    if require_rpc and not probe:
        raise CliFailure("cli_error", REQUIRE_RPC_NEEDS_PROBE)
    url_flag = trim_or_none(opts.get("url"))
    port_raw = opts.get("port")
    if url_flag and port_raw is not None:
        raise CliFailure("cli_error", "Use either --url or --port, not both.", extra={"generic": 1})
    port_override: int | None = None
    if port_raw is not None:
        port_override = parse_port(port_raw)
        if port_override is None:
            raise CliFailure("cli_error", INVALID_PORT, extra={"generic": 1})
    try:
        timeout_ms = parse_timeout(
            None if opts.get("timeout") is None else str(opts.get("timeout")), DEFAULT_TIMEOUT_MS
        )
    except CliFailure as failure:
        raise CliFailure("cli_error", f"Gateway status failed: {failure.message}") from None
    paths = resolve_paths(env)
    config_summary, config = _config_summary(paths)
    gw = config.gateway
    raw = config.raw
    try:
        config_port = resolve_port(None, env, gw.port, paths.profile)
    except ConfigError as exc:
        raise CliFailure("cli_error", f"Gateway status failed: {exc}") from None
    port = port_override or config_port
    bind_mode = gw.bind or "loopback"
    tls = dig(raw, "gateway", "tls", "enabled") is True
    bind_host = netbind.bind_host(
        bind_mode, custom_host=gw.custom_bind_host, container=netbind.in_container(env)
    )
    if port_override is not None:
        probe_host = "127.0.0.1"
    elif bind_mode == "custom" and (gw.custom_bind_host or "").strip():
        probe_host = (gw.custom_bind_host or "").strip()
    elif bind_mode == "tailnet":
        probe_host = netbind.pick_tailnet_ipv4(netbind.interface_ipv4s()) or "127.0.0.1"
    else:
        probe_host = "127.0.0.1"
    probe_url = url_flag or f"{'wss' if tls else 'ws'}://{probe_host}:{port}"
    gateway: dict[str, Any] = {"bindMode": bind_mode, "bindHost": bind_host}
    if gw.custom_bind_host:
        gateway["customBindHost"] = gw.custom_bind_host
    if tls:
        gateway["tlsEnabled"] = True
    # The local certificate: shown, and pinned when the probe goes to the local gateway.
    certificate = local_certificate(config, paths.state_dir, env) if tls else None
    pin = certificate.fingerprint if certificate is not None and not url_flag else None
    gateway.update(
        port=port,
        portSource="cli" if port_override is not None else "env/config",
        probeUrl=probe_url,
    )
    if certificate is not None:
        gateway.update(json_fields(certificate))
    if not url_flag and bind_mode == "lan":
        gateway["probeNote"] = (
            f"bind=lan listens on 0.0.0.0 (all interfaces); probing via {probe_host}."
        )
    elif not url_flag and bind_mode == "loopback":
        gateway["probeNote"] = "Loopback-only gateway; only local clients can connect."

    port_status = inspect_port(port)
    port_cli = inspect_port(config_port) if config_port != port else None

    rpc: dict[str, Any] | None = None
    if probe:
        token, password = trim_or_none(opts.get("token")), trim_or_none(opts.get("password"))
        if not (url_flag or token or password) and gw.auth.mode != "none":
            auth = local_probe_auth(gw, env, load_runtime_token(paths))
            token, password = auth.token, auth.password
        if require_rpc:
            target = ReadTarget(
                probe_url,
                "cli --url" if url_flag else "service target",
                paths.config_path,
                None if url_flag else f"Bind: {bind_mode}",
                token,
                password,
                tls_fingerprint=pin,
            )
            rpc = await read_rpc(target, timeout_ms)
        else:
            result = await probe_gateway(
                probe_url,
                token=token,
                password=password,
                timeout_ms=timeout_ms,
                include_details=False,
                env=env,
                tls_fingerprint=pin,
            )
            rpc = connect_rpc(result)
        rpc["url"] = probe_url
        version = (rpc.get("server") or {}).get("version") or rpc.get("version")
        gateway["version"] = version

    log_file = _log_file(config, paths)
    status: dict[str, Any] = {
        "cli": {"version": __version__, **({"entrypoint": sys.argv[0]} if sys.argv[0] else {})},
        "logFile": log_file,
        "service": _service_block(env),
        "config": {"cli": config_summary, "daemon": dict(config_summary)},
        "gateway": gateway,
        "port": port_status,
    }
    if port_cli is not None:
        status["portCli"] = port_cli
    if rpc is not None:
        status["rpc"] = rpc
    status["extraServices"] = _extra_services(env) if opts.get("deep") else []
    return status


async def status_main(
    opts: Mapping[str, Any], env: Mapping[str, str], out: TextIO, err: TextIO
) -> int:
    as_json = bool(opts.get("json"))
    try:
        status = await gather_status(opts, env)
    except CliFailure as failure:
        return emit_failure(failure, as_json=as_json, out=out, err=err)
    if as_json:
        print(json.dumps(status, indent=2, ensure_ascii=False), file=out)
    else:
        print_status(status, env, out, err)
    rpc = status.get("rpc")
    if opts.get("require_rpc") and not (rpc and rpc.get("ok")):
        return 1
    return 0


def run_status(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`openclaw gateway status` (sync entry point; runs its own trio loop)."""
    try:
        return trio.run(status_main, opts, env, out or sys.stdout, err or sys.stderr)
    except BaseException as exc:
        if is_interrupt(exc):
            return 130
        raise
