"""scopes: the official operatorScopeSatisfied rule (protocol.md §5.2)."""

from __future__ import annotations

import pytest

from openclaw_gateway.security import scopes as S

IMPLIED_BY_WRITE = {S.READ, S.TALK, S.SESSIONS_READ, S.SESSIONS_WRITE}


def test_closed_scope_set() -> None:
    assert set(S.OPERATOR_SCOPES) == {
        "operator.admin",
        "operator.read",
        "operator.write",
        "operator.sessions.read",
        "operator.sessions.write",
        "operator.approvals",
        "operator.questions",
        "operator.pairing",
        "operator.talk",
        "operator.talk.secrets",
    }
    assert len(S.OPERATOR_SCOPES) == 10


@pytest.mark.parametrize("required", [*S.OPERATOR_SCOPES, "operator.future.thing"])
def test_admin_satisfies_every_operator_scope(required: str) -> None:
    assert S.scope_satisfied(required, [S.ADMIN])


@pytest.mark.parametrize("required", S.OPERATOR_SCOPES)
def test_each_scope_satisfies_itself(required: str) -> None:
    assert S.scope_satisfied(required, [required])


@pytest.mark.parametrize("required", S.OPERATOR_SCOPES)
def test_write_implies_exactly_read_talk_and_session_scopes(required: str) -> None:
    expected = required in IMPLIED_BY_WRITE or required == S.WRITE
    assert S.scope_satisfied(required, [S.WRITE]) is expected


@pytest.mark.parametrize("required", S.OPERATOR_SCOPES)
def test_read_implies_only_sessions_read(required: str) -> None:
    assert S.scope_satisfied(required, [S.READ]) is (required in {S.READ, S.SESSIONS_READ})


@pytest.mark.parametrize("required", S.OPERATOR_SCOPES)
def test_sessions_write_implies_only_sessions_read(required: str) -> None:
    expected = required in {S.SESSIONS_WRITE, S.SESSIONS_READ}
    assert S.scope_satisfied(required, [S.SESSIONS_WRITE]) is expected


@pytest.mark.parametrize(
    ("required", "granted", "ok"),
    [
        (S.TALK_SECRETS, [S.TALK], False),
        (S.TALK, [S.TALK_SECRETS], False),
        (S.ADMIN, [S.WRITE, S.READ, S.PAIRING, S.APPROVALS], False),
        (S.READ, [S.SESSIONS_READ], False),
        (S.WRITE, [S.SESSIONS_WRITE], False),
        (S.READ, [], False),
        ("operator.custom", ["operator.custom"], True),
        ("operator.custom", [S.WRITE], False),
        (S.READ, ["operator.READ"], False),
        (S.READ, ["read"], False),
    ],
)
def test_satisfaction_edge_cases(required: str, granted: list[str], ok: bool) -> None:
    assert S.scope_satisfied(required, granted) is ok


@pytest.mark.parametrize("required", ["node", "admin", "", "custom.scope"])
def test_non_operator_scopes_are_never_satisfied(required: str) -> None:
    # operatorScopeSatisfied returns false for anything outside `operator.`, even for admin.
    assert not S.scope_satisfied(required, [required, S.ADMIN])


def test_granted_may_be_any_iterable() -> None:
    assert S.scope_satisfied(S.READ, (s for s in [S.WRITE]))
    assert S.scope_satisfied(S.READ, frozenset({S.READ}))


def test_any_scope_satisfied() -> None:
    assert S.any_scope_satisfied([S.PAIRING, S.READ], [S.WRITE])
    assert not S.any_scope_satisfied([S.PAIRING, S.APPROVALS], [S.WRITE])
    assert not S.any_scope_satisfied([], [S.ADMIN])
    # A one-shot iterator of granted scopes is read once, not once per required scope.
    assert S.any_scope_satisfied([S.PAIRING, S.READ], iter([S.READ]))
