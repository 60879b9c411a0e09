"""Which agents exist and which node serves each one. No trio.

Agents come from config (official keys): `agents.list` = [{id, name?, default?, model?,
identity?}], `agents.defaults` = {model?, thinkingDefault?}; with no list there is one agent,
`main`. Agents never run in this process: an agent is served by a connected node whose
approved commands include `agent.turn`.

Which node (our extension, README "Conversations"):
1. `agents.list[].node` pins an agent to a node, by node id or display name;
2. otherwise a connected agent node that declared the capability `agent:<id>`;
3. otherwise a connected agent node that declared no `agent:*` capability (it serves any
   agent not pinned elsewhere); the oldest connection wins, so a second node is a standby.
A node declares the models it offers as `model:<provider>/<id>` (or `model:<id>`)
capabilities; models.list shows the union over the connected agent nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from openclaw_gateway.server.nodes import NodeSession
from openclaw_gateway.state import session_keys as K

AGENT_COMMAND = "agent.turn"
AGENT_CAP_PREFIX = "agent:"
MODEL_CAP_PREFIX = "model:"
AGENT_NODE_MODEL = "agent-node"  # what a node that names no model is reported as serving
AGENT_NODE_HINT = (
    "start one with `openclaw agent-node --base-url <OpenAI-compatible URL> --model <name>` "
    "and approve its agent.turn command (`openclaw nodes pending`, then "
    "`openclaw nodes approve <requestId>`)"
)


@attrs.frozen
class Agent:
    id: str
    name: str | None = None
    model: str | None = None
    node: str | None = None  # pinned node: id or display name
    identity: Mapping[str, Any] = attrs.field(factory=dict)
    thinking_default: str | None = None


def _model_of(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Mapping) and isinstance(value.get("primary"), str):
        return str(value["primary"]).strip() or None
    return None


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@attrs.frozen
class AgentDirectory:
    agents: tuple[Agent, ...]
    default_id: str
    default_model: str | None = None
    thinking_default: str | None = None

    @classmethod
    def from_config(cls, section: Any) -> AgentDirectory:
        """`section` is the raw `agents` config object (or None). Entries that cannot name an
        agent are skipped (config validation reports them)."""
        section = section if isinstance(section, Mapping) else {}
        defaults = section.get("defaults") if isinstance(section.get("defaults"), Mapping) else {}
        entries = section.get("list") if isinstance(section.get("list"), list) else []
        agents: list[Agent] = []
        default_id: str | None = None
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            try:
                agent_id = K.normalize_agent_id(str(entry.get("id", "")))
            except K.SessionKeyError:
                continue
            if any(a.id == agent_id for a in agents):
                continue
            raw_identity = entry.get("identity")
            identity: Mapping[str, Any] = raw_identity if isinstance(raw_identity, Mapping) else {}
            agents.append(
                Agent(
                    id=agent_id,
                    name=_str(entry.get("name")) or _str(identity.get("name")),
                    model=_model_of(entry.get("model")),
                    node=_str(entry.get("node")),
                    identity=dict(identity),
                    thinking_default=_str(entry.get("thinkingDefault")),
                )
            )
            if entry.get("default") is True and default_id is None:
                default_id = agent_id
        if not agents:
            agents.append(Agent(id=K.DEFAULT_AGENT_ID))
        return cls(
            agents=tuple(agents),
            default_id=default_id or agents[0].id,
            default_model=_model_of(defaults.get("model")),
            thinking_default=_str(defaults.get("thinkingDefault")),
        )

    def get(self, agent_id: str) -> Agent | None:
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        return None

    def ids(self) -> list[str]:
        return [a.id for a in self.agents]

    def model_for(self, agent_id: str) -> str | None:
        agent = self.get(agent_id)
        return (agent.model if agent else None) or self.default_model

    # --- node selection ----------------------------------------------------------------------

    def _pinned_elsewhere(self, node: NodeSession, agent_id: str) -> bool:
        return any(
            a.id != agent_id and a.node is not None and _names(node, a.node) for a in self.agents
        )

    def node_for(self, agent_id: str, sessions: Iterable[NodeSession]) -> NodeSession | None:
        ready = sorted(
            (s for s in sessions if AGENT_COMMAND in s.effective_commands),
            key=lambda s: s.connected_at_ms,
        )
        agent = self.get(agent_id)
        if agent is not None and agent.node is not None:
            return next((s for s in ready if _names(s, agent.node)), None)
        own = f"{AGENT_CAP_PREFIX}{agent_id}"
        for node in ready:
            if own in node.effective_caps:
                return node
        for node in ready:
            declares = any(c.startswith(AGENT_CAP_PREFIX) for c in node.effective_caps)
            if not declares and not self._pinned_elsewhere(node, agent_id):
                return node
        return None

    def serving_model(self, agent_id: str, sessions: Iterable[NodeSession]) -> str | None:
        """The configured model, else the first `model:*` the node taking this agent's turns
        declares, else None (nothing would answer). What agents.list reports as
        `model.primary` and sessionDefaults as `modelConfigured`: the Control UI keeps its
        composer closed ("No AI provider configured") while an agent has none."""
        configured = self.model_for(agent_id)
        if configured:
            return configured
        node = self.node_for(agent_id, sessions)
        if node is None:
            return None
        models = sorted(
            c[len(MODEL_CAP_PREFIX) :]
            for c in node.effective_caps
            if c.startswith(MODEL_CAP_PREFIX) and len(c) > len(MODEL_CAP_PREFIX)
        )
        return models[0] if models else AGENT_NODE_MODEL

    def no_node_message(self, agent_id: str) -> str:
        agent = self.get(agent_id)
        if agent is not None and agent.node is not None:
            return (
                f'agent "{agent_id}" is pinned to node "{agent.node}", which is not connected '
                f"(or its agent.turn command is not approved); {AGENT_NODE_HINT}"
            )
        return f'no agent node is connected for agent "{agent_id}"; {AGENT_NODE_HINT}'


def _names(node: NodeSession, ref: str) -> bool:
    return ref in (node.node_id, node.display_name)


def declared_models(sessions: Iterable[NodeSession]) -> list[dict[str, Any]]:
    """models.list entries from the `model:*` capabilities of connected agent nodes."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for node in sessions:
        if AGENT_COMMAND not in node.effective_commands:
            continue
        for cap in node.effective_caps:
            if not cap.startswith(MODEL_CAP_PREFIX) or len(cap) == len(MODEL_CAP_PREFIX):
                continue
            ref = cap[len(MODEL_CAP_PREFIX) :]
            provider, _, model = ref.partition("/") if "/" in ref else ("agent-node", "", ref)
            seen.setdefault((provider, model), {"id": model, "name": model, "provider": provider})
    return sorted(seen.values(), key=lambda m: (m["provider"], m["id"]))
