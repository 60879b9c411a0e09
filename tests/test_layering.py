"""The architecture's import rule, enforced (docs/architecture.md, "Layering rule").

A module may import package modules of a lower or equal layer only; sans-IO and pure modules
never import trio; each third-party I/O library has one home.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "openclaw_gateway"

# Lower layers may not import higher ones.
LAYERS: dict[str, int] = {
    "errors": 0,
    "config": 0,
    "atomicfile": 0,  # temp + fsync + rename: config, service files, zone, pidfile
    "paths": 0,
    "__init__": 0,
    "protocol": 1,
    "auth": 2,
    "scopes": 2,
    "presence": 2,
    "events": 2,
    "logs": 2,
    "netbind": 2,
    "lock": 2,
    "ports": 2,
    "restart": 2,  # SIGUSR2 restart decisions, pure
    "probes": 2,
    "ratelimit": 2,
    "origin": 2,
    "ingress": 2,
    "devices": 2,
    "store": 2,
    "cron": 2,  # cron.schedule (pure) and the package
    "cron.schedule": 2,
    "cron.croner": 2,
    "cron.errors": 2,
    "cron.jstime": 2,
    "cron.zones": 2,
    "cron.jobs": 2,
    "cron.payloads": 4,
    "cron.scheduler": 5,
    "tailscale": 5,  # a service of the supervisor (the tailscale subprocesses)
    "discovery": 5,  # the announcer service, browse (zeroconf in threads, unicast DNS)
    "discovery.txt": 2,  # who announces, naming, TXT (pure)
    "discovery.beacons": 2,  # beacons and their output shapes (pure)
    "discovery.wide_area": 2,  # the wide-area zone (pure + one atomic write)
    "discovery.unicast": 2,  # DNS messages (sans-IO, zeroconf's wire format)
    "sdnotify": 2,  # sd_notify READY/STOPPING/WATCHDOG (one AF_UNIX datagram; trio pinger)
    "service": 3,  # background service management (systemd/launchd/detached), used by cli
    "pairing": 3,
    "pairing_rules": 2,
    "node_rules": 2,
    "nodes": 3,  # connected nodes and in-flight invokes (trio)
    "identity": 2,  # a client's own device identity (uses devices); client imports it
    "device_stage": 3,
    "admission": 3,
    "client": 3,
    "rpc.registry": 3,
    "rpc.context": 3,
    "rpc": 3,
    "rpc.methods": 4,
    "hub": 5,
    "connection": 6,
    "server": 7,
    "supervisor": 8,
    "cli": 9,
    "doctor": 9,  # `openclaw doctor` checks: reuse cli.run_checks, read-only probes
    "__main__": 9,
}
# Modules that must stay free of trio (time comes in as an argument).
NO_TRIO = (
    "protocol",
    "config",
    "paths",
    "errors",
    "auth",
    "scopes",
    "presence",
    "events",
    "admission",
    "rpc.registry",
    "rpc.context",
    "rpc.methods",
    "probes",
    "logs",
    "lock",
    "atomicfile",
    "netbind",
    "restart",
    "ratelimit",
    "origin",
    "ingress",
    "devices",
    "pairing",
    "device_stage",
    "pairing_rules",
    "node_rules",
    "store",
    "cron.jobs",
    "cron.schedule",
    "cron.croner",
    "cron.errors",
    "cron.jstime",
    "cron.zones",
    "discovery.txt",
    "discovery.beacons",
    "discovery.wide_area",
    "discovery.unicast",
)
# Third-party libraries and the only modules allowed to import them.
HOMES: dict[str, tuple[str, ...]] = {
    "trio_websocket": ("server", "connection", "client"),
    "h11": ("server",),
    "wsproto": (),
    "json5": ("config",),
    "cyclopts": ("cli",),
    "sqlite3": ("store",),
    "zeroconf": ("discovery",),
    "asyncio": (),
}


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out.append((name, ast.parse(path.read_text(), str(path))))
    return out


def _layer_key(name: str) -> str:
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return key
    raise AssertionError(f"module {name} has no layer in tests/test_layering.py")


def _imports(tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = _modules()


@pytest.mark.parametrize(("name", "tree"), MODULES, ids=[m[0] for m in MODULES])
def test_module_respects_layers(name: str, tree: ast.Module) -> None:
    own = LAYERS[_layer_key(name)]
    for imported in _imports(tree):
        if not imported.startswith("openclaw_gateway."):
            continue
        target = imported[len("openclaw_gateway.") :]
        try:
            target_layer = LAYERS[_layer_key(target)]
        except AssertionError:
            continue  # `from pkg import name` where name is not a module
        assert target_layer <= own, f"{name} (layer {own}) imports {target} (layer {target_layer})"


@pytest.mark.parametrize(("name", "tree"), MODULES, ids=[m[0] for m in MODULES])
def test_third_party_homes_and_pure_modules(name: str, tree: ast.Module) -> None:
    top = {imp.split(".")[0] for imp in _imports(tree)}
    if any(name == p or name.startswith(p + ".") for p in NO_TRIO):
        assert "trio" not in top, f"{name} must not import trio"
        assert "socket" not in top or name in ("netbind", "logs"), f"{name} must not do I/O"
    for lib, homes in HOMES.items():
        if lib in top:
            assert any(name == h or name.startswith(h + ".") for h in homes), (
                f"{name} imports {lib}; only {homes or 'nobody'} may"
            )


def test_every_module_has_a_layer() -> None:
    for name, _ in MODULES:
        _layer_key(name)
