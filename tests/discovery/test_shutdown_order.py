"""Shutdown order with a real announcer and the recording fake tailscale, in one lo-only
namespace: the Bonjour goodbye goes out while the gateway still accepts, the listeners close,
and only then does the tailscale route claim get SIGTERM.

The raw mDNS sniffer and the fake tailscale append to the same log (calls.jsonl), so its line
order is the order things happened; each entry also records whether the listener accepted at
that moment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.discovery.netns import (
    TOKEN,
    Namespaces,
    announcing_config,
    clean_env,
    stop,
    wait_for_line,
    write_config,
)
from tests.server.tailscale.fake import install

PORT = 19641


def test_goodbye_before_listener_close_before_tailscale_teardown(
    solo: Namespaces, tmp_path: Path
) -> None:
    fake = install(tmp_path / "bin")
    home = tmp_path / "home"
    write_config(home, announcing_config(home))
    env = clean_env(
        home,
        OPENCLAW_GATEWAY_TOKEN=TOKEN,
        OPENCLAW_MDNS_HOSTNAME="gworder",
        # Shorter than the ~1.7 s of probing: the start is not held up, and says so.
        OPENCLAW_GATEWAY_DISCOVERY_ADVERTISE_TIMEOUT_MS="300",
        PATH=f"{fake.directory}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    solo.start_sniffer(0, fake.directory / "calls.jsonl", PORT)
    gateway = solo.start_gateway(
        0, env, "--port", str(PORT), "--bind", "loopback", "--tailscale", "serve"
    )
    wait_for_line(gateway, "bonjour: advertised", 20)
    assert stop(gateway) == 0, gateway.output()
    deadline = time.monotonic() + 5
    while not any(c[:1] == ["SIGTERM"] for c in fake.calls()) and time.monotonic() < deadline:
        time.sleep(0.05)
    calls = fake.calls()
    events = [c for c in calls if c[:1] in (["MDNS"], ["SIGTERM"])]
    instance = f"{os.uname().nodename.removesuffix('.local')} (OpenClaw)._openclaw-gw._tcp.local."
    assert events[0] == ["MDNS", "announce", instance, "listener=open"], calls
    goodbye = events.index(["MDNS", "goodbye", instance, "listener=open"])
    sigterm = events.index(["SIGTERM", "serve", "listener=closed"])
    assert goodbye < sigterm, calls
    # Every goodbye the sniffer saw came while the gateway still accepted.
    assert not any(c[:2] == ["MDNS", "goodbye"] and c[3] != "listener=open" for c in events)
    output = gateway.output()
    assert "[shutdown] completed cleanly" in output
    timed_out = (
        "[discovery] gateway discovery service timed out after 300ms (bonjour, plugin=bonjour); "
        "continuing startup"
    )
    late = "[discovery] gateway discovery service completed after startup timeout"
    assert output.index(timed_out) < output.index("bonjour: advertised") < output.index(late)
    assert output.index("[gateway] ready") < output.index("bonjour: advertised")  # not held up
