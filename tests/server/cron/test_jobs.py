"""cron/jobs.py: create-time defaults, patches, revisions, payload validation, read view."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron import views as V

NOW = 1_795_536_162_804
EVERY = {"kind": "every", "everyMs": 60_000}


def create(**raw: Any) -> J.Job:
    return J.normalize_create(raw, job_id="job-1", now_ms=NOW, host_tz="UTC")


def test_create_defaults_for_a_system_event() -> None:
    job = create(name=" t1 ", schedule=EVERY, payload={"kind": "systemEvent", "text": "hello"})
    assert job == {
        "id": "job-1",
        "name": "t1",
        "enabled": True,
        "createdAtMs": NOW,
        "updatedAtMs": NOW,
        "schedule": {"kind": "every", "everyMs": 60_000, "anchorMs": NOW},
        "sessionTarget": "main",
        "wakeMode": "now",
        "payload": {"kind": "systemEvent", "text": "hello"},
    }
    assert J.initial_state(job, NOW, "UTC") == {"nextRunAtMs": NOW + 60_000}


@pytest.mark.parametrize(
    ("payload", "schedule", "name"),
    [
        ({"kind": "systemEvent", "text": "\n  first line \nsecond"}, EVERY, "first line"),
        ({"kind": "agentTurn", "message": "m" * 80}, EVERY, "m" * 59 + "…"),
        ({"kind": "command", "argv": ["echo", "a b"]}, EVERY, "echo a b"),
        ({"kind": "systemEvent", "text": "   "}, EVERY, None),
    ],
)
def test_name_inference(
    payload: dict[str, Any], schedule: dict[str, Any], name: str | None
) -> None:
    if name is None:
        with pytest.raises(J.JobError, match=r"payload\.text must not be blank"):
            create(schedule=schedule, payload=payload)
        return
    assert create(schedule=schedule, payload=payload)["name"] == name


def test_name_from_schedule() -> None:
    assert J.infer_name({"kind": "every", "everyMs": 5}, {"kind": "x"}) == "Every: 5ms"
    assert J.infer_name({"kind": "cron", "expr": "0 * * * *"}, {}) == "Cron: 0 * * * *"
    assert J.infer_name({"kind": "at"}, {}) == "One-shot"


def test_session_target_delivery_and_one_shot_defaults() -> None:
    cmd = create(schedule=EVERY, payload={"kind": "command", "argv": ["true"]})
    assert cmd["sessionTarget"] == "isolated"
    assert cmd["delivery"] == {"mode": "announce"}
    agent = create(schedule=EVERY, payload={"kind": "agentTurn", "message": "x"}, sessionKey="s1")
    assert agent["sessionTarget"] == "current"
    none = create(
        schedule=EVERY, payload={"kind": "agentTurn", "message": "x"}, delivery={"mode": "none"}
    )
    assert none["delivery"] == {"mode": "none"}
    at = create(
        schedule={"kind": "at", "at": "2026-11-25T12:00:00"},
        payload={"kind": "systemEvent", "text": "x"},
    )
    assert at["deleteAfterRun"] is True
    assert at["schedule"]["at"] == "2026-11-25T12:00:00.000Z"
    kept = create(
        schedule={"kind": "at", "at": "2026-11-25T12:00:00Z"},
        payload={"kind": "systemEvent", "text": "x"},
        deleteAfterRun=False,
        enabled="no",
        wakeMode="NEXT-HEARTBEAT",
    )
    assert kept["deleteAfterRun"] is False
    assert kept["enabled"] is False
    assert kept["wakeMode"] == "next-heartbeat"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"kind": "command", "argv": []}, "payload.argv must be a non-empty array of strings"),
        (
            {"kind": "command", "argv": ["a", 1]},
            "payload.argv must be a non-empty array of strings",
        ),
        (
            {"kind": "command", "argv": ["a"], "env": {"A": 1}},
            "payload.env must be an object of string values",
        ),
        (
            {"kind": "command", "argv": ["a"], "timeoutSeconds": 0},
            "payload.timeoutSeconds must be a positive number",
        ),
        (
            {"kind": "command", "argv": ["a"], "outputMaxBytes": 1.5},
            "payload.outputMaxBytes must be a positive integer",
        ),
        ({"kind": "command", "argv": ["a"], "shell": True}, "payload: unexpected property 'shell'"),
        (
            {"kind": "script", "script": "x"},
            'payload.kind must be one of "systemEvent", "agentTurn", "command"',
        ),
        ({"kind": "agentTurn"}, "payload.message must be a string"),
    ],
)
def test_payload_validation(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(J.JobError) as info:
        J.normalize_payload(payload)
    assert str(info.value) == reason


def test_command_payload_fields_kept() -> None:
    full = {
        "kind": "command",
        "argv": ["sh", "-c", "cat"],
        "cwd": "/tmp",
        "env": {"A": "b"},
        "input": "data",
        "timeoutSeconds": 5,
        "noOutputTimeoutSeconds": 2.5,
        "outputMaxBytes": 1024,
    }
    assert J.normalize_payload(full) == full


def test_config_revision_covers_the_definition_only() -> None:
    job = create(name="t", schedule=EVERY, payload={"kind": "systemEvent", "text": "a"})
    rev = V.config_revision(job)
    assert rev.startswith("sha256:")
    assert len(rev) == len("sha256:") + 43
    assert V.config_revision({**job, "updatedAtMs": 1, "state": {"x": 1}}) == rev
    assert V.config_revision({**job, "name": "u"}) != rev
    # Key order does not matter.
    assert V.config_revision(dict(reversed(list(job.items())))) == rev


def test_patch_semantics() -> None:
    job = create(
        name="t", schedule=EVERY, payload={"kind": "systemEvent", "text": "a"}, description="d"
    )
    later = NOW + 1000
    patched = J.apply_patch(
        job, {"payload": {"text": "b"}, "description": None}, now_ms=later, host_tz="UTC"
    )
    assert patched["payload"] == {"kind": "systemEvent", "text": "b"}
    assert "description" not in patched
    assert patched["updatedAtMs"] == later
    assert patched["createdAtMs"] == NOW
    assert patched["schedule"]["anchorMs"] == NOW
    resched = J.apply_patch(
        job, {"schedule": {"kind": "every", "everyMs": 1000}}, now_ms=later, host_tz="UTC"
    )
    assert resched["schedule"] == {"kind": "every", "everyMs": 1000, "anchorMs": NOW}
    assert J.schedule_changed(job, resched)
    with pytest.raises(J.JobError, match="requires text"):
        J.apply_patch(
            create(schedule=EVERY, payload={"kind": "agentTurn", "message": "m"}),
            {"payload": {"kind": "systemEvent"}},
            now_ms=later,
            host_tz="UTC",
        )
    with pytest.raises(J.JobError, match="unexpected property 'id'"):
        J.apply_patch(job, {"id": "other"}, now_ms=later, host_tz="UTC")
    with pytest.raises(J.JobError, match=r'main cron jobs require payload\.kind="systemEvent"'):
        J.apply_patch(
            job, {"payload": {"kind": "command", "argv": ["x"]}}, now_ms=later, host_tz="UTC"
        )


def test_read_view_denormalizes_state() -> None:
    job = create(name="t", schedule=EVERY, payload={"kind": "systemEvent", "text": "a"})
    state = {"nextRunAtMs": 5, "lastRunAtMs": 4, "lastRunStatus": "error", "lastError": "boom"}
    view = V.read_view(job, state)
    assert view["state"] == state
    assert view["nextRunAtMs"] == 5
    assert view["lastRunAtMs"] == 4
    assert view["lastRunStatus"] == "error"
    assert view["lastRunError"] == "boom"
    assert view["configRevision"] == V.config_revision(job)


def test_schedule_errors_are_job_errors() -> None:
    with pytest.raises(J.JobError) as info:
        create(
            schedule={"kind": "at", "at": "2001-01-01T00:00:00Z"},
            payload={"kind": "systemEvent", "text": "x"},
        )
    assert info.value.bare
    assert str(info.value).startswith("schedule.at is in the past")
    with pytest.raises(J.JobError) as info:
        create(
            schedule={"kind": "every", "everyMs": 0}, payload={"kind": "systemEvent", "text": "x"}
        )
    assert not info.value.bare
