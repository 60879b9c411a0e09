"""Shared builders for the sans-IO unit tests: connect params, frames and peers.

Requests are built by running real JSON text through `handshake.read_connect`, so every
`ConnectRequest` a test uses is one the gateway could actually have received.
"""

from __future__ import annotations

import json
from typing import Any

from openclaw_gateway.protocol.handshake import ConnectRequest, read_connect
from openclaw_gateway.security.auth import AuthPolicy
from openclaw_gateway.server.admission import Peer

TOKEN = "tok-3f9a1c7e5b2d4a6c8e0f"
PASSWORD = "pw-9b8c7d6e5f4a3b2c1d0e"
REQUEST_ID = "1:7f1c2d3e-0000-4000-8000-000000000001"

TOKEN_POLICY = AuthPolicy(mode="token", token=TOKEN)
PASSWORD_POLICY = AuthPolicy(mode="password", password=PASSWORD)
NONE_POLICY = AuthPolicy(mode="none")

LOCAL = Peer(remote_ip="127.0.0.1", is_loopback=True)
REMOTE = Peer(remote_ip="203.0.113.7", is_loopback=False)
LOCAL_WITH_ORIGIN = Peer(remote_ip="127.0.0.1", is_loopback=True, origin="http://localhost:5173")
LOCAL_BEHIND_PROXY = Peer(remote_ip="127.0.0.1", is_loopback=True, has_proxy_headers=True)


def client(id: str = "cli", mode: str = "cli", **extra: Any) -> dict[str, Any]:
    return {"id": id, "version": "2026.9.6", "platform": "linux", "mode": mode, **extra}


def device(device_id: str = "d" * 64) -> dict[str, Any]:
    return {
        "id": device_id,
        "publicKey": "EY2vvbU3uq47oZYNpXRfNuI9fhEwxgBfCqTLsf2QVwA",
        "signature": "c2lnbmF0dXJl",
        "signedAt": 1795536131426,
        "nonce": "70b5606a-4e9d-4aa4-891a-ab26181ca9e6",
    }


def connect_params(**overrides: Any) -> dict[str, Any]:
    """Params as the official CLI sends them for `health` (token auth, operator.read)."""
    params: dict[str, Any] = {
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": client(),
        "role": "operator",
        "scopes": ["operator.read"],
        "auth": {"token": TOKEN},
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def req_frame(
    method: str = "connect", params: Any = None, *, frame_id: str = REQUEST_ID
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "req", "id": frame_id, "method": method}
    if params is not None:
        frame["params"] = params
    return frame


def connect_text(**overrides: Any) -> str:
    return json.dumps(req_frame("connect", connect_params(**overrides)))


def connect_request(**overrides: Any) -> ConnectRequest:
    """A ConnectRequest for `connect_params(**overrides)`; a key set to None is left out."""
    outcome = read_connect(connect_text(**overrides))
    assert isinstance(outcome, ConnectRequest), outcome
    return outcome
