"""The official CLI (npm openclaw 2026.9.6) obtains an operator device token from OUR gateway and
reuses it in `gateway status` / `gateway probe` (protocol.md §4.5, §4.6, §11.1, §11.3).

How the official CLI comes to hold an operator device token (read from the compiled JS):
- `gateway call`, `gateway health`, `devices ...`, `gateway status`, `gateway probe` all run their
  GatewayClient with `sharedStateMode: "read-only"`: the identity is only loaded if present and a
  hello-ok deviceToken is never stored (client-CpsABkfT.mjs createOpenClawGatewayClientHostDeps,
  gateway-cli-C-ulFTjb.mjs callGatewayReadOnlyCli, devices-cli.runtime-DvO5Xmu6.mjs callGatewayCli).
- `openclaw tui` builds a GatewayClient without a shared-state mode (gateway-chat-yEQapDlR.mjs,
  client id `openclaw-tui`, mode `ui`, scopes admin/read/write/approvals): the client creates the
  "primary" ed25519 identity (client-CpsABkfT.mjs `loadOrCreateDeviceIdentity`), signs its connect
  and stores hello-ok.auth.deviceToken for the role `operator`. Without a URL override (and not in
  remote mode) it is stored unscoped in `device_auth_tokens`; with `--url` it is stored per origin
  in `gateway_origin_device_tokens` (client-bootstrap-CLPWXYGj.mjs `deviceAuthScope`).
- `gateway status` and `gateway probe`'s local-loopback target then send the device only if that
  identity and an unscoped operator token exist (probe-BwprAQ9g.mjs `probeGateway`); an explicit
  `gateway probe --url` target looks up the per-origin token instead
  (gateway-status-hU9WeU9M.mjs `originScopedDeviceAuth`), while `gateway status --url` to a
  loopback URL still looks up the unscoped one (probe-BwprAQ9g.mjs `resolveProbeDeviceAuthScope`).
- The node host shares the "primary" identity but stores a `node` token, which these lookups
  (role `operator`) do not use.

So the test drives the official TUI (in a pseudo-terminal, killed once the token is stored),
then the official `gateway status` / `gateway probe`. A device-less probe gets its scopes cleared
(connect-only); with the paired device the same command must report read-only.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import pty
import re
import signal
import sqlite3
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from openclaw_gateway.state.store import Store, db_path
from tests.interop.conftest import (
    STOP_TIMEOUT_S,
    CliResult,
    GatewayProcess,
    OfficialCli,
    _clean_env,
    _which,
    _write_config,
)

pytestmark = pytest.mark.interop
WAIT_S = 40.0
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def _cli(
    official_path: str,
    base: Path,
    gw: GatewayProcess,
    *,
    shared_token: bool,
) -> OfficialCli:
    """An official CLI HOME configured for a local gateway on our port (like a local install)."""
    home = base / "home"
    gateway: dict[str, Any] = {"mode": "local", "port": gw.port}
    if shared_token:
        gateway["auth"] = {"mode": "token", "token": gw.token}
    _write_config(home, {"gateway": gateway, "logging": {"file": str(base / "cli.log")}})
    tmpdir = base / "tmp"
    tmpdir.mkdir(exist_ok=True)
    return OfficialCli(official_path, home, tmpdir)


def _set_shared_token(cli: OfficialCli, gw: GatewayProcess, enabled: bool) -> None:
    path = cli.home / ".openclaw" / "openclaw.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if enabled:
        config["gateway"]["auth"] = {"mode": "token", "token": gw.token}
    else:
        config["gateway"].pop("auth", None)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _client_rows(cli: OfficialCli, table: str) -> list[dict[str, Any]]:
    """Rows of the official CLI's own state DB (protocol.md §4.7), read-only; [] if absent."""
    path = cli.home / ".openclaw" / "state" / "openclaw.sqlite"
    if not path.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(f"SELECT * FROM {table}")]
    except sqlite3.Error:
        return []  # not created yet, or locked by the writer


def _run_tui_until(cli: OfficialCli, table: str, *args: str) -> list[dict[str, Any]]:
    """Runs `openclaw tui ARGS` in a pseudo-terminal until an operator token row appears in
    TABLE of its state DB, then kills its whole process group. Returns those rows."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = _clean_env() | {
        "HOME": str(cli.home),
        "TMPDIR": str(cli.tmpdir),
        "PATH": cli.path_fragment + os.pathsep + os.environ.get("PATH", ""),
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "TERM": "xterm-256color",
    }
    screen: list[bytes] = []

    def drain() -> None:  # keep the pty from filling up; keep the text for failure messages
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            screen.append(data)

    try:
        proc = subprocess.Popen(
            [_which("openclaw", cli.path_fragment), "tui", *args],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cli.tmpdir,
            start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(slave)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and proc.poll() is None:
            rows = [r for r in _client_rows(cli, table) if r["role"] == "operator"]
            if rows:
                break
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)
        reader.join(timeout=5)
        os.close(master)
    if not rows:
        text = _ANSI.sub("", b"".join(screen).decode(errors="replace"))[-3000:]
        pytest.fail(
            f"the official TUI stored no operator device token in {table} within {WAIT_S}s "
            f"(exit {proc.returncode})\n--- screen (tail) ---\n{text}"
        )
    return rows


def _identity(cli: OfficialCli) -> dict[str, Any]:
    rows = _client_rows(cli, "device_identities")
    assert [r["identity_key"] for r in rows] == ["primary"], rows
    row = rows[0]
    public = serialization.load_pem_public_key(row["public_key_pem"].encode())
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert hashlib.sha256(raw).hexdigest() == row["device_id"]
    row["publicKeyB64Url"] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return row


def _paired(gw: GatewayProcess, device_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """OUR gateway's paired record and tokens for DEVICE_ID."""
    store = Store(db_path(gw.base / "home" / ".openclaw"))
    try:
        rows = [p for p in store.list_paired() if p["deviceId"] == device_id]
        assert len(rows) == 1, (device_id, store.list_paired(), gw.output())
        return rows[0], store.tokens_for(device_id)
    finally:
        store.close()


def _ok_json(result: CliResult) -> Any:
    assert result.returncode == 0, result.describe()
    return result.json()


def _assert_status(result: CliResult, gw: GatewayProcess, capability: str) -> None:
    rpc = _ok_json(result)["rpc"]
    assert rpc["ok"] is True, rpc
    assert rpc["url"] == gw.url
    assert rpc["capability"] == capability, rpc
    scopes = ["operator.read"] if capability == "read_only" else []
    assert rpc["auth"] == {"role": "operator", "scopes": scopes, "capability": capability}, rpc


def _assert_probe(result: CliResult, gw: GatewayProcess, target_id: str, capability: str) -> None:
    report = _ok_json(result)
    assert report["ok"] is True, report
    assert report["primaryTargetId"] == target_id
    assert [t["id"] for t in report["targets"]] == [target_id], report["targets"]
    target = report["targets"][0]
    assert target["url"] == gw.url
    assert target["connect"]["ok"] is True, target["connect"]
    assert report["capability"] == capability, report
    assert target["auth"]["capability"] == capability
    if capability == "read_only":
        assert target["auth"]["scopes"] == ["operator.read"]
        assert target["connect"]["rpcOk"] is True, target["connect"]
        assert target["connect"]["scopeLimited"] is False
        assert report["warnings"] == []
    else:
        assert target["auth"]["scopes"] == []
        assert target["connect"]["scopeLimited"] is True
        assert [w["code"] for w in report["warnings"]] == ["probe_scope_limited"]


def test_read_only_commands_never_create_an_identity(
    official_path: str, gateway_proc: GatewayProcess, tmp_path: Path
) -> None:
    """Without a stored identity + operator token, status/probe/call go device-less: our
    gateway clears the probe's scopes (connect-only), and nothing is written client-side."""
    cli = _cli(official_path, tmp_path, gateway_proc, shared_token=True)
    _assert_status(
        cli.run("gateway", "status", "--json"), gateway_proc, "connected_no_operator_scope"
    )
    _assert_probe(
        cli.run("gateway", "probe", "--json"),
        gateway_proc,
        "localLoopback",
        "connected_no_operator_scope",
    )
    health = _ok_json(cli.run("gateway", "call", "health", "--json"))
    assert health["ok"] is True
    assert _client_rows(cli, "device_identities") == []
    assert _client_rows(cli, "device_auth_tokens") == []
    assert _client_rows(cli, "gateway_origin_device_tokens") == []


def test_tui_pairs_then_status_and_probe_reuse_the_device_token(
    official_path: str, gateway_proc: GatewayProcess, tmp_path: Path
) -> None:
    cli = _cli(official_path, tmp_path, gateway_proc, shared_token=True)
    # 1. The TUI (local target from config, shared token from config) creates the identity,
    #    signs, is silently paired by our gateway and stores the operator token unscoped.
    tokens = _run_tui_until(cli, "device_auth_tokens")
    identity = _identity(cli)
    device_id = identity["device_id"]
    assert [(r["device_id"], r["role"]) for r in tokens] == [(device_id, "operator")]
    client_token = tokens[0]["token"]
    assert "operator.read" in json.loads(tokens[0]["scopes_json"])
    assert _client_rows(cli, "gateway_origin_device_tokens") == []

    record, issued = _paired(gateway_proc, device_id)
    assert record["publicKey"] == identity["publicKeyB64Url"]
    assert (record["clientId"], record["clientMode"], record["role"], record["approvedVia"]) == (
        "openclaw-tui",
        "ui",
        "operator",
        "silent",
    )
    assert issued["operator"]["token"] == client_token
    assert "lastUsedAtMs" not in issued["operator"]

    # 2. With the shared token still configured, status/probe now sign with the stored identity
    #    (auth by the shared token), so the probe's operator.read survives: read-only.
    _assert_status(cli.run("gateway", "status", "--json"), gateway_proc, "read_only")
    _assert_probe(cli.run("gateway", "probe", "--json"), gateway_proc, "localLoopback", "read_only")
    text = cli.run("gateway", "status")
    assert text.returncode == 0, text.describe()
    assert "Capability: read-only" in text.stdout, text.describe()
    _, issued = _paired(gateway_proc, device_id)
    assert "lastUsedAtMs" not in issued["operator"]  # the shared secret authenticated

    # 3. Without any shared secret the stored device token alone authenticates them.
    _set_shared_token(cli, gateway_proc, enabled=False)
    _assert_status(cli.run("gateway", "status", "--json"), gateway_proc, "read_only")
    _, issued = _paired(gateway_proc, device_id)
    used = issued["operator"].get("lastUsedAtMs")
    assert isinstance(used, int), issued
    _assert_probe(cli.run("gateway", "probe", "--json"), gateway_proc, "localLoopback", "read_only")
    _, issued = _paired(gateway_proc, device_id)
    assert issued["operator"]["lastUsedAtMs"] >= used
    assert issued["operator"]["token"] == client_token  # reused, not rotated

    # The read-only commands reused the identity and left the client's token untouched.
    assert _identity(cli)["device_id"] == device_id
    assert _identity(cli)["created_at_ms"] == identity["created_at_ms"]
    assert [r["token"] for r in _client_rows(cli, "device_auth_tokens")] == [client_token]


def test_tui_with_url_pairs_per_origin_which_only_probe_url_uses(
    official_path: str, gateway_proc: GatewayProcess, tmp_path: Path
) -> None:
    """`tui --url` stores the token per gateway origin: `gateway probe --url` (explicit target)
    uses it; `gateway status --url` to a loopback URL looks up the unscoped table and so stays
    device-less (official client behaviour, not ours)."""
    cli = _cli(official_path, tmp_path, gateway_proc, shared_token=False)
    creds = ("--url", gateway_proc.url, "--token", gateway_proc.token)
    rows = _run_tui_until(cli, "gateway_origin_device_tokens", *creds)
    device_id = _identity(cli)["device_id"]
    assert [(r["gateway_scope"], r["device_id"]) for r in rows] == [(gateway_proc.url, device_id)]
    assert _client_rows(cli, "device_auth_tokens") == []
    _, issued = _paired(gateway_proc, device_id)
    assert issued["operator"]["token"] == rows[0]["token"]

    _assert_probe(
        cli.run("gateway", "probe", "--json", *creds), gateway_proc, "explicit", "read_only"
    )
    _assert_status(
        cli.run("gateway", "status", "--json", *creds),
        gateway_proc,
        "connected_no_operator_scope",
    )
