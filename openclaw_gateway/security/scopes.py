"""Operator scopes and the official satisfaction rule (protocol.md §5.2). Pure."""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "operator.admin"
READ = "operator.read"
WRITE = "operator.write"
SESSIONS_READ = "operator.sessions.read"
SESSIONS_WRITE = "operator.sessions.write"
APPROVALS = "operator.approvals"
QUESTIONS = "operator.questions"
PAIRING = "operator.pairing"
TALK = "operator.talk"
TALK_SECRETS = "operator.talk.secrets"

OPERATOR_SCOPES = (
    ADMIN,
    READ,
    WRITE,
    SESSIONS_READ,
    SESSIONS_WRITE,
    APPROVALS,
    QUESTIONS,
    PAIRING,
    TALK,
    TALK_SECRETS,
)

# Scopes that operator.write implies.
_WRITE_IMPLIES = frozenset({READ, TALK, SESSIONS_READ, SESSIONS_WRITE})


def scope_satisfied(required: str, granted: Iterable[str]) -> bool:
    if not required.startswith("operator."):
        # The official operatorScopeSatisfied never satisfies a non-operator scope.
        return False
    have = set(granted)
    if required in have or ADMIN in have:
        return True
    if required in _WRITE_IMPLIES and WRITE in have:
        return True
    return required == SESSIONS_READ and (READ in have or SESSIONS_WRITE in have)


def any_scope_satisfied(required: Iterable[str], granted: Iterable[str]) -> bool:
    have = tuple(granted)
    return any(scope_satisfied(r, have) for r in required)
