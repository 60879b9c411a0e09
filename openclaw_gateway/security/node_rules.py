"""Node capability rules, pure (protocol.md §6.8; official node-commands / node-pairing-authz).

A node's declared caps/commands/permissions are *claims*; only what an operator approved
(persisted with the pairing record) is effective. Approving ordinary commands needs
operator.pairing + operator.write, exec-class ones operator.pairing + operator.admin.
Also the bounded idempotency cache for node.invoke (§6.11: 300 s, 1000 keys, keyed by
caller, node, command and key), the invoke timeout bound and the channel-relay limits.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from openclaw_gateway.security import scopes as S

SYSTEM_RUN_COMMANDS = ("system.run.prepare", "system.run", "system.which")
EXEC_APPROVALS_COMMANDS = ("system.execApprovals.get", "system.execApprovals.set")
ADMIN_ONLY_INVOKE_EXACT = ("fs.listDir", "terminal.upload")

IDEMPOTENCY_TTL_MS = 300_000
IDEMPOTENCY_MAX = 1000
DEFAULT_INVOKE_TIMEOUT_MS = 30_000
# Ours (the official clamps at ~24.8 days and treats 0 as "no deadline"): a node.invoke waits
# at most 10 minutes, the agent-turn default, and 0 means this bound.
MAX_INVOKE_TIMEOUT_MS = 600_000
# `channel.*` relays (our extension; the official has none): what one may carry, and how many
# one node may send per window before it is told to retry later.
MAX_NODE_EVENT_BYTES = 65_536
NODE_EVENT_LIMIT = 60
NODE_EVENT_WINDOW_MS = 10_000

NOT_DECLARED = "command not declared by node"
NOTHING_DECLARED = "node did not declare commands"


def invoke_timeout_ms(requested: int | None) -> int:
    """node.invoke's wait: the default when absent, else at most MAX_INVOKE_TIMEOUT_MS (0, the
    official "no deadline", is that bound too)."""
    if requested is None:
        return DEFAULT_INVOKE_TIMEOUT_MS
    return MAX_INVOKE_TIMEOUT_MS if requested <= 0 else min(requested, MAX_INVOKE_TIMEOUT_MS)


def idempotency_key(caller: str, node_id: str, command: str, key: str) -> str:
    """A retry is the same caller asking the same node the same command with the same key;
    anyone else reusing the key gets a dispatch of their own, never someone's result."""
    return json.dumps([caller, node_id, command, key], separators=(",", ":"))


def admin_only_invoke(command: str) -> bool:
    """Invoking these crosses an admin-only host boundary (browser proxy, files)."""
    return command in ADMIN_ONLY_INVOKE_EXACT or command.startswith("browser.proxy")


def exec_class(command: str) -> bool:
    return (
        admin_only_invoke(command)
        or command in SYSTEM_RUN_COMMANDS
        or command in EXEC_APPROVALS_COMMANDS
        or command.startswith("system.execApprovals.")
    )


def approval_scopes(commands: Iterable[str]) -> list[str]:
    """The least operator scopes that may approve this declared command surface."""
    cmds = list(commands)
    if any(exec_class(c) for c in cmds):
        return [S.PAIRING, S.ADMIN]
    if cmds:
        return [S.PAIRING, S.WRITE]
    return [S.PAIRING]


def missing_approval_scope(commands: Iterable[str], granted: Iterable[str]) -> str | None:
    have = tuple(granted)
    for scope in approval_scopes(commands):
        if not S.scope_satisfied(scope, have):
            return scope
    return None


def covered(declared: Iterable[str], approved: Iterable[str]) -> bool:
    return set(declared) <= set(approved)


def effective(declared: Iterable[str], approved: Iterable[str] | None) -> list[str]:
    """Declared items that an operator approved, in declared order."""
    if approved is None:
        return []
    allowed = set(approved)
    return [c for c in declared if c in allowed]


def approval_state(approval: dict[str, Any] | None, pending: bool) -> str:
    if pending:
        return "pending-reapproval" if approval else "pending-approval"
    return "approved" if approval else "unapproved"


def command_refusal(command: str, declared: list[str], approved: list[str]) -> str | None:
    """None if `command` may be invoked, else the official rejection reason."""
    if command in approved:
        return None
    if not approved:
        return NOTHING_DECLARED
    return NOT_DECLARED


def refusal_message(reason: str, command: str, platform: str | None, declared: list[str]) -> str:
    if reason == NOT_DECLARED:
        return (
            f"node command not allowed: the node (platform: {platform or 'unknown'}) "
            f'does not support "{command}"'
        )
    if reason == NOTHING_DECLARED:
        if command in declared:
            return (
                "node command not allowed: the node's declared command surface is pending "
                "approval; run `openclaw nodes pending`, then `openclaw nodes approve <requestId>`"
            )
        return "node command not allowed: the node did not declare any supported commands"
    return f"node command not allowed: {reason}"


class IdempotencyCache:
    """Key -> first value, kept IDEMPOTENCY_TTL_MS and at most IDEMPOTENCY_MAX keys."""

    def __init__(self, ttl_ms: int = IDEMPOTENCY_TTL_MS, max_keys: int = IDEMPOTENCY_MAX) -> None:
        self.ttl_ms = ttl_ms
        self.max_keys = max_keys
        self._items: OrderedDict[str, tuple[int, Any]] = OrderedDict()

    def _prune(self, now_ms: int) -> None:
        while self._items:
            key, (at, _) = next(iter(self._items.items()))
            if at + self.ttl_ms > now_ms and len(self._items) <= self.max_keys:
                break
            self._items.pop(key)

    def get(self, key: str, now_ms: int) -> Any | None:
        self._prune(now_ms)
        item = self._items.get(key)
        return None if item is None else item[1]

    def put(self, key: str, value: Any, now_ms: int) -> None:
        self._items[key] = (now_ms, value)
        self._items.move_to_end(key)
        self._prune(now_ms)

    def discard(self, key: str) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
