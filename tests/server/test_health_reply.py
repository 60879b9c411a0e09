"""`health` answers from its cache: between a refresh and the next event-loop sample the reply
is encoded once and reused; a sample, a probe or a live Tailscale row makes a new one."""

from __future__ import annotations

import io
import json
from pathlib import Path

from openclaw_gateway.core.logs import Logger
from openclaw_gateway.protocol import codec
from openclaw_gateway.server.rpc.context import CallContext, Caller, GatewayState
from openclaw_gateway.server.rpc.methods.system import health, refresh_health
from openclaw_gateway.state.presence import PresenceTable


def _context(tmp_path: Path) -> CallContext:
    logger = Logger(stdout=io.StringIO(), stderr=io.StringIO())
    state = GatewayState(
        version="0.1.0",
        logger=logger,
        presence=PresenceTable({}, 0),
        config_path=tmp_path / "openclaw.json",
        state_dir=tmp_path,
        auth_mode="token",
        log_file=None,
    )
    refresh_health(state)
    return CallContext(state, Caller("c1", "operator", ("operator.read",), "cli", "cli", "::1"))


def _decoded(reply: object) -> dict[str, object]:
    text = reply.text if isinstance(reply, codec.Encoded) else codec.encode(reply)
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def test_the_reply_is_reused_until_a_loop_sample_lands(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    first = health(ctx, {})
    assert health(ctx, {}) is first  # the same encoded bytes
    ctx.state.loop.record(1234.0, window_ms=1000.0, utilization=0.5, cpu_core_ratio=0.1, now_ms=1)
    later = health(ctx, {})
    assert later is not first
    event_loop = _decoded(later)["eventLoop"]
    assert isinstance(event_loop, dict) and event_loop["delayMaxMs"] == 1234.0
    assert event_loop["degraded"] is True and event_loop["reasons"] == ["event_loop_delay"]


def test_a_probe_and_a_tailscale_row_are_never_served_stale(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    first = health(ctx, {})
    probed = health(ctx, {"probe": True})
    assert probed is not first and _decoded(probed)["ts"] >= _decoded(first)["ts"]
    ctx.state.tailscale = {"mode": "serve", "state": "up"}
    live = _decoded(health(ctx, {}))
    assert live["tailscale"] == {"mode": "serve", "state": "up"}
    ctx.state.tailscale["state"] = "failed"
    assert _decoded(health(ctx, {}))["tailscale"] == {"mode": "serve", "state": "failed"}
