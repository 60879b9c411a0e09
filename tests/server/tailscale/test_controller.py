"""run_tailscale() and its waits, without a gateway (autojump where the wait is the point)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from openclaw_gateway.core.errors import EXIT_CONFIG, EXIT_FAILURE
from openclaw_gateway.core.logs import Logger
from openclaw_gateway.server import tailscale as ts
from openclaw_gateway.server import tailscale_commands as commands
from tests.server.tailscale.fake import FakeTailscale


class Recorder:
    """An in-memory runner: records argv, answers `status --json` from a list of states."""

    def __init__(self, states: Sequence[str] = ()) -> None:
        self.calls: list[list[str]] = []
        self.states = list(states)

    async def __call__(self, argv: Sequence[str], limit_s: float) -> commands.ExecResult:
        self.calls.append(list(argv))
        out = "{}"
        if list(argv[1:]) == ["status", "--json"]:
            state = self.states.pop(0) if self.states else "Running"
            out = json.dumps({"BackendState": state, "Self": {"DNSName": "h.ts.net."}})
        return commands.ExecResult(tuple(argv), 0, out, "")


def logger() -> tuple[Logger, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Logger(stdout=out, stderr=err), out, err


async def test_backend_wait_polls_every_2s_and_announces_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runner = Recorder(["NoState", "NoState", "Starting", "Running"])
    seen: list[str] = []
    start = trio.current_time()
    await ts.wait_for_backend(["tailscale"], seen.append, runner)
    assert trio.current_time() - start == pytest.approx(6.0)
    assert runner.calls == [["tailscale", "status", "--json"]] * 4
    assert seen == [
        "waiting for the local Tailscale daemon (NoState)",
        "waiting for the local Tailscale daemon (Starting)",
    ]


async def test_backend_wait_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    runner = Recorder(["Starting"] * 1000)
    start = trio.current_time()
    await ts.wait_for_backend(["tailscale"], lambda _: None, runner)
    assert trio.current_time() - start == pytest.approx(90.0)
    assert len(runner.calls) == 46  # t = 0, 2, ..., 90


async def test_backend_wait_stops_on_a_hard_error(autojump_clock: trio.testing.MockClock) -> None:
    async def broken(argv: Sequence[str], limit_s: float) -> commands.ExecResult:
        raise commands.ExecFailed(
            "Command failed with ENOENT: tailscale status --json", code="ENOENT"
        )

    start = trio.current_time()
    await ts.wait_for_backend(["tailscale"], lambda _: None, broken)
    assert trio.current_time() == start


async def test_claim_that_never_becomes_ready_times_out_after_15s(
    mock_clock: trio.testing.MockClock, fake: FakeTailscale
) -> None:
    # Jump only after 0.3 s of real idleness: the 15 s wait is skipped, while the real child
    # still has the time it needs to start and to die of SIGTERM.
    mock_clock.autojump_threshold = 0.3
    fake.configure(claim="never")
    runner = Recorder()
    log, _, err = logger()
    report: dict[str, Any] = {}
    start = trio.current_time()
    with pytest.raises(ts.TailscaleError) as caught:
        await ts.run_tailscale("serve", 4242, report, log, binary=str(fake.binary), runner=runner)
    assert str(caught.value) == "Tailscale route claim did not become ready within 15 seconds"
    assert caught.value.exit_code == EXIT_FAILURE
    # 15 s, plus the SIGKILL grace only if the child was too slow to die of SIGTERM
    assert 15.0 <= trio.current_time() - start <= 15.0 + ts.STOP_GRACE
    assert runner.calls == [
        [str(fake.binary), "status", "--json"],
        [str(fake.binary), "serve", "status", "--json"],
    ]
    assert fake.commands() == [["serve", "--yes", "--bg=false", "4242"]]
    assert report["state"] == "failed"
    assert "[tailscale] serve failed: Tailscale route claim did not become ready" in err.getvalue()


@pytest.mark.parametrize(
    ("claim", "code", "message"),
    [
        ("exit_early", EXIT_FAILURE, "serve: something went wrong"),
        (
            "conflict",
            EXIT_CONFIG,
            "Tailscale HTTPS port 443 is already owned by a route whose ownership OpenClaw "
            "cannot prove; it was not modified. Inspect `tailscale serve status --json`",
        ),
    ],
)
async def test_claim_that_exits_before_ready(
    fake: FakeTailscale, claim: str, code: int, message: str
) -> None:
    fake.configure(claim=claim)
    log, _, _ = logger()
    report: dict[str, Any] = {}
    with trio.fail_after(20), pytest.raises(ts.TailscaleError) as caught:
        await ts.run_tailscale("serve", 4243, report, log)
    assert str(caught.value) == message
    assert caught.value.exit_code == code
    assert report == {"mode": "serve", "state": "failed", "url": None, "error": message}


async def test_permission_denied_from_tailscale(fake: FakeTailscale) -> None:
    fake.configure(serve_status="permission")
    log, _, _ = logger()
    with trio.fail_after(20), pytest.raises(ts.TailscaleError) as caught:
        await ts.run_tailscale("funnel", 4244, {}, log)
    # Retried as `sudo -n tailscale ...`; sudo wants a password, so the official message.
    assert str(caught.value) == (
        "Tailscale funnel needs elevated access and non-interactive sudo failed: sudo: a "
        "password is required. Run `sudo tailscale set --operator=$USER` once so the "
        "unprivileged path succeeds."
    )
    assert caught.value.exit_code == EXIT_FAILURE
    assert ["sudo", "-n", str(fake.binary), "status", "--json"] in fake.calls()
    assert ["funnel", "--yes", "--bg=false", "4244"] not in fake.calls()


async def test_binary_that_cannot_be_executed(tmp_path: Path, fake: FakeTailscale) -> None:
    binary = tmp_path / "tailscale"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o644)
    log, _, _ = logger()
    with trio.fail_after(20), pytest.raises(ts.TailscaleError) as caught:
        await ts.run_tailscale("serve", 4245, {}, log, binary=str(binary))
    # EACCES is a permission failure: retried once as `sudo -n`, which wants a password here.
    assert str(caught.value) == (
        "Tailscale serve needs elevated access and non-interactive sudo failed: sudo: a password "
        "is required. Run `sudo tailscale set --operator=$USER` once so the unprivileged path "
        "succeeds."
    )
    sudo = ["sudo", "-n", str(binary)]
    assert fake.calls() == [[*sudo, "status", "--json"], [*sudo, "serve", "status", "--json"]]


async def test_permission_denied_is_retried_through_sudo(fake: FakeTailscale) -> None:
    fake.configure(serve_status="permission", sudo="exec")
    log, out, _ = logger()
    report: dict[str, Any] = {}
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(ts.run_tailscale, "serve", 4247, report, log)
            assert url == "https://fakehost.tail1234.ts.net/"
            nursery.cancel_scope.cancel()
    sudo = ["sudo", "-n", str(fake.binary)]
    assert fake.commands() == [
        ["version"],
        ["status", "--json"],
        ["serve", "status", "--json"],  # denied
        [*sudo, "status", "--json"],
        ["status", "--json"],
        [*sudo, "serve", "status", "--json"],
        ["serve", "status", "--json"],
        [*sudo, "serve", "--yes", "--bg=false", "4247"],
        ["serve", "--yes", "--bg=false", "4247"],
        [*sudo, "status", "--json"],
        ["status", "--json"],
    ]
    assert report["state"] == "stopped"
    assert "serve enabled" in out.getvalue()


async def test_permission_denied_without_sudo(
    fake: FakeTailscale, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fake.directory / "sudo").unlink()
    monkeypatch.setenv("PATH", str(fake.directory))  # no sudo anywhere on PATH
    fake.configure(serve_status="permission")
    log, _, _ = logger()
    with trio.fail_after(20), pytest.raises(ts.TailscaleError) as caught:
        await ts.run_tailscale("serve", 4248, {}, log)
    assert str(caught.value) == (
        "Tailscale serve needs elevated access and non-interactive sudo failed: Access denied: "
        "serve config denied. Run `sudo tailscale set --operator=$USER` once so the "
        "unprivileged path succeeds."
    )
    assert all(call[0] != "sudo" for call in fake.calls())


def _legacy(port: int, *, handlers: dict[str, Any] | None = None, host: str = "h.ts.net:443"):
    return {
        "TCP": {"443": {"HTTPS": True}},
        "Web": {host: {"Handlers": handlers or {"/": {"Proxy": f"http://127.0.0.1:{port}"}}}},
    }


def test_legacy_root_route_detection() -> None:
    assert commands.has_legacy_root_route(json.dumps(_legacy(18789)), 18789)
    assert commands.has_legacy_root_route("noise\n" + json.dumps(_legacy(18789)), 18789)
    localhost = _legacy(18789, handlers={"/": {"Proxy": "http://localhost:18789/"}})
    assert commands.has_legacy_root_route(json.dumps(localhost), 18789)
    # Anything else is somebody else's route: left alone.
    assert not commands.has_legacy_root_route(json.dumps(_legacy(18790)), 18789)
    extra = {"/": {"Proxy": "http://127.0.0.1:18789"}, "/x": {"Proxy": "http://127.0.0.1:1"}}
    assert not commands.has_legacy_root_route(json.dumps(_legacy(18789, handlers=extra)), 18789)
    assert not commands.has_legacy_root_route(
        json.dumps(_legacy(18789, host="h.ts.net:8443")), 18789
    )
    remote = {"/": {"Proxy": "http://10.0.0.2:18789"}}
    assert not commands.has_legacy_root_route(json.dumps(_legacy(18789, handlers=remote)), 18789)
    no_https = _legacy(18789)
    no_https["TCP"] = {"443": {"HTTPS": False}}
    assert not commands.has_legacy_root_route(json.dumps(no_https), 18789)
    assert not commands.has_legacy_root_route("{}", 18789)
    assert not commands.has_legacy_root_route("not json", 18789)


async def test_legacy_route_is_adopted_before_the_claim(fake: FakeTailscale) -> None:
    fake.configure(serve_config=_legacy(18789))
    log, out, _ = logger()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: ts.run_tailscale(
                    "serve", 4249, {}, log, gateway_port=18789, task_status=task_status
                )
            )
            nursery.cancel_scope.cancel()
    assert fake.commands()[2:5] == [
        ["serve", "status", "--json"],
        ["serve", "--yes", "--https=443", "--set-path=/", "off"],
        ["serve", "--yes", "--bg=false", "4249"],
    ]
    assert "Tailscale route adopted from a previous OpenClaw release" in out.getvalue()


async def test_other_routes_are_not_adopted(fake: FakeTailscale) -> None:
    fake.configure(serve_config=_legacy(3000))
    log, out, _ = logger()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: ts.run_tailscale(
                    "serve", 4250, {}, log, gateway_port=18789, task_status=task_status
                )
            )
            nursery.cancel_scope.cancel()
    assert ["serve", "--yes", "--https=443", "--set-path=/", "off"] not in fake.commands()
    assert "adopted" not in out.getvalue()


async def test_missing_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    log, _, err = logger()
    with trio.fail_after(20), pytest.raises(ts.TailscaleError) as caught:
        await ts.run_tailscale("serve", 4246, {}, log)
    assert str(caught.value) == (
        "Command failed with ENOENT: tailscale serve status --json\nspawn tailscale ENOENT | ENOENT"
    )
    assert caught.value.exit_code == EXIT_FAILURE
    assert "[tailscale] serve failed: Command failed with ENOENT" in err.getvalue()


async def test_lookup_prefers_a_working_binary_on_path(fake: FakeTailscale) -> None:
    assert await ts.find_binary() == str(fake.binary)
    assert fake.calls() == [["version"]]
    assert await ts.find_binary(which=lambda name: None) == "tailscale"


async def test_shutdown_sends_sigterm_then_sigkill_after_2s(
    mock_clock: trio.testing.MockClock, fake: FakeTailscale
) -> None:
    mock_clock.autojump_threshold = 0.3  # the real child gets real time to react
    fake.configure(claim="ignore_term")
    log, _, _ = logger()
    report: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        url = await nursery.start(
            lambda task_status: ts.run_tailscale(
                "serve",
                4247,
                report,
                log,
                binary=str(fake.binary),
                runner=Recorder(),
                reset_on_exit=True,
                task_status=task_status,
            )
        )
        assert url == "https://h.ts.net/"
        assert report == {"mode": "serve", "state": "active", "url": url, "error": None}
        start = trio.current_time()
        nursery.cancel_scope.cancel()
    # SIGTERM was ignored, so the teardown waited STOP_GRACE and then killed the group.
    assert ts.STOP_GRACE <= trio.current_time() - start < ts.STOP_TIMEOUT
    assert fake.calls() == [
        ["serve", "--yes", "--bg=false", "4247"],
        ["SIGTERM", "serve", "listener=closed"],
    ]
    assert report["state"] == "stopped"


async def test_reset_runs_even_when_the_claim_failed_to_start(fake: FakeTailscale) -> None:
    fake.configure(claim="exit_early")
    runner = Recorder()
    log, _, _ = logger()
    with trio.fail_after(20), pytest.raises(ts.TailscaleError):
        await ts.run_tailscale(
            "funnel", 4248, {}, log, binary=str(fake.binary), runner=runner, reset_on_exit=True
        )
    assert runner.calls[-1] == [str(fake.binary), "funnel", "reset"]
