"""openclaw-gateway: a Python reimplementation of the OpenClaw Gateway (protocol v4).

Layout, one folder per side of the product (docs/architecture.md; tests/test_layering.py
states the import rules per folder):
- core/       errors, paths, config, logs, atomic files: the ground floor, imports nothing else.
- protocol/   sans-IO wire: frames, schema checks, codec, the connect handshake.
- security/   pure rules: auth, scopes, Origin, trusted proxies, limiters, device proofs,
              pairing and node rules.
- state/      what the gateway remembers: store (SQLite), pairing book, presence, nodes.
- host/       the OS around the process: lock, ports, bind modes, sd_notify, service/.
- discovery/  Bonjour and wide-area DNS-SD (announce and browse).
- server/     the daemon: supervisor (the one task tree), edge, connection, hub, rpc/, cron/.
- client/     the Python SDK (never loads server/, state/ or host/).
- cli/        cyclopts commands that parse, call, render; doctor/ inside.
"""

__version__ = "0.1.0"
