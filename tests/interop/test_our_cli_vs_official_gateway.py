"""Our client and CLI against the OFFICIAL gateway (npm openclaw 2026.9.6), compared with the
official CLI's answers from the same gateway.

The official gateway takes ~8 s to start and ~1 GB of memory, so one instance serves the
module. It runs with a throwaway HOME, its file log in tmp, on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from openclaw_gateway.client import GatewayClient
from tests.interop.conftest import (
    TOKEN,
    OfficialCli,
    _clean_env,
    _which,
    _write_config,
    free_port,
)

pytestmark = pytest.mark.interop
READY_TIMEOUT_S = 90.0


@attrs.frozen
class OfficialGateway:
    proc: subprocess.Popen[bytes]
    port: int
    base: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def official_gateway(
    official_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OfficialGateway]:
    base = tmp_path_factory.mktemp("official-gateway")
    home = base / "home"
    state = _write_config(
        home, {"gateway": {"mode": "local"}, "logging": {"file": str(base / "gw.log")}}
    )
    port = free_port()
    env = _clean_env() | {
        "HOME": str(home),
        "OPENCLAW_STATE_DIR": str(state),
        "TMPDIR": str(base),
        "PATH": official_path + os.pathsep + os.environ.get("PATH", ""),
        "NO_COLOR": "1",
        "OPENCLAW_DISABLE_BONJOUR": "1",
    }
    argv = [
        _which("openclaw", official_path),
        "gateway",
        "run",
        "--allow-unconfigured",
        "--port",
        str(port),
        "--bind",
        "loopback",
        "--token",
        TOKEN,
    ]
    with (base / "out.txt").open("wb") as out, (base / "err.txt").open("wb") as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=base,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                text = (base / "err.txt").read_text(errors="replace")[-2000:]
                pytest.fail(f"official gateway did not become ready (exit {proc.poll()}):\n{text}")
            time.sleep(0.25)
        yield OfficialGateway(proc, port, base)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def official(official_path: str, tmp_path_factory: pytest.TempPathFactory) -> OfficialCli:
    base = tmp_path_factory.mktemp("official-cli-2")
    home = base / "home"
    _write_config(home, {"logging": {"file": str(base / "cli.log")}})
    (base / "tmp").mkdir()
    return OfficialCli(official_path, home, base / "tmp")


def ours(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    # No mDNS from the host namespace (our probe browses in process; see tests/discovery).
    env = _clean_env() | {"HOME": str(home), "OPENCLAW_DISABLE_BONJOUR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "openclaw_gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


VOLATILE = {
    "ts",
    "durationMs",
    "eventLoop",
    "uptimeMs",
    "processMemory",
    "modelRuntime",
    "workerPools",
    "shutdownBudget",
    "configReload",
    "sqliteWal",
}


def shape(value: Any, depth: int = 0) -> Any:
    """Key structure with volatile numbers removed, to compare two answers of one gateway."""
    if isinstance(value, dict):
        return {k: shape(v, depth + 1) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [shape(v, depth + 1) for v in value]
    return type(value).__name__


@pytest.mark.parametrize("method", ["health", "status", "system-presence"])
def test_call_json_matches_official_cli(
    method: str, official_gateway: OfficialGateway, official: OfficialCli, tmp_path: Path
) -> None:
    code, out, err = ours(
        tmp_path,
        "gateway",
        "call",
        method,
        "--json",
        "--url",
        official_gateway.url,
        "--token",
        TOKEN,
    )
    assert code == 0, err
    theirs = official.run(
        "gateway", "call", method, "--json", "--url", official_gateway.url, "--token", TOKEN
    )
    assert theirs.returncode == 0, theirs.describe()
    mine_value, their_value = json.loads(out), theirs.json()
    if method == "system-presence":
        # Same gateway, same self row (ts aside).
        self_mine = [r for r in mine_value if r.get("reason") == "self"]
        self_theirs = [r for r in their_value if r.get("reason") == "self"]  # type: ignore[union-attr]
        assert [{k: v for k, v in r.items() if k != "ts"} for r in self_mine] == [
            {k: v for k, v in r.items() if k != "ts"} for r in self_theirs
        ]
    else:
        assert shape(mine_value) == shape(their_value)


def test_gateway_health_human_matches(
    official_gateway: OfficialGateway, official: OfficialCli, tmp_path: Path
) -> None:
    code, out, err = ours(
        tmp_path, "gateway", "health", "--url", official_gateway.url, "--token", TOKEN
    )
    assert code == 0, err
    theirs = official.run("gateway", "health", "--url", official_gateway.url, "--token", TOKEN)
    assert theirs.returncode == 0, theirs.describe()
    assert out.splitlines()[0] == theirs.stdout.splitlines()[0] == "Gateway Health"
    assert out.splitlines()[1].startswith("OK (")


def test_wrong_token_error_matches(
    official_gateway: OfficialGateway, official: OfficialCli, tmp_path: Path
) -> None:
    code, out, _ = ours(
        tmp_path,
        "gateway",
        "call",
        "health",
        "--json",
        "--url",
        official_gateway.url,
        "--token",
        "wrong-token-interop",
    )
    theirs = official.run(
        "gateway",
        "call",
        "health",
        "--json",
        "--url",
        official_gateway.url,
        "--token",
        "wrong-token-interop",
    )
    assert code == theirs.returncode == 1
    assert json.loads(out) == theirs.json()


def test_unknown_method_error_matches(
    official_gateway: OfficialGateway, official: OfficialCli, tmp_path: Path
) -> None:
    code, out, _ = ours(
        tmp_path,
        "gateway",
        "call",
        "nosuch.method",
        "--json",
        "--url",
        official_gateway.url,
        "--token",
        TOKEN,
    )
    theirs = official.run(
        "gateway",
        "call",
        "nosuch.method",
        "--json",
        "--url",
        official_gateway.url,
        "--token",
        TOKEN,
    )
    assert code == theirs.returncode == 1
    assert json.loads(out) == theirs.json()


async def test_python_client_against_official_gateway(official_gateway: OfficialGateway) -> None:
    async with GatewayClient(official_gateway.url, token=TOKEN, scopes=("operator.read",)) as gw:
        assert gw.hello["type"] == "hello-ok"
        assert gw.hello["protocol"] == 4
        assert gw.hello["auth"]["scopes"] == ["operator.read"]
        presence = await gw.call("system-presence")
        assert any(row.get("reason") == "self" for row in presence)
        health = await gw.call("health", {})
        assert health["ok"] is True


async def test_python_client_device_identity_is_accepted_by_official_gateway(
    official_gateway: OfficialGateway, tmp_path: Path
) -> None:
    """The official gateway verifies our ed25519 signature, pairs the device silently on
    loopback, issues a device token, and accepts that token alone on the next connect."""
    from openclaw_gateway.client import ClientIdentity
    from openclaw_gateway.client.identity import IdentityStore

    store = IdentityStore(tmp_path / "identity")
    # A local `gateway-client`/`backend` client skips pairing altogether, so speak as a CLI.
    cli = ClientIdentity(client_id="cli", mode="cli")
    async with GatewayClient(
        official_gateway.url,
        token=TOKEN,
        scopes=("operator.read",),
        device_store=store,
        identity=cli,
    ) as gw:
        assert gw.hello["auth"]["scopes"] == ["operator.read"]
        issued = gw.hello["auth"].get("deviceToken")
    assert issued, "the official gateway issued no device token to our signed connect"
    assert store.device_token(official_gateway.url, "operator") == issued
    async with GatewayClient(
        official_gateway.url, scopes=("operator.read",), device_store=store, identity=cli
    ) as gw:
        assert gw.hello["auth"]["method"] == "device-token"
        assert (await gw.call("health", {}))["ok"] is True


async def test_our_cli_reuses_a_stored_device_token(
    official_gateway: OfficialGateway, tmp_path: Path
) -> None:
    """Once paired, `gateway call` needs no credentials: it signs with the stored identity
    and presents the device token (what the official CLI does with its own state)."""
    import trio

    from openclaw_gateway.client import ClientIdentity
    from openclaw_gateway.client.identity import IdentityStore

    home = tmp_path / "home"
    store = IdentityStore(home / ".openclaw" / "identity")
    async with GatewayClient(
        official_gateway.url,
        token=TOKEN,
        scopes=("operator.read",),
        device_store=store,
        identity=ClientIdentity(client_id="cli", mode="cli"),
    ):
        pass
    assert store.device_token(official_gateway.url, "operator")
    code, out, err = await trio.to_thread.run_sync(
        lambda: ours(
            tmp_path, "gateway", "call", "health", "--json", "--port", str(official_gateway.port)
        )
    )
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True


def test_probe_json_matches_official_cli(
    official_gateway: OfficialGateway, official: OfficialCli, tmp_path: Path
) -> None:
    code, out, err = ours(
        tmp_path, "gateway", "probe", "--json", "--url", official_gateway.url, "--token", TOKEN
    )
    assert code == 0, err
    theirs = official.run(
        "gateway", "probe", "--json", "--url", official_gateway.url, "--token", TOKEN
    )
    assert theirs.returncode == 0, theirs.describe()
    mine_value, their_value = json.loads(out), theirs.json()
    assert isinstance(their_value, dict)

    def explicit(report: dict[str, Any]) -> dict[str, Any]:
        return next(t for t in report["targets"] if t["id"] == "explicit")

    for key in ("ok", "degraded", "capability", "primaryTargetId"):
        assert mine_value[key] == their_value[key], key
    mine_t, their_t = explicit(mine_value), explicit(their_value)
    assert mine_t["url"] == their_t["url"]
    for key in ("ok", "rpcOk", "scopeLimited"):
        assert mine_t["connect"][key] == their_t["connect"][key], key
    assert mine_t["auth"] == their_t["auth"]
    assert mine_t["server"]["version"] == their_t["server"]["version"]
    assert sorted(w["code"] for w in mine_value["warnings"]) == sorted(
        w["code"] for w in their_value["warnings"]
    )
