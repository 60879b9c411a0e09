"""`gateway probe --ssh` through a REAL OpenSSH server started here on 127.0.0.1.

The server gets a generated host key and a generated user key (authorized for root, the CI
user); the client gets `-F none`, a known_hosts file holding exactly that host key, and the
user key via --ssh-identity. Needs openssh-server + openssh-client (the CI installs them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from openclaw_gateway.cli import ssh_tunnel
from openclaw_gateway.cli.ssh_tunnel import (
    SshTunnelError,
    open_ssh_tunnel,
    parse_ssh_target,
    resolve_ssh_client,
)
from tests.cli.probe.support import cli_env, free_port, probe
from tests.helpers import TOKEN, RunningGateway

SSHD = "/usr/sbin/sshd"
KEYGEN = "/usr/bin/ssh-keygen"
INSTALL_HINT = "install it with: apt-get install -y openssh-server openssh-client"


@attrs.frozen
class Sshd:
    port: int
    user_key: Path
    known_hosts: Path

    @property
    def target(self) -> str:
        return f"root@127.0.0.1:{self.port}"

    def client_options(self, known_hosts: Path | None = None) -> list[str]:
        return [
            "-F",
            "none",
            "-o",
            f"UserKnownHostsFile={known_hosts or self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ]


def _loud_skip(reason: str) -> None:
    pytest.skip(f"!!! SSH TUNNEL TEST SKIPPED: {reason} !!!")


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if resolve_ssh_client() is None:
        _loud_skip(f"no ssh client in {ssh_tunnel.SYSTEM_DIRS}; {INSTALL_HINT}")
    if not (os.access(SSHD, os.X_OK) and os.access(KEYGEN, os.X_OK)):
        _loud_skip(f"{SSHD} or {KEYGEN} missing; {INSTALL_HINT}")
    if os.geteuid() != 0:
        _loud_skip("sshd needs root here (privilege separation, login as root)")
    with contextlib.suppress(FileExistsError):
        os.mkdir("/run/sshd", 0o755)  # sshd's privilege separation directory
    base = tmp_path_factory.mktemp("sshd")
    host_key, user_key = base / "host_key", base / "user_key"
    for key in (host_key, user_key):
        subprocess.run(
            [KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30
        )
    authorized = base / "authorized_keys"
    shutil.copy(f"{user_key}.pub", authorized)
    authorized.chmod(0o600)
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {base / 'sshd.pid'}",
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "AllowTcpForwarding yes",
                "",
            ]
        )
    )
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {Path(f'{host_key}.pub').read_text()}")
    log_path = base / "sshd.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while not _accepts(port):
            if server.poll() is not None or time.monotonic() > deadline:
                _loud_skip(f"sshd could not run: {log_path.read_text(errors='replace')[-500:]}")
            time.sleep(0.05)
        yield Sshd(port, user_key, known_hosts)
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _gone(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"ssh" not in cmdline or b"-N" not in cmdline


async def test_probe_reaches_gateway_through_ssh_tunnel(
    gateway: RunningGateway, sshd: Sshd, tmp_path: Path
) -> None:
    opts: dict[str, Any] = {
        "ssh": sshd.target,
        "ssh_identity": str(sshd.user_key),
        "port": str(gateway.port),
        "token": TOKEN,
        "json": True,
        "ssh_options": sshd.client_options(),
    }
    code, out, err = await probe(opts, cli_env(tmp_path))
    assert code == 0, err
    body = json.loads(out)
    ssh_target = body["targets"][0]
    assert ssh_target["id"] == "sshTunnel" and ssh_target["kind"] == "sshTunnel"
    assert ssh_target["active"] is True
    tunnel = ssh_target["tunnel"]
    assert tunnel["kind"] == "ssh" and tunnel["target"] == sshd.target
    assert tunnel["remotePort"] == gateway.port
    # The gateway holds its port here, so the tunnel had to take an ephemeral one.
    assert tunnel["localPort"] != gateway.port
    assert ssh_target["url"] == f"ws://127.0.0.1:{tunnel['localPort']}"
    assert ssh_target["connect"]["ok"] is True
    assert ssh_target["auth"]["capability"] == "connected_no_operator_scope"
    assert body["primaryTargetId"] == "sshTunnel"
    assert "ssh_tunnel_failed" not in [w["code"] for w in body["warnings"]]
    assert isinstance(tunnel["pid"], int) and _gone(tunnel["pid"])
    assert not (await trio.to_thread.run_sync(_accepts, tunnel["localPort"]))

    opts.pop("json")
    code, out, _ = await probe(opts, cli_env(tmp_path))
    assert code == 0
    assert "Remote over SSH ws://127.0.0.1:" in out
    assert f"  ssh: {sshd.target}\n" in out


async def test_tunnel_context_manager_forwards_and_stops(
    gateway: RunningGateway, sshd: Sshd
) -> None:
    with trio.fail_after(20):
        async with open_ssh_tunnel(
            sshd.target,
            gateway.port,
            str(sshd.user_key),
            5.0,
            extra_args=sshd.client_options(),
        ) as tunnel:
            stream = await trio.open_tcp_stream("127.0.0.1", tunnel.local_port)
            await stream.send_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = b""
            while chunk := await stream.receive_some(4096):
                reply += chunk
            await stream.aclose()
            pid = tunnel.pid
        assert reply.startswith(b"HTTP/1.1 200")
        assert pid is not None and _gone(pid)


async def test_unknown_host_key_is_refused(
    gateway: RunningGateway, sshd: Sshd, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    with trio.fail_after(20), pytest.raises(SshTunnelError) as info:
        async with open_ssh_tunnel(
            sshd.target,
            gateway.port,
            str(sshd.user_key),
            5.0,
            extra_args=sshd.client_options(empty),
        ):
            pass
    message = str(info.value)
    assert message.startswith("ssh exited (255)\n")
    assert "Host key verification failed." in message


async def test_refused_ssh_port_reports_exit_and_stderr(tmp_path: Path) -> None:
    if resolve_ssh_client() is None:
        _loud_skip(f"no ssh client; {INSTALL_HINT}")
    port = free_port()
    with trio.fail_after(20), pytest.raises(SshTunnelError) as info:
        async with open_ssh_tunnel(
            f"root@127.0.0.1:{port}", 18789, None, 5.0, extra_args=["-F", "none"]
        ):
            pass
    assert str(info.value).startswith("ssh exited (255)\n")
    assert f"port {port}: Connection refused" in str(info.value)


async def test_tunnel_errors_without_a_trusted_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssh_tunnel, "SYSTEM_DIRS", ())
    with pytest.raises(
        SshTunnelError, match=r"^trusted SSH client not found in system directories$"
    ):
        async with open_ssh_tunnel("root@127.0.0.1:22", 18789):
            pass
    with pytest.raises(SshTunnelError, match=r"^invalid SSH target: -oProxyCommand=x$"):
        async with open_ssh_tunnel("-oProxyCommand=x", 18789):
            pass


def test_parse_ssh_target() -> None:
    assert parse_ssh_target("root@host:2222") == ssh_tunnel.SshTarget("root", "host", 2222)
    assert parse_ssh_target("ssh  host") == ssh_tunnel.SshTarget(None, "host", 22)
    assert parse_ssh_target("u@h:0") is None
    assert parse_ssh_target("u@h:70000") is None
    assert parse_ssh_target("-evil") is None
    assert parse_ssh_target("-u@host") is None
    assert parse_ssh_target("u@ho st") is None
    assert parse_ssh_target("") is None
