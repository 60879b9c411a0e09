"""`gateway status` output: the human report of what status_cmd gathered (cli.md §1.5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from openclaw_gateway.core.logs import Redactor
from openclaw_gateway.host import ports

SERVICE_DETAIL = (
    "No supported service manager detected. Restart the Gateway you launched manually after "
    "the update."
)
DIAGNOSTIC_ONLY = " (diagnostic only, not the probe target)"


def format_port_diagnostics(port: Mapping[str, Any], redact: Redactor) -> list[str]:
    if port["status"] == "free":
        return [f"Port {port['port']} is free."]
    lines = [f"Port {port['port']} is already in use."]
    for x in port["listeners"]:
        row = ports.Listener(x["pid"], x["command"], x["commandLine"], x["user"], x["address"])
        lines.append(redact(f"- {ports.format_listener(row)}"))
    lines += [f"- {hint}" for hint in port["hints"]]
    return lines


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
    if gateway.get("tlsFingerprintSha256"):
        expires = str(gateway.get("tlsCertExpiresAt") or "")[:10]
        log(f"TLS: sha256 {gateway['tlsFingerprintSha256']} (expires {expires})")
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
