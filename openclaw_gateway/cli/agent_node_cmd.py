"""`openclaw agent-node`: run the ready OpenAI-compatible agent node (client/openai_agent)
against a gateway until interrupted.

    openclaw agent-node --base-url http://127.0.0.1:11434/v1 --model llama3.2

Gateway URL and token resolve like every RPC command (--url/--port/--token, env, config, the
local runtime token). The device identity lives in <stateDir>/agent-node (its own, so it
pairs as a node apart from this machine's operator identity).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated

import trio
from cyclopts import Parameter

from openclaw_gateway.cli.params import GatewayFlags, command_env
from openclaw_gateway.cli.rpc_cmds import target_for
from openclaw_gateway.cli.target import CliFailure
from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.core.errors import is_interrupt
from openclaw_gateway.core.paths import resolve_paths

_NO_FLAGS = GatewayFlags()


def agent_node(
    *,
    base_url: Annotated[str, Parameter(help="OpenAI-compatible API base URL (…/v1).")],
    model: Annotated[str, Parameter(help="Model name the server knows.")],
    api_key_env: Annotated[
        str, Parameter(help="Environment variable holding the API key (never logged).")
    ] = "OPENAI_API_KEY",
    agent: Annotated[
        tuple[str, ...], Parameter(help="Agent id this node serves (repeatable; default any).")
    ] = (),
    name: Annotated[str | None, Parameter(help="Display name of the node.")] = None,
    system_prompt: Annotated[str | None, Parameter(help="System prompt for every turn.")] = None,
    gateway_flags: GatewayFlags = _NO_FLAGS,
) -> int:
    """Run an agent node backed by an OpenAI-compatible chat-completions server."""
    return run_agent_node(
        base_url=base_url,
        model=model,
        api_key_env=api_key_env,
        agents=agent,
        name=name,
        system_prompt=system_prompt,
        flags=gateway_flags.opts(),
        env=command_env(),
    )


def run_agent_node(
    *,
    base_url: str,
    model: str,
    api_key_env: str,
    agents: tuple[str, ...],
    name: str | None,
    system_prompt: str | None,
    flags: Mapping[str, object],
    env: Mapping[str, str],
) -> int:
    try:
        from openclaw_gateway.client.openai_agent import build_agent_node
    except ImportError:
        print(
            "agent-node needs the `agent` extra: pip install 'openclaw-gateway[agent]'",
            file=sys.stderr,
        )
        return 1
    if not base_url.startswith(("http://", "https://")):
        print("--base-url must be an http:// or https:// URL", file=sys.stderr)
        return 1
    try:
        target = target_for("node.invoke.result", flags, env)
    except CliFailure as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if target.password and not target.token:
        print("agent-node authenticates with a gateway token (--token)", file=sys.stderr)
        return 1
    store = IdentityStore(resolve_paths(env).state_dir / "agent-node")
    node = build_agent_node(
        target.url,
        base_url=base_url,
        model=model,
        device_store=store,
        token=target.token,
        env=env,
        api_key_env=api_key_env,
        display_name=name,
        agents=agents,
        system_prompt=system_prompt,
    )
    print(
        f"agent-node: model {model} at {base_url}, gateway {target.url}; approve its agent.turn "
        "command once (openclaw nodes pending / openclaw nodes approve <requestId>)",
        file=sys.stderr,
    )
    try:
        trio.run(node.serve)
    except BaseException as exc:
        if is_interrupt(exc):
            return 130
        raise
    return 0
