"""The architecture's import rules, stated per folder (docs/architecture.md, "Import rules").

Each side folder may import only the folders below it; the pure folders (and the pure modules
of the others) never import trio or sockets; each third-party library has one home; the client
SDK never loads the daemon; only the supervisor starts the daemon's services.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "openclaw_gateway"

# folder -> the folders it may import (its own always allowed). Top-level modules
# (`__init__`, `__main__`) are the package's front door and may import anything.
FOLDERS: dict[str, frozenset[str]] = {
    "cli": frozenset(
        {"server", "client", "discovery", "host", "state", "security", "protocol", "core"}
    ),
    "server": frozenset({"state", "host", "discovery", "security", "protocol", "core"}),
    "client": frozenset({"security", "protocol", "core"}),
    "state": frozenset({"security", "core"}),
    "discovery": frozenset({"host", "core"}),  # interface addresses and bind plans: host facts
    "host": frozenset({"core"}),
    "security": frozenset({"protocol", "core"}),
    "protocol": frozenset({"core"}),
    "core": frozenset(),
}
# The client may use security only for device proofs.
CLIENT_SECURITY = frozenset({"security.devices"})
# Folders with no trio and no sockets at all: plain synchronous unit tests.
PURE_FOLDERS = ("protocol", "security", "core")
# Modules of the other folders that are pure too (time and I/O come in as arguments).
PURE_MODULES = (
    "core",
    "state.store",
    "state.pairing",
    "state.device_records",
    "state.presence",
    "host.lock",
    "host.netbind",
    "server.admission",
    "server.device_stage",
    "server.events",
    "server.probes",
    "server.http.messages",
    "server.http.router",
    "server.restart",
    "server.reload_plan",
    "server.tailscale_commands",
    "server.rpc.registry",
    "server.rpc.context",
    "server.rpc.methods",
    "server.cron.jobs",
    "server.cron.views",
    "server.cron.pacing",
    "server.cron.delivery",
    "server.cron.job_env",
    "server.cron.schedule",
    "server.cron.croner",
    "server.cron.errors",
    "server.cron.jstime",
    "server.cron.zones",
    "discovery.txt",
    "discovery.beacons",
    "discovery.wide_area",
    "discovery.unicast",
)
# Pure modules that still touch the socket module for address facts (no I/O on the loop).
SOCKET_FACTS = ("host.netbind", "core.logs")
# Third-party libraries and the only modules allowed to import them.
HOMES: dict[str, tuple[str, ...]] = {
    # The server speaks WebSocket by itself (issue 17: protocol/wsframe.py, wsupgrade.py);
    # trio-websocket is the client SDK's.
    "trio_websocket": ("client",),
    "h11": ("server.http.reader",),
    # client.websocket builds trio-websocket's connection on a wsproto engine (#184 fix).
    "wsproto": ("client.websocket",),
    "json5": ("core.config", "core.config_locate"),
    "cyclopts": ("cli",),
    "sqlite3": ("state.store",),
    "zeroconf": ("discovery",),
    "httpx": ("client.openai_agent", "server.cron.webhook"),
    "prometheus_client": ("server.metrics",),
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


def _imports(tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


MODULES = _modules()
PACKAGE_MODULES = {name for name, _ in MODULES}


def _package_targets(tree: ast.Module) -> list[str]:
    """The package modules a module imports: `from pkg.x import y` counts as pkg.x.y when y
    is a module, else as pkg.x."""
    prefix = "openclaw_gateway."
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}"
                if f"{node.module}.{a.name}"[len(prefix) :] in PACKAGE_MODULES
                else node.module
                for a in node.names
            ]
        else:
            continue
        for imported in names:
            if imported.startswith(prefix) and imported[len(prefix) :] in PACKAGE_MODULES:
                targets.append(imported[len(prefix) :])
    return targets


def test_every_module_lives_in_a_side_folder() -> None:
    loose = [n for n in PACKAGE_MODULES if "." not in n and n not in FOLDERS]
    assert sorted(loose) == ["__init__", "__main__"], loose


@pytest.mark.parametrize(("name", "tree"), MODULES, ids=[m[0] for m in MODULES])
def test_folder_import_rules(name: str, tree: ast.Module) -> None:
    folder = name.split(".")[0]
    if folder not in FOLDERS:
        return  # the package's front door
    allowed = FOLDERS[folder] | {folder}
    for target in _package_targets(tree):
        target_folder = target.split(".")[0]
        if target_folder not in FOLDERS:
            continue  # `openclaw_gateway.__version__`
        assert target_folder in allowed, f"{name} ({folder}/) imports {target}"
        if folder == "client" and target_folder == "security":
            assert _within(target, tuple(CLIENT_SECURITY)), (
                f"{name}: the client uses security/ for device proofs only, not {target}"
            )


@pytest.mark.parametrize(("name", "tree"), MODULES, ids=[m[0] for m in MODULES])
def test_third_party_homes_and_pure_modules(name: str, tree: ast.Module) -> None:
    top = {imp.split(".")[0] for imp in _imports(tree)}
    if _within(name, PURE_FOLDERS) or _within(name, PURE_MODULES):
        assert "trio" not in top, f"{name} must not import trio"
        assert "socket" not in top or _within(name, SOCKET_FACTS), f"{name} must not do I/O"
    for lib, homes in HOMES.items():
        if lib in top:
            assert _within(name, homes), f"{name} imports {lib}; only {homes or 'nobody'} may"


def _service_functions() -> set[str]:
    """Async functions of the daemon's folders that follow the nursery.start protocol."""
    names = set()
    for name, tree in MODULES:
        if name.split(".")[0] in ("client", "cli"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.AsyncFunctionDef):
                params = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if "task_status" in params:
                    names.add(node.name)
    return names


# A service that is one part of another and lives and dies inside it: the discovery service
# runs the announcer beside its TLS-renewal loop (each renewal rewrites the zone and the TXT).
NESTED_SERVICES = {("discovery.runtime", "run_announcer")}


def test_only_the_supervisor_starts_the_daemon_services() -> None:
    services = _service_functions()
    assert {"run_server", "run_scheduler", "run_notifier"} <= services
    for name, tree in MODULES:
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("start", "start_soon")
                and node.args
            ):
                continue
            first = node.args[0]
            started = first.id if isinstance(first, ast.Name) else getattr(first, "attr", None)
            if started in services and (name, started) not in NESTED_SERVICES:
                assert name == "server.supervisor", f"{name} starts the service {started}"


def test_the_client_sdk_never_loads_the_daemon() -> None:
    code = (
        "import sys, openclaw_gateway.client\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['openclaw_gateway', 'server'], ['openclaw_gateway', 'state'], "
        "['openclaw_gateway', 'host']))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"importing the client loaded {out.stdout.strip()}"
