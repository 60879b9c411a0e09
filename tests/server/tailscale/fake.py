"""A recording fake `tailscale` executable, written into tmp_path and put first on PATH.

Every call appends its argv (a JSON list) to `calls.jsonl`; the claim also records the SIGTERM
it receives and whether the gateway's listener (its target port) still accepted at that moment.
The scenario lives in `fake.json` beside the script, so a test can change it between calls.
A recording fake `sudo` sits beside it; its calls are logged as ["sudo", ...].
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import attrs

SCRIPT = r"""#!__PYTHON__
import json, os, signal, socket, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = json.load(open(os.path.join(HERE, "fake.json")))
LOG = os.path.join(HERE, "calls.jsonl")
args = sys.argv[1:]


def log(entry):
    with open(LOG, "a") as fh:
        fh.write(json.dumps(entry) + "\n")


log(args)
if args == ["version"]:
    print("1.80.2\n  tailscale commit: fake")
    sys.exit(0)
if args == ["status", "--json"]:
    counter = LOG + ".status"
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(n + 1))
    states = CONF.get("backend_states", [])
    state = states[n] if n < len(states) else "Running"
    me = {"TailscaleIPs": ["100.101.102.103", "fd7a:115c:a1e0::1"]}
    if CONF.get("dns", "fakehost.tail1234.ts.net.") is not None:
        me["DNSName"] = CONF.get("dns", "fakehost.tail1234.ts.net.")
    print("noise before the object")
    print(json.dumps({"BackendState": state, "Self": me}))
    sys.exit(0)
elevated = os.environ.get("FAKE_TAILSCALE_ELEVATED") == "1"  # set by the fake sudo
if args[:2] == ["serve", "status"]:
    if CONF.get("serve_status") == "permission" and not elevated:
        print("Access denied: serve config denied", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(CONF.get("serve_config", {})))
    sys.exit(0)
if args[:2] == ["serve", "--yes"] and args[-1] == "off":
    sys.exit(0)
if args[1:] == ["reset"]:
    sys.exit(0)
if args and args[0] in ("serve", "funnel"):
    claim = CONF.get("claim", "ready")
    with open(os.path.join(HERE, "claims.pids"), "a") as fh:  # for the test's cleanup
        fh.write(str(os.getpid()) + "\n")

    def on_term(signum, frame):
        try:
            with socket.create_connection(("127.0.0.1", int(args[-1])), timeout=0.5):
                listener = "open"
        except OSError:
            listener = "closed"
        log(["SIGTERM", args[0], "listener=" + listener])
        if claim == "ignore_term":
            return
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    if claim == "exit_early":
        print("serve: something went wrong", file=sys.stderr)
        sys.exit(1)
    if claim == "conflict":
        print("listener already exists for port 443", file=sys.stderr)
        sys.exit(1)
    if claim in ("ready", "die", "ignore_term"):
        print("Available within your tailnet:\n\nhttps://fakehost.tail1234.ts.net/")
        print("|-- proxy http://127.0.0.1:" + args[-1] + "\n")
        print("Press Ctrl+C to exit.", flush=True)
    if claim == "die":
        time.sleep(float(CONF.get("die_after", 0.3)))
        print("claim lost", file=sys.stderr, flush=True)
        sys.exit(3)
    while True:
        time.sleep(0.05)
print("unexpected: " + " ".join(args), file=sys.stderr)
sys.exit(2)
"""


SUDO = r"""#!__PYTHON__
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = json.load(open(os.path.join(HERE, "fake.json")))
with open(os.path.join(HERE, "calls.jsonl"), "a") as fh:
    fh.write(json.dumps(["sudo"] + sys.argv[1:]) + "\n")
if CONF.get("sudo", "password") == "password" or sys.argv[1:2] != ["-n"]:
    print("sudo: a password is required", file=sys.stderr)
    sys.exit(1)
os.environ["FAKE_TAILSCALE_ELEVATED"] = "1"
os.execv(sys.argv[2], sys.argv[2:])
"""


@attrs.define
class FakeTailscale:
    directory: Path

    @property
    def binary(self) -> Path:
        return self.directory / "tailscale"

    def configure(self, **scenario: Any) -> None:
        (self.directory / "fake.json").write_text(json.dumps(scenario))

    def calls(self) -> list[list[str]]:
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line]

    def commands(self) -> list[list[str]]:
        """Calls without the SIGTERM records."""
        return [c for c in self.calls() if c[:1] != ["SIGTERM"]]

    def kill_claims(self) -> None:
        """SIGKILL any claim still alive: a test that SIGKILLs its gateway orphans the claim
        (its own process group, as in production), and a failing test must not leak it."""
        pids = self.directory / "claims.pids"
        if not pids.exists():
            return
        for line in pids.read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line), signal.SIGKILL)

    def claim_port(self) -> int:
        """The port the (last) route claim pointed Tailscale at: the managed ingress."""
        claims = [
            c for c in self.commands() if c[:1] in (["serve"], ["funnel"]) and "--bg=false" in c
        ]
        assert claims, self.calls()
        return int(claims[-1][-1])

    def wait_for_call(self, predicate: Any, timeout: float = 10.0) -> list[str]:
        """Blocking (for subprocess tests): until a recorded call matches."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls():
                if predicate(call):
                    return call
            time.sleep(0.02)
        raise AssertionError(f"no matching call in {self.calls()}")


def install(directory: Path, **scenario: Any) -> FakeTailscale:
    directory.mkdir(parents=True, exist_ok=True)
    fake = FakeTailscale(directory)
    fake.binary.write_text(SCRIPT.replace("__PYTHON__", sys.executable))
    fake.binary.chmod(0o755)
    # A recording `sudo` beside it, so the `sudo -n` retry never depends on the machine's sudo
    # (scenario "sudo": "password" (default) refuses non-interactively, "exec" elevates).
    sudo = directory / "sudo"
    sudo.write_text(SUDO.replace("__PYTHON__", sys.executable))
    sudo.chmod(0o755)
    fake.configure(**scenario)
    return fake
