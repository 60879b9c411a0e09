"""`gateway probe`'s report: what gather_probe collected (ProbeReport) and its two shapes, the
`--json` object and the human text (official wording). Pure.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import attrs

from openclaw_gateway.cli.gateway_probe import CAPABILITY_LABELS, ProbeResult, summarize_capability
from openclaw_gateway.cli.probe_targets import Probed, ProbeTarget, pick_primary
from openclaw_gateway.discovery import beacons

DISCOVERY_BUDGET_MS = 1200
DISCOVERY_TIP = (
    "Tip: if the gateway is remote, mDNS won’t cross networks; use Wide-Area Bonjour (split "
    "DNS) or SSH tunnels."
)


@attrs.define
class ProbeReport:
    started_ms: int
    timeout_ms: int
    network: dict[str, Any]
    probed: list[Probed]
    warnings: list[dict[str, Any]]
    aborted: int | None = None  # the signal number that interrupted the run
    discovery: list[dict[str, Any]] = attrs.field(factory=list)  # beacons, as found
    discovery_timeout_ms: int = DISCOVERY_BUDGET_MS
    wide_area_domain: str | None = None

    @property
    def reachable(self) -> list[Probed]:
        return [p for p in self.probed if p.probe.reachable]

    @property
    def exit_code(self) -> int:
        if self.aborted is not None:
            return 130 if self.aborted == signal.SIGINT else 143
        return 0 if self.reachable else 1


def report_json(report: ProbeReport) -> dict[str, Any]:
    reachable = report.reachable
    primary = pick_primary(report.probed)
    now = int(time.time() * 1000)
    return {
        "ok": bool(reachable),
        "degraded": any(p.probe.post_connect_failure for p in report.probed),
        "capability": summarize_capability([p.probe for p in reachable]),
        "ts": now,
        "durationMs": max(0, now - report.started_ms),
        "timeoutMs": report.timeout_ms,
        "primaryTargetId": primary.target.id if primary else None,
        "warnings": report.warnings,
        "network": report.network,
        "discovery": {
            "timeoutMs": report.discovery_timeout_ms,
            "count": len(report.discovery),
            "beacons": [beacons.probe_view(b) for b in report.discovery],
        },
        "targets": [
            {
                "id": p.target.id,
                "kind": p.target.kind,
                "url": p.target.url,
                "active": p.target.active,
                "tunnel": p.target.tunnel,
                "connect": {
                    "ok": p.probe.reachable,
                    "rpcOk": p.probe.ok,
                    "scopeLimited": p.probe.scope_limited,
                    "latencyMs": p.probe.latency_ms,
                    "error": p.probe.error,
                    "close": p.probe.close,
                },
                "auth": p.probe.auth,
                "server": p.probe.server,
                "self": p.self_row,
                "config": p.config_summary,
                "health": p.probe.health,
                "summary": p.probe.status,
                "presence": p.probe.presence,
                **_tls_json(p.target),
            }
            for p in report.probed
        ],
    }


def _tls_json(target: ProbeTarget) -> dict[str, Any]:
    """The pin a wss:// target was probed with (additive: absent without TLS)."""
    if not target.tls_fingerprint:
        return {}
    tls: dict[str, Any] = {"fingerprintSha256": target.tls_fingerprint}
    if target.tls_expires:
        tls["expiresAt"] = target.tls_expires
    return {"tls": tls}


def tls_line(target: ProbeTarget) -> str | None:
    """`  TLS: sha256 <fp> (expires 2036-11-29)`: pasteable as gateway.remote.tlsFingerprint."""
    if not target.tls_fingerprint:
        return None
    if not target.tls_expires:  # a configured pin: what we expect, not what was read
        return f"  TLS pin: sha256 {target.tls_fingerprint}"
    return f"  TLS: sha256 {target.tls_fingerprint} (expires {target.tls_expires[:10]})"


def target_header(target: ProbeTarget) -> str:
    if target.kind == "localLoopback":
        label = "Local loopback"
    elif target.kind == "sshTunnel":
        label = "Remote over SSH"
    elif target.kind == "configRemote":
        label = "Remote (configured)" if target.active else "Remote (configured, inactive)"
    else:
        label = "URL (explicit)"
    return f"{label} {target.url}"


def capability_label(capability: str) -> str:
    return f"Capability: {CAPABILITY_LABELS.get(capability, 'unknown')}"


def probe_summary_line(probe: ProbeResult) -> str:
    capability = capability_label(probe.capability)
    if probe.ok:
        latency = f"{probe.latency_ms}ms" if probe.latency_ms is not None else "unknown"
        return f"Connect: ok ({latency}) · {capability} · Read probe: ok"
    detail = f" - {probe.error}" if probe.error else ""
    if probe.gateway_reached and probe.latency_ms is not None:
        read = "Read probe: limited" if probe.scope_limited else "Read probe: failed"
        return f"Connect: ok ({probe.latency_ms}ms) · {capability} · {read}{detail}"
    if probe.capability == "pairing_pending":
        return f"Connect: blocked{detail} · {capability}"
    return f"Connect: failed{detail} · {capability}"


def report_text(report: ProbeReport) -> str:
    reachable = report.reachable
    capability = summarize_capability([p.probe for p in reachable])
    lines = [
        "Gateway Status",
        f"Reachable: {'yes' if reachable else 'no'}",
        f"Capability: {capability.replace('_', '-')}",
        f"Probe budget: {report.timeout_ms}ms",
    ]
    if report.warnings:
        lines += ["", "Warning:"]
        lines += [f"- {w['message']}" for w in report.warnings]
    lines += ["", "Discovery (this machine)"]
    domains = "local." + (f" + {report.wide_area_domain}" if report.wide_area_domain else "")
    count = len(report.discovery)
    if count:
        lines.append(f"Found {count} gateway(s) via Bonjour ({domains})")
    else:
        lines += [f"Found 0 gateways via Bonjour ({domains})", DISCOVERY_TIP]
    lines += ["", "Targets"]
    for p in report.probed:
        lines.append(target_header(p.target))
        lines.append(f"  {probe_summary_line(p.probe)}")
        tls = tls_line(p.target)
        if tls is not None:
            lines.append(tls)
        if p.target.tunnel and p.target.tunnel.get("kind") == "ssh":
            lines.append(f"  ssh: {p.target.tunnel.get('target')}")
        if p.probe.ok and p.self_row:
            row = p.self_row
            ip = f" ({row['ip']})" if row.get("ip") else ""
            platform = f" · {row['platform']}" if row.get("platform") else ""
            version = f" · app {row['version']}" if row.get("version") else ""
            lines.append(f"  Gateway: {row.get('host') or 'unknown'}{ip}{platform}{version}")
        if p.config_summary:
            enabled = p.config_summary["discovery"]["wideAreaEnabled"]
            state = "enabled" if enabled is True else "disabled" if enabled is False else "unknown"
            lines.append(f"  Wide-area discovery: {state}")
        lines.append("")
    return "\n".join(lines)


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
