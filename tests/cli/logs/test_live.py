"""`openclaw logs` against a real in-process gateway on 127.0.0.1 (autojump clock).

The polling loop (`tail_logs`) runs with the real `logs.tail` fetcher; the gateway writes its
real file log, rotates it for real (FileLog), stops and starts again on the same port.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import attrs
import trio

from openclaw_gateway.cli.logs_cmd import MAX_FOLLOW_RETRIES, Output, run_logs, tail_logs
from openclaw_gateway.cli.logs_fetch import gateway_fetcher
from openclaw_gateway.cli.logs_format import LogsOptions
from openclaw_gateway.cli.target import Target
from openclaw_gateway.server.supervisor import run_gateway
from tests.helpers import TOKEN, RunningGateway, make_settings
from tests.server.integration.support import free_port

BOUND = 600  # seconds of (virtual) time any wait below may take


def _target(port: int, source: str = "local loopback") -> Target:
    return Target(url=f"ws://127.0.0.1:{port}", url_source=source, token=TOKEN)


def _config_env(tmp_path: Path, log_file: Path, port: int) -> dict[str, str]:
    state = tmp_path / "cli-state"
    state.mkdir(exist_ok=True)
    config = state / "openclaw.json"
    body = {"gateway": {"mode": "local", "port": port, "auth": {"token": TOKEN}}}
    config.write_text(json.dumps({**body, "logging": {"file": str(log_file)}}))
    return {
        "HOME": str(tmp_path),
        "OPENCLAW_STATE_DIR": str(state),
        "OPENCLAW_CONFIG_PATH": str(config),
    }


async def _start_on(nursery: trio.Nursery, base: Path, port: int) -> RunningGateway:
    """An in-process gateway on a fixed port (to come back on the same one)."""
    await trio.Path(base).mkdir()
    settings, out, err = make_settings(base)
    settings = attrs.evolve(settings, port=port)
    shutdown = trio.Event()
    await nursery.start(
        lambda task_status: run_gateway(settings, shutdown=shutdown, task_status=task_status)
    )
    return RunningGateway(port, shutdown, settings, out, err)


async def _wait_for(stream: io.StringIO, needle: str) -> None:
    with trio.fail_after(BOUND):
        while True:
            if needle in stream.getvalue():
                return
            await trio.sleep(0.1)


async def test_one_shot_human_and_json(
    autojump_clock: trio.testing.MockClock, gateway: RunningGateway, tmp_path: Path
) -> None:
    log_file = gateway.settings.log_file
    assert log_file is not None
    env = _config_env(tmp_path, log_file, gateway.port)
    out, err = io.StringIO(), io.StringIO()
    opts = LogsOptions(local_time=False)
    fetch = gateway_fetcher(opts, _target(gateway.port), env, explicit_url=False)
    assert await tail_logs(opts, fetch, Output(out, err)) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"Log file: {log_file}"
    assert any(line.endswith(" info gateway ready") for line in lines[1:])
    assert err.getvalue() == ""  # served by the gateway: no fallback notice

    out, err = io.StringIO(), io.StringIO()
    opts = LogsOptions(json=True, limit=1)
    fetch = gateway_fetcher(opts, _target(gateway.port), env, explicit_url=False)
    assert await tail_logs(opts, fetch, Output(out, err)) == 0
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["type"] for r in records] == ["meta", "log", "notice"]
    size = log_file.stat().st_size
    assert records[0] == {
        "type": "meta",
        "file": str(log_file),
        "sourceKind": "file",
        "cursor": size,
        "size": size,
    }
    assert records[1]["raw"] == log_file.read_text().splitlines()[-1]
    assert records[2] == {
        "type": "notice",
        "message": "Log tail truncated (increase --limit or --max-bytes).",
    }


async def test_follow_sees_new_lines_and_a_rotation(
    autojump_clock: trio.testing.MockClock, gateway: RunningGateway, tmp_path: Path
) -> None:
    log = gateway.settings.logger
    assert log.file_log is not None and gateway.settings.log_file is not None
    env = _config_env(tmp_path, gateway.settings.log_file, gateway.port)
    out, err = io.StringIO(), io.StringIO()
    opts = LogsOptions(follow=True, interval_ms=1000, local_time=False)
    fetch = gateway_fetcher(opts, _target(gateway.port), env, explicit_url=False)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tail_logs, opts, fetch, Output(out, err))
        await _wait_for(out, "info gateway ready")
        log.info("test", "first followed line")
        await _wait_for(out, "info test first followed line")
        # The next write rotates the file (FileLog keeps numbered archives).
        log.file_log.max_bytes = log.file_log.path.stat().st_size + 10
        log.info("test", "line in the new file")
        await _wait_for(out, "info test line in the new file")
        nursery.cancel_scope.cancel()
    assert (gateway.settings.log_file.with_name("gateway.1.log")).exists()
    assert err.getvalue() == "Log cursor reset (file rotated).\n"
    lines = out.getvalue().splitlines()
    assert lines.count(f"Log file: {gateway.settings.log_file}") == 1
    assert sum("first followed line" in line for line in lines) == 1
    assert lines[-1].endswith("info test line in the new file")


async def test_follow_reconnects_to_a_gateway_that_came_back(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = free_port()
    first = await _start_on(nursery, tmp_path / "a", port)
    assert first.settings.log_file is not None
    env = _config_env(tmp_path, first.settings.log_file, port)
    out, err = io.StringIO(), io.StringIO()
    opts = LogsOptions(follow=True, json=True)
    fetch = gateway_fetcher(opts, _target(port), env, explicit_url=False)
    second: RunningGateway | None = None
    async with trio.open_nursery() as inner:
        inner.start_soon(lambda: tail_logs(opts, fetch, Output(out, err), rand=lambda: 0.0))
        await _wait_for(out, '"type":"meta"')
        first.shutdown.set()
        await _wait_for(err, "reconnecting in 2s")
        # Freeze virtual time while the second gateway starts: its start-up waits on worker
        # threads, and an autojumping clock would spend the whole retry budget meanwhile.
        autojump_clock.autojump_threshold = math.inf
        second = await _start_on(nursery, tmp_path / "b", port)
        autojump_clock.autojump_threshold = 0
        await _wait_for(err, "[logs] gateway reconnected")
        await _wait_for(out, str(second.settings.log_file))
        inner.cancel_scope.cancel()
    first.settings.logger.close()
    assert second is not None
    second.shutdown.set()
    second.settings.logger.close()
    notices = [json.loads(x) for x in err.getvalue().splitlines()]
    assert notices[:2] == [
        {"type": "notice", "message": "[logs] gateway disconnected, reconnecting in 1s..."},
        {"type": "notice", "message": "[logs] gateway disconnected, reconnecting in 2s..."},
    ]
    assert notices[-1] == {"type": "notice", "message": "[logs] gateway reconnected"}
    metas = [r for r in map(json.loads, out.getvalue().splitlines()) if r["type"] == "meta"]
    # A new source is announced again.
    assert [m["file"] for m in metas] == [
        str(first.settings.log_file),
        str(second.settings.log_file),
    ]


async def test_follow_gives_up_after_the_retry_budget(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here
    env = _config_env(tmp_path, tmp_path / "unused.log", port)
    out, err = io.StringIO(), io.StringIO()
    opts = LogsOptions(follow=True)
    target = Target(
        url=f"ws://127.0.0.1:{port}",
        url_source="local loopback",
        token=TOKEN,
        config_path=tmp_path / "openclaw.json",
        bind_detail="Bind: loopback",
    )
    fetch = gateway_fetcher(opts, target, env, explicit_url=False)
    start = trio.current_time()
    with trio.fail_after(BOUND):
        code = await tail_logs(opts, fetch, Output(out, err), rand=lambda: 0.0)
    waited = trio.current_time() - start
    assert code == 1
    assert out.getvalue() == ""  # --follow never falls back to the file
    lines = err.getvalue().splitlines()
    delays = [1, 2, 4, 8, 16, 30, 30, 30]
    assert len(delays) == MAX_FOLLOW_RETRIES
    assert lines[:8] == [f"[logs] gateway disconnected, reconnecting in {d}s..." for d in delays]
    block = [
        f"Gateway target: ws://127.0.0.1:{port}",
        "Source: local loopback",
        f"Config: {tmp_path / 'openclaw.json'}",
        "Bind: loopback",
    ]
    assert lines[8:] == [
        f"Gateway not reachable at ws://127.0.0.1:{port} (ECONNREFUSED).",
        "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
        *block,
        *block,
        "Hint: run `openclaw doctor`.",
    ]
    assert sum(delays) <= waited < sum(delays) + 60


def _run(opts: dict[str, Any], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_logs(opts, env, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_unreachable_local_gateway_reads_the_configured_file(tmp_path: Path) -> None:
    log_file = tmp_path / "gw.log"
    record = {
        "0": '{"subsystem":"gateway"}',
        "1": "from the file",
        "_meta": {"logLevelName": "INFO", "name": '{"subsystem":"gateway"}'},
        "time": "2026-11-24T15:57:40.517+00:00",
        "message": "from the file",
    }
    log_file.write_text(json.dumps(record) + "\n")
    env = _config_env(tmp_path, log_file, free_port())
    code, out, err = _run({"utc": True}, env)
    assert code == 0
    assert err == "Local Gateway RPC unavailable; reading configured file log instead.\n"
    assert out.splitlines() == [
        f"Log file: {log_file}",
        "2026-11-24T15:57:40.517Z info gateway from the file",
    ]
    code, out, err = _run({"json": True}, env)
    assert (code, err) == (0, "")
    size = log_file.stat().st_size
    assert json.loads(out.splitlines()[0]) == {
        "type": "meta",
        "file": str(log_file),
        "sourceKind": "file",
        "cursor": size,
        "size": size,
        "localFallback": True,
    }


def test_an_explicit_url_never_falls_back(tmp_path: Path) -> None:
    log_file = tmp_path / "gw.log"
    log_file.write_text("a line that must not be shown\n")
    port = free_port()
    env = _config_env(tmp_path, log_file, port)
    url = f"ws://127.0.0.1:{port}"
    code, out, err = _run({"url": url, "token": TOKEN}, env)
    assert (code, out) == (1, "")
    block = [
        f"Gateway target: {url}",
        "Source: cli --url",
        f"Config: {env['OPENCLAW_CONFIG_PATH']}",
    ]
    assert err.splitlines() == [
        f"Gateway not reachable at {url} (ECONNREFUSED).",
        "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
        *block,
        *block,
        "Hint: run `openclaw doctor`.",
    ]
    code, out, err = _run({"url": url, "token": TOKEN, "json": True}, env)
    assert (code, out) == (1, "")
    text = "\n".join(
        [
            f"Gateway not reachable at {url} (ECONNREFUSED).",
            "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
            *block,
        ]
    )
    assert json.loads(err) == {
        "type": "error",
        "message": text,
        "error": text,
        "details": {"url": url, "urlSource": "cli --url", "message": "\n".join(block)},
        "hint": "Hint: run `openclaw doctor`.",
    }


def test_bad_options_change_nothing(tmp_path: Path) -> None:
    env = _config_env(tmp_path, tmp_path / "gw.log", free_port())
    for flag, key in (("--limit", "limit"), ("--interval", "interval")):
        code, out, err = _run({key: "0"}, env)
        assert (code, out) == (1, "")
        assert err.splitlines() == [
            "[openclaw] The CLI command failed.",
            f"[openclaw] Reason: {flag} must be a positive integer.",
            "[openclaw] Debug: set OPENCLAW_DEBUG=1 to include the stack trace.",
            "[openclaw] Try: openclaw doctor",
            "[openclaw] Help: openclaw --help",
        ]
    assert not (tmp_path / "gw.log").exists()


def test_a_secret_in_the_url_never_reaches_the_output(tmp_path: Path) -> None:
    port = free_port()
    env = _config_env(tmp_path, tmp_path / "gw.log", port)
    secret = "url-secret-7a6b5c4d3e2f1a0b"
    url = f"ws://127.0.0.1:{port}/?token={secret}"
    for as_json in (False, True):
        code, out, err = _run({"url": url, "password": secret, "json": as_json}, env)
        assert code == 1
        assert secret not in out + err
        assert f"ws://127.0.0.1:{port}/?token=***" in err
