"""A command job's `env` and `input` reach only operator.admin callers (issue 13): cron.list,
cron.get and the `cron` events give readers the redacted view, each view encoded once."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio

from openclaw_gateway.core.secrets import REDACTED
from openclaw_gateway.protocol import codec
from openclaw_gateway.server.hub import Hub, Subscriber
from tests.helpers import RunningGateway, connected

ADMIN = ["operator.admin"]
READ = ["operator.read"]
WRITE = ["operator.write"]
SECRET_ENV = "env-secret-0123456789"
SECRET_INPUT = "input-secret-0123456789"


def command_job() -> dict[str, Any]:
    return {
        "name": "with secrets",
        "schedule": {"kind": "every", "everyMs": 3_600_000},
        "payload": {
            "kind": "command",
            "argv": ["true"],
            "env": {"API_KEY": SECRET_ENV, "MODE": "x"},
            "input": SECRET_INPUT,
        },
        "delivery": {"mode": "none"},
    }


def _no_secret(value: Any) -> None:
    text = json.dumps(value)
    assert SECRET_ENV not in text and SECRET_INPUT not in text, text


async def test_readers_get_the_redacted_view_admins_the_real_one(gateway: RunningGateway) -> None:
    with trio.fail_after(10):
        async with (
            connected(gateway.port, scopes=ADMIN) as admin,
            connected(gateway.port, scopes=READ) as reader,
            connected(gateway.port, scopes=WRITE) as writer,
            connected(gateway.port, scopes=ADMIN) as admin_watcher,
        ):
            added = await admin.call("cron.add", command_job())
            assert added["ok"], added
            job = added["payload"]
            assert job["payload"]["env"] == {"API_KEY": SECRET_ENV, "MODE": "x"}
            assert job["payload"]["input"] == SECRET_INPUT

            for client in (reader, writer):
                event = await client.next_event("cron")
                _no_secret(event)
                assert event["payload"]["job"]["payload"]["env"] == {
                    "API_KEY": REDACTED,
                    "MODE": REDACTED,
                }
                assert event["payload"]["job"]["payload"]["input"] == REDACTED
                listed = (await client.call("cron.list"))["payload"]
                _no_secret(listed)
                got = (await client.call("cron.get", {"id": job["id"]}))["payload"]
                _no_secret(got)
                assert got["payload"]["env"] == {"API_KEY": REDACTED, "MODE": REDACTED}
                assert got["payload"]["input"] == REDACTED
                assert got["payload"]["argv"] == ["true"]
                # The revision is over what the reader sees, so it cannot confirm a guess.
                assert got["configRevision"] != job["configRevision"]

            full = await admin_watcher.next_event("cron")
            assert full["payload"]["job"]["payload"]["input"] == SECRET_INPUT
            got = (await admin.call("cron.get", {"id": job["id"]}))["payload"]
            assert got["payload"]["env"]["API_KEY"] == SECRET_ENV
            assert got["configRevision"] == job["configRevision"]

            updated = await admin.call(
                "cron.update", {"id": job["id"], "patch": {"name": "renamed"}}
            )
            assert updated["ok"], updated
            event = await reader.next_event("cron")
            assert event["payload"]["action"] == "updated"
            _no_secret(event)


def test_a_two_view_broadcast_encodes_each_view_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub()
    inboxes: dict[str, trio.MemoryReceiveChannel[Any]] = {}
    for conn, scopes in (("a1", ADMIN), ("a2", ADMIN), ("r1", READ), ("r2", READ), ("w1", WRITE)):
        send, receive = trio.open_memory_channel[Any](10)
        hub.add(Subscriber(conn, "operator", tuple(scopes), send, abort=lambda code, why: None))
        inboxes[conn] = receive
    full = {"secret": "plain-value"}
    reader_view = {"secret": REDACTED}
    encoded: list[Any] = []
    real_encode = codec.encode

    def counting_encode(value: Any) -> str:
        encoded.append(value)
        return real_encode(value)

    monkeypatch.setattr(codec, "encode", counting_encode)
    assert hub.broadcast("cron", full, redacted=reader_view) == 5
    assert [v for v in encoded if v in (full, reader_view)] == [full, reader_view]
    # A broadcast hands each socket UTF-8 bytes (encoded once per view, seq spliced in).
    frames = {conn: inbox.receive_nowait().decode() for conn, inbox in inboxes.items()}
    for conn in ("a1", "a2"):
        assert "plain-value" in frames[conn]
    for conn in ("r1", "r2", "w1"):
        assert REDACTED in frames[conn] and "plain-value" not in frames[conn]
