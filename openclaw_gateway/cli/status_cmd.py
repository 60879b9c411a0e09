"""`gateway status`: service + config + port + RPC probe report (cli.md §1.5).

The service part comes from openclaw_gateway/service (manager.describe): systemd unit or
LaunchAgent (enabled/loaded, pid, state, last exit), or, without a service manager, the
detached gateway `gateway start` recorded. The rest follows the official command: config
paths, the gateway's bind/port/probe URL, who listens on the port (from /proc), and a probe:

- default: a WS connect as `cli`/`probe` (protocol 3..4, scopes [operator.read]) — the
  "Connectivity probe", capability from hello-ok's auth.scopes;
- `--require-rpc`: connect as `gateway-client`/`backend` (displayName `gateway:status`) and
  call `status` — the "Read probe"; its failure makes the exit code 1.

Exit 0 otherwise, even when the probe fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import attrs
import trio

from openclaw_gateway import __version__
from openclaw_gateway.cli.gateway_probe import (
    INVALID_PORT,
    ProbeResult,
    is_pairing_failure,
    probe_capability,
    probe_gateway,
    transport_error_text,
)
from openclaw_gateway.cli.probe_targets import dig, local_probe_auth
from openclaw_gateway.cli.rpc_cmds import (
    background_failure_text,
    load_runtime_token,
    parse_timeout,
)
from openclaw_gateway.cli.target import CliFailure
from openclaw_gateway.client import (
    ClientIdentity,
    GatewayRequestError,
    GatewayTransportError,
    connect_params,
    open_session,
)
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.logs import Redactor, default_log_path
from openclaw_gateway.core.paths import Paths, parse_port, resolve_paths, resolve_port
from openclaw_gateway.host import netbind, ports

DEFAULT_TIMEOUT_MS = 10_000
SERVICE_DETAIL = (
    "No supported service manager detected. Restart the Gateway you launched manually after "
    "the update."
)
DIAGNOSTIC_ONLY = " (diagnostic only, not the probe target)"
REQUIRE_RPC_NEEDS_PROBE = (
    "Gateway status failed: --require-rpc needs probing enabled. Remove --no-probe or drop "
    "--require-rpc."
)
KNOWN_DETAIL_CODES = frozenset(
    (
        "AUTH_REQUIRED",
        "AUTH_UNAUTHORIZED",
        "AUTH_TOKEN_MISSING",
        "AUTH_TOKEN_MISMATCH",
        "AUTH_TOKEN_NOT_CONFIGURED",
        "AUTH_PASSWORD_MISSING",
        "AUTH_PASSWORD_MISMATCH",
        "AUTH_PASSWORD_NOT_CONFIGURED",
        "AUTH_BOOTSTRAP_TOKEN_INVALID",
        "AUTH_DEVICE_TOKEN_MISMATCH",
        "AUTH_SCOPE_MISMATCH",
        "AUTH_RATE_LIMITED",
        "AUTH_TAILSCALE_IDENTITY_MISSING",
        "AUTH_TAILSCALE_PROXY_MISSING",
        "AUTH_TAILSCALE_WHOIS_FAILED",
        "AUTH_TAILSCALE_IDENTITY_MISMATCH",
        "AUTH_IDENTITY_HEADER_REQUIRED",
        "AUTH_VERIFIED_USER_REQUIRED",
        "AUTHENTICATED_PROFILE_UNAVAILABLE",
        "CONTROL_UI_BUILD_MISMATCH",
        "CONTROL_UI_ORIGIN_NOT_ALLOWED",
        "PROTOCOL_MISMATCH",
        "CONTROL_UI_DEVICE_IDENTITY_REQUIRED",
        "DEVICE_IDENTITY_REQUIRED",
        "DEVICE_AUTH_INVALID",
        "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        "DEVICE_AUTH_SIGNATURE_EXPIRED",
        "DEVICE_AUTH_NONCE_REQUIRED",
        "DEVICE_AUTH_NONCE_MISMATCH",
        "DEVICE_AUTH_SIGNATURE_INVALID",
        "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        "PAIRING_REQUIRED",
        "CLIENT_VERSION_MISMATCH",
    )
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


def format_port_diagnostics(port: Mapping[str, Any], redact: Redactor) -> list[str]:
    if port["status"] == "free":
        return [f"Port {port['port']} is free."]
    lines = [f"Port {port['port']} is already in use."]
    for x in port["listeners"]:
        row = ports.Listener(x["pid"], x["command"], x["commandLine"], x["user"], x["address"])
        lines.append(redact(f"- {ports.format_listener(row)}"))
    lines += [f"- {hint}" for hint in port["hints"]]
    return lines


# --------------------------------------------------------------------------------------------
# The RPC probe


def connect_failure_kind(details: Any, message: str | None, reason: str | None) -> dict[str, Any]:
    """The official `classifyGatewayConnectFailure` kind (+ detailCode when it is a known one)."""
    code = details.get("code") if isinstance(details, dict) else None
    code = code if isinstance(code, str) else None
    text = "\n".join(t for t in (message, reason) if t).lower()
    if code == "PAIRING_REQUIRED" or is_pairing_failure(None, text):
        kind = "pairing-required"
    elif code in ("DEVICE_IDENTITY_REQUIRED", "CONTROL_UI_DEVICE_IDENTITY_REQUIRED") or (
        "device identity required" in text
    ):
        kind = "device-identity-required"
    elif code == "AUTH_SCOPE_MISMATCH" or "scope mismatch" in text:
        kind = "scope-mismatch"
    elif code == "AUTH_RATE_LIMITED" or (
        not code and "too many failed authentication attempts" in text
    ):
        kind = "rate-limited"
    elif (
        code in ("AUTH_DEVICE_TOKEN_MISMATCH", "AUTH_TOKEN_MISMATCH")
        or "device token mismatch" in text
        or "gateway token mismatch" in text
        or (code or "").startswith(("AUTH_", "DEVICE_AUTH_"))
    ):
        kind = "auth-rejected"
    elif code or _GATEWAY_CLOSED.search(text):
        kind = "gateway-rejected"
    else:
        kind = "unreachable"
    out: dict[str, Any] = {"kind": kind}
    if code in KNOWN_DETAIL_CODES:
        out["detailCode"] = code
    return out


_GATEWAY_CLOSED = re.compile(r"\bgateway closed \(\d+\):", re.I)


def _failure_message(probe: ProbeResult) -> str:
    close = probe.close
    hint = f"gateway closed ({close['code']}): {close['reason']}" if close else None
    if hint and (not probe.error or probe.error == "timeout"):
        return hint
    return probe.error or hint or "gateway probe failed"


def connect_rpc(probe: ProbeResult) -> dict[str, Any]:
    """`rpc` for the default connectivity probe."""
    version = probe.server.get("version")
    if probe.ok:
        rpc: dict[str, Any] = {
            "ok": True,
            "kind": "connect",
            "capability": probe.capability,
            "auth": probe.auth,
            "server": probe.server,
        }
        if version is not None:
            rpc["version"] = version
        return rpc
    error = _failure_message(probe)
    rpc = {"ok": False, "kind": "connect"}
    if probe.gateway_reached:
        rpc["gatewayReached"] = True
    if probe.error == "timeout" and not probe.close:
        rpc["timedOut"] = True
    rpc.update({"capability": probe.capability, "auth": probe.auth, "server": probe.server})
    if version is not None:
        rpc["version"] = version
    rpc["connectFailure"] = connect_failure_kind(
        probe.connect_error_details, error, (probe.close or {}).get("reason")
    )
    rpc["error"] = error
    return rpc


@attrs.frozen
class ReadTarget:
    url: str
    url_source: str
    config_path: Path
    bind_detail: str | None
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)


def _target_block(target: ReadTarget) -> list[str]:
    lines = [f"Gateway target: {target.url}", f"Source: {target.url_source}"]
    lines.append(f"Config: {target.config_path}")
    if target.bind_detail:
        lines.append(target.bind_detail)
    return lines


async def read_rpc(target: ReadTarget, timeout_ms: int) -> dict[str, Any]:
    """`rpc` for `--require-rpc`: connect as gateway-client/backend and call `status`."""
    identity = ClientIdentity(
        client_id="gateway-client",
        mode="backend",
        version=__version__,
        display_name="gateway:status",
    )
    params = connect_params(
        identity,
        role="operator",
        scopes=("operator.read",),
        token=target.token,
        password=target.password,
    )
    timeout = timeout_ms / 1000
    hello: dict[str, Any] | None = None
    failure: GatewayTransportError | GatewayRequestError | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(timeout):
                    session = await open_session(nursery, target.url, params, timeout=timeout)
                    hello = session.hello if isinstance(session.hello, dict) else {}
                    try:
                        await session.call("status", None, timeout=timeout)
                    finally:
                        await session.aclose()
            except trio.TooSlowError:
                failure = GatewayTransportError("timeout", f"gateway timeout after {timeout_ms}ms")
            except (GatewayTransportError, GatewayRequestError) as exc:
                # Kept outside the nursery so it is reported, not wrapped in an exception group.
                failure = exc
            finally:
                nursery.cancel_scope.cancel()
    except Exception as exc:  # the websocket library's background reader failed as well
        if failure is None:
            failure = GatewayTransportError("closed", background_failure_text(exc))
    if failure is not None:
        return _read_failure(failure, target, timeout_ms, hello)
    auth = _hello_auth(hello or {})
    capability = auth["capability"] if auth["capability"] != "unknown" else "read_only"
    server = (hello or {}).get("server")
    rpc: dict[str, Any] = {"ok": True, "kind": "read", "capability": capability, "auth": auth}
    if isinstance(server, dict):
        rpc["server"] = server
        if server.get("version") is not None:
            rpc["version"] = server["version"]
    return rpc


def _hello_auth(hello: Mapping[str, Any]) -> dict[str, Any]:
    auth = hello.get("auth") if isinstance(hello.get("auth"), dict) else {}
    assert isinstance(auth, dict)
    raw = auth.get("scopes")
    scopes = [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
    role = auth.get("role")
    return {
        "role": role if isinstance(role, str) else None,
        "scopes": scopes,
        "capability": probe_capability(scopes, auth_metadata=True, latency_ms=None),
    }


def _read_failure(
    exc: GatewayTransportError | GatewayRequestError,
    target: ReadTarget,
    timeout_ms: int,
    hello: dict[str, Any] | None,
) -> dict[str, Any]:
    rpc: dict[str, Any] = {"ok": False, "kind": "read"}
    details: Any = None
    if isinstance(exc, GatewayRequestError):
        rpc["gatewayReached"] = True
        error = exc.message
        details = exc.details
    elif exc.kind == "timeout":
        if hello is not None:
            rpc["gatewayReached"] = True
        rpc["timedOut"] = True
        error = "\n".join([f"gateway timeout after {timeout_ms}ms", *_target_block(target)])
    else:
        text, refused = transport_error_text(exc, target.url)
        if hello is not None:
            rpc["gatewayReached"] = True
        head = (
            [
                f"Gateway not reachable at {target.url} (ECONNREFUSED).",
                "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
            ]
            if refused
            else [f"Gateway closed the connection: {exc}" if exc.close_code else text]
        )
        error = "\n".join([*head, *_target_block(target)])
    if hello is not None:
        auth = _hello_auth(hello)
        rpc["auth"] = auth
        rpc["capability"] = auth["capability"]
        server = hello.get("server")
        if isinstance(server, dict):
            rpc["server"] = server
            if server.get("version") is not None:
                rpc["version"] = server["version"]
    rpc["connectFailure"] = connect_failure_kind(details, error.split("\n")[0], None)
    rpc["error"] = error
    return rpc


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


def format_runtime(runtime: Mapping[str, Any]) -> str:
    """The official formatRuntimeStatus: `running (pid 42, state active, sub running, …)`."""
    status = str(runtime.get("status") or "unknown")
    details = []
    if runtime.get("pid"):
        details.append(f"pid {runtime['pid']}")
    state = runtime.get("state")
    if state and str(state).lower() != status.lower():
        details.append(f"state {state}")
    if runtime.get("subState"):
        details.append(f"sub {runtime['subState']}")
    if runtime.get("lastExitStatus") is not None:
        code = runtime["lastExitStatus"]
        names = {129: "SIGHUP", 130: "SIGINT", 137: "SIGKILL", 143: "SIGTERM"}
        details.append(f"last exit {code}" + (f" ({names[code]})" if code in names else ""))
    if runtime.get("lastRunResult"):
        details.append(f"last run {runtime['lastRunResult']}")
    if runtime.get("restarts"):
        details.append(f"restarts {runtime['restarts']}")
    if runtime.get("detail"):
        details.append(" ".join(str(runtime["detail"]).split()))
    return f"{status} ({', '.join(details)})" if details else status


def _log_file(config: cfg.Config, paths: Paths) -> str:
    if config.logging.file:
        return os.path.expanduser(config.logging.file)
    return str(default_log_path(paths.profile, dt.datetime.now()))


def _trim(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _tailnet_ip() -> str | None:
    for _, ip in netbind.interface_ipv4s():
        if ipaddress.ip_address(ip) in netbind.TAILNET:
            return ip
    return None


async def gather_status(opts: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The `gateway status --json` object. Raises CliFailure for usage errors."""
    probe = opts.get("probe", True) is not False and not opts.get("no_probe")
    require_rpc = bool(opts.get("require_rpc"))
    if require_rpc and not probe:
        raise CliFailure("cli_error", REQUIRE_RPC_NEEDS_PROBE)
    url_flag = _trim(opts.get("url"))
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
        probe_host = _tailnet_ip() or "127.0.0.1"
    else:
        probe_host = "127.0.0.1"
    probe_url = url_flag or f"{'wss' if tls else 'ws'}://{probe_host}:{port}"
    gateway: dict[str, Any] = {"bindMode": bind_mode, "bindHost": bind_host}
    if gw.custom_bind_host:
        gateway["customBindHost"] = gw.custom_bind_host
    if tls:
        gateway["tlsEnabled"] = True
    gateway.update(
        port=port,
        portSource="cli" if port_override is not None else "env/config",
        probeUrl=probe_url,
    )
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
        token, password = _trim(opts.get("token")), _trim(opts.get("password"))
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


# --------------------------------------------------------------------------------------------
# Output


def _short(path: str, env: Mapping[str, str]) -> str:
    home = env.get("HOME")
    if home and home != "/" and (path == home or path.startswith(home.rstrip("/") + "/")):
        return "~" + path[len(home.rstrip("/")) :]
    return path


def print_status(
    status: Mapping[str, Any], env: Mapping[str, str], out: TextIO, err: TextIO
) -> None:
    def log(line: str = "") -> None:
        print(line, file=out)

    def error(line: str) -> None:
        print(line, file=err)

    service = status["service"]
    rpc = status.get("rpc")
    diagnostic = DIAGNOSTIC_ONLY if service.get("targetRole") == "diagnostic-only" else ""
    loaded = service["loadedText"] if service["loaded"] else service["notLoadedText"]
    if service.get("mode") == "detached":
        head = f"no supported service manager detected; detached gateway {loaded}"
    elif service.get("inspectionReason") == "service-manager-unavailable":
        head = f"{service['label']} (unavailable)"
    else:
        head = f"{service['label']} ({loaded})"
    log(f"Service: {head}{diagnostic}")
    command = service.get("command") or {}
    if command.get("programArguments"):
        log(f"Command: {' '.join(command['programArguments'])}")
    if command.get("sourcePath"):
        log(f"Service file: {_short(command['sourcePath'], env)}")
    if status.get("logFile"):
        log(f"File logs: {_short(status['logFile'], env)}")
    log()
    for key, label in (("cli", "Config (cli):"), ("daemon", "Config (service):")):
        summary = status["config"][key]
        suffix = ("" if summary["exists"] else " (missing)") + (
            "" if summary["valid"] else " (invalid)"
        )
        log(f"{label} {_short(summary['path'], env)}{suffix}")
        if key == "cli" and not summary["valid"]:
            for issue in summary.get("issues", [])[:5]:
                where = f"{issue['path']}: " if issue.get("path") else ""
                error(f"Config issue: {where}{issue['message']}")
    log()
    gateway = status["gateway"]
    log(
        f"Gateway: bind={gateway['bindMode']} ({gateway.get('bindHost') or 'n/a'}), "
        f"port={gateway['port']} ({gateway['portSource']})"
    )
    log(f"Probe target: {gateway['probeUrl']}")
    if gateway.get("probeNote"):
        log(f"Probe note: {gateway['probeNote']}")
    log()
    server_version = ((rpc or {}).get("server") or {}).get("version") or gateway.get("version")
    if server_version:
        cli = status["cli"]
        entry = f" ({_short(cli['entrypoint'], env)})" if cli.get("entrypoint") else ""
        log(f"CLI version: {cli['version']}{entry}")
        log(f"Gateway version: {server_version}")
        if cli["version"] != server_version:
            error(
                f"Warning: this OpenClaw command is version {cli['version']}, but the running "
                f"Gateway is version {server_version}."
            )
        log()
    log(f"Runtime: {format_runtime(service['runtime'])}{diagnostic}")
    if rpc is not None:
        label = "Read probe:" if rpc["kind"] == "read" else "Connectivity probe:"
        if rpc["ok"]:
            log(f"{label} ok")
        else:
            if rpc.get("timedOut"):
                state = (
                    "timed out after reaching Gateway"
                    if rpc.get("gatewayReached")
                    else "timed out before reaching Gateway"
                )
            else:
                state = "failed"
            error(f"{label} {state}")
            if rpc.get("url"):
                error(f"Probe target: {rpc['url']}")
            lines = [x for x in str(rpc.get("error") or "unknown").splitlines() if x]
            for line in lines[:12]:
                error(f"  {line}")
        capability = rpc.get("capability")
        if capability:
            log(f"Capability: {capability.replace('_', '-')}")
        log()
    if service.get("mode") == "detached" and not service["loaded"]:
        error(SERVICE_DETAIL)
    log()
    port = status.get("port")
    if port and port["status"] not in (None, "free") and not (rpc and rpc["ok"]):
        for line in format_port_diagnostics(port, Redactor()):
            error(line)
    if port:
        addresses = list(dict.fromkeys(x["address"] for x in port["listeners"] if x["address"]))
        if addresses:
            log(f"Listening: {', '.join(addresses)}")
    extras = status.get("extraServices") or []
    if extras:
        log("Other gateway-like services detected (best effort):")
        for svc in extras:
            log(f"- {svc['label']} ({svc['scope']}, {svc['detail']})")
        for svc in extras:
            flag = "--user " if svc["scope"] == "user" else ""
            log(f"Inspection hint: systemctl {flag}status {svc['label']}")
        log()
    port_cli = status.get("portCli")
    if port_cli and (not port or port_cli["port"] != port["port"]):
        log(f"Note: CLI config resolves gateway port={port_cli['port']} ({port_cli['status']}).")
    log("Troubleshooting: https://docs.openclaw.ai/troubleshooting")


def _emit_failure(failure: CliFailure, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    if as_json:
        body = {"ok": False, "error": {"type": failure.error_type, "message": failure.message}}
        print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
    elif failure.extra.get("generic"):
        print("[openclaw] The CLI command failed.", file=err)
        print(f"[openclaw] Reason: {failure.message}", file=err)
        print("[openclaw] Help: openclaw --help", file=err)
    else:
        print(failure.message, file=err)
    return failure.exit_code


async def status_main(
    opts: Mapping[str, Any], env: Mapping[str, str], out: TextIO, err: TextIO
) -> int:
    as_json = bool(opts.get("json"))
    try:
        status = await gather_status(opts, env)
    except CliFailure as failure:
        return _emit_failure(failure, as_json=as_json, out=out, err=err)
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
    except KeyboardInterrupt:
        return 130
