"""`gateway probe --ssh-auto` end to end: a gateway (loopback only, full mDNS mode,
OPENCLAW_SSH_PORT) and a real sshd in namespace A; the probe in namespace B discovers the
beacon, tunnels `ssh -N -L` to `root@<host>.local:<sshPort>` and reaches the gateway through it.

B resolves `<host>.local` from a hosts file bind-mounted over /etc/hosts in a private mount
namespace (`unshare -m`), standing in for nss-mdns; nothing on the host changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_gateway.cli import ssh_tunnel
from tests.discovery.netns import (
    TOKEN,
    Namespaces,
    announcing_config,
    clean_env,
    wait_for_line,
    write_config,
)

SSHD = "/usr/sbin/sshd"
KEYGEN = "/usr/bin/ssh-keygen"
PORT = 19651
SSH_PORT = 2299
LABEL = "gwsshauto"
DRIVER = (
    "import json, os, sys\n"
    "from openclaw_gateway.cli.probe_cmd import run_probe\n"
    "sys.exit(run_probe(json.loads(sys.argv[1]), dict(os.environ)))\n"
)


def _sshd_setup(base: Path, listen: str) -> tuple[Path, Path, Path]:
    """(sshd_config, user key, known_hosts) for root login with a generated key."""
    if ssh_tunnel.resolve_ssh_client() is None or not os.access(SSHD, os.X_OK):
        pytest.skip("!!! SSH AUTO TEST SKIPPED: openssh-server/openssh-client missing !!!")
    if shutil.which("unshare") is None:
        pytest.skip("!!! SSH AUTO TEST SKIPPED: util-linux `unshare` missing !!!")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host_key, user_key = base / "host_key", base / "user_key"
    for key in (host_key, user_key):
        subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = base / "authorized_keys"
    shutil.copy(f"{user_key}.pub", authorized)
    authorized.chmod(0o600)
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {SSH_PORT}",
                f"ListenAddress {listen}",
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
    known_hosts.write_text(f"[{LABEL}.local]:{SSH_PORT} {Path(f'{host_key}.pub').read_text()}")
    return config, user_key, known_hosts


def test_probe_ssh_auto_tunnels_to_the_discovered_gateway(pair: Namespaces, tmp_path: Path) -> None:
    ip_a = pair.addresses[0]
    sshd_dir = tmp_path / "sshd"
    sshd_dir.mkdir()
    config, user_key, known_hosts = _sshd_setup(sshd_dir, ip_a)
    sshd = pair.popen(0, [SSHD, "-D", "-e", "-f", str(config)], clean_env(sshd_dir))
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    write_config(home_a, announcing_config(home_a, mdns={"mode": "full"}))
    env_a = clean_env(
        home_a,
        OPENCLAW_GATEWAY_TOKEN=TOKEN,
        OPENCLAW_MDNS_HOSTNAME=LABEL,
        OPENCLAW_SSH_PORT=str(SSH_PORT),
    )
    gateway = pair.start_gateway(0, env_a, "--port", str(PORT), "--bind", "loopback")
    wait_for_line(gateway, "bonjour: advertised", 20)
    assert sshd.popen.poll() is None, sshd.output()

    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{ip_a} {LABEL}.local\n")
    home_b.mkdir()
    opts = {
        "ssh_auto": True,
        "port": str(PORT),
        "token": TOKEN,
        "json": True,
        "timeout": "6000",
        "ssh_identity": str(user_key),
        "ssh_options": [
            "-F",
            "none",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ],
    }
    argv = [
        "unshare",
        "-m",
        "sh",
        "-c",
        'mount --bind "$0" /etc/hosts && exec "$@"',
        str(hosts),
        sys.executable,
        "-c",
        DRIVER,
        json.dumps(opts),
    ]
    done = pair.run(1, argv, clean_env(home_b, USER="root"), timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(done.stdout)
    target = f"root@{LABEL}.local:{SSH_PORT}"
    assert body["discovery"]["count"] == 1
    assert body["discovery"]["beacons"] == [
        {
            "instanceName": f"{os.uname().nodename.removesuffix('.local')} (OpenClaw)",
            "displayName": os.uname().nodename.removesuffix(".local"),
            "domain": "local.",
            "host": f"{LABEL}.local",
            "lanHost": f"{LABEL}.local",
            "tailnetDns": None,
            "gatewayPort": PORT,
            "sshPort": SSH_PORT,
            "wsUrl": f"ws://{LABEL}.local:{PORT}",
        }
    ]
    assert body["ok"] is True and body["primaryTargetId"] == "sshTunnel", body
    assert [w["code"] for w in body["warnings"] if w["code"] == "ssh_tunnel_failed"] == []
    [tunneled] = body["targets"]  # same local URL as localLoopback: de-duplicated
    assert tunneled["id"] == "sshTunnel" and tunneled["connect"]["ok"] is True
    assert tunneled["tunnel"]["target"] == target
    assert tunneled["tunnel"]["remotePort"] == PORT
    assert tunneled["server"]["version"]
