"""The official node host (npm openclaw 2026.9.6) signs its connect with its own ed25519
identity: OUR gateway must verify that proof, pair it (silently: a local node with the shared
token), issue a node device token, and accept that token when the node host reconnects without
the shared secret (protocol.md §4, §11.1).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.security.devices import raw_public_key
from openclaw_gateway.state.store import Store, db_path
from tests.interop.conftest import GatewayProcess, _clean_env, _which

pytestmark = pytest.mark.interop
WAIT_S = 40.0


def _node_host(
    official_path: str, home: Path, port: int, token: str | None
) -> subprocess.Popen[bytes]:
    env = _clean_env() | {
        "HOME": str(home),
        "TMPDIR": str(home),
        "PATH": official_path + os.pathsep + os.environ.get("PATH", ""),
        "NO_COLOR": "1",
    }
    if token is not None:
        env["OPENCLAW_GATEWAY_TOKEN"] = token
    out = (home / f"node-{token is not None}.log").open("wb")
    try:
        return subprocess.Popen(
            [_which("openclaw", official_path), "node", "run", "--host", "127.0.0.1",
             "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=home, start_new_session=True,
        )  # fmt: skip
    finally:
        out.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _wait_for(gw: GatewayProcess, probe: Callable[[Store], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        path = db_path(gw.base / "home" / ".openclaw")
        if path.exists():
            store = Store(path)
            try:
                found = probe(store)
            finally:
                store.close()
            if found:
                return found
        time.sleep(0.2)
    pytest.fail(f"condition not reached within {WAIT_S}s\n{gw.output()}")


def _wait_for_client_token(home: Path) -> None:
    """The node host keeps the token hello-ok gave it in its own state DB (protocol.md §4.6)."""
    path = home / ".openclaw" / "state" / "openclaw.sqlite"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if path.exists():
            try:
                with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                    if db.execute("SELECT role FROM device_auth_tokens").fetchall():
                        return
            except sqlite3.Error:
                pass  # not created yet, or locked by the writer
        time.sleep(0.2)
    pytest.fail("the official node host never stored the device token we issued")


def _node_record(store: Store) -> Any:
    rows = [p for p in store.list_paired() if p.get("clientId") == "node-host"]
    return (rows[0], store.tokens_for(rows[0]["deviceId"])) if rows else None


def test_official_node_host_signs_pairs_and_reconnects_with_its_device_token(
    official_path: str, gateway_proc: GatewayProcess, tmp_path: Path
) -> None:
    home = tmp_path / "node-home"
    home.mkdir()
    first = _node_host(official_path, home, gateway_proc.port, gateway_proc.token)
    try:
        record, tokens = _wait_for(gateway_proc, _node_record)
        _wait_for_client_token(home)
    finally:
        _stop(first)
    # The signature verified (else no row), and the id is the hash of the key it presented.
    raw = raw_public_key(record["publicKey"])
    assert raw is not None
    assert hashlib.sha256(raw).hexdigest() == record["deviceId"]
    assert (record["role"], record["approvedVia"], record["clientMode"]) == (
        "node",
        "silent",
        "node",
    )
    assert tokens["node"]["scopes"] == []
    assert "lastUsedAtMs" not in tokens["node"]

    # Without the shared secret the node host falls back to the device token we issued.
    second = _node_host(official_path, home, gateway_proc.port, None)
    try:
        used = _wait_for(
            gateway_proc,
            lambda s: (_node_record(s) or (None, {}))[1].get("node", {}).get("lastUsedAtMs"),
        )
    finally:
        _stop(second)
    assert isinstance(used, int)
