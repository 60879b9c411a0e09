"""One module per method family. Importing `load()` registers them all in `registry`."""

from __future__ import annotations

from openclaw_gateway.server.rpc.registry import Registry

registry = Registry()


def load() -> Registry:
    # Imported for their @registry.method side effects.
    from openclaw_gateway.server.rpc.methods import agents as _agents  # noqa: F401
    from openclaw_gateway.server.rpc.methods import approvals as _approvals  # noqa: F401
    from openclaw_gateway.server.rpc.methods import channels as _channels  # noqa: F401
    from openclaw_gateway.server.rpc.methods import chat as _chat  # noqa: F401
    from openclaw_gateway.server.rpc.methods import chat_history as _history  # noqa: F401
    from openclaw_gateway.server.rpc.methods import commands as _commands  # noqa: F401
    from openclaw_gateway.server.rpc.methods import config as _config  # noqa: F401
    from openclaw_gateway.server.rpc.methods import cron as _cron  # noqa: F401
    from openclaw_gateway.server.rpc.methods import devices as _devices  # noqa: F401
    from openclaw_gateway.server.rpc.methods import logs as _logs  # noqa: F401
    from openclaw_gateway.server.rpc.methods import nodes as _nodes  # noqa: F401
    from openclaw_gateway.server.rpc.methods import sessions as _sessions  # noqa: F401
    from openclaw_gateway.server.rpc.methods import sessions_create as _create  # noqa: F401
    from openclaw_gateway.server.rpc.methods import sessions_resolve as _resolve  # noqa: F401
    from openclaw_gateway.server.rpc.methods import system as _system  # noqa: F401

    return registry
