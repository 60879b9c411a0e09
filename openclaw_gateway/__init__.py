"""openclaw-gateway: a Python reimplementation of the OpenClaw Gateway (protocol v4).

Layout (see ../shared/design/architecture.md and tests/test_layering.py):
- protocol/   sans-IO wire core: frames, schema checks, the connect handshake. No trio.
- config, paths, errors, auth, presence, rpc.registry: pure building blocks, no trio.
- rpc/methods/ the RPC handlers, one module per family.
- hub, connection, server: the live WebSocket side (trio, trio_websocket, h11).
- supervisor: the one task tree; cli/: cyclopts commands that parse, call, render.
"""

__version__ = "0.1.0"
