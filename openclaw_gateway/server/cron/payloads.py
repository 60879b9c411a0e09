"""What a cron run does, per payload kind.

- systemEvent: queue the text as a system event (status.queuedSystemEvents); ok.
- command: a real subprocess (argv, cwd, env on top of ours, stdin `input`), output captured up
  to outputMaxBytes; killed (SIGTERM to its process group, SIGKILL after a grace) on
  timeoutSeconds, on noOutputTimeoutSeconds of silence, and when the run is cancelled (gateway
  shutdown). ok on exit 0, else error with the reason.
- agentTurn: a turn of the run manager (an `agent.turn` invoke on the agent's node, our
  extension) in the job's session; with no agent node the run fails with a clear reason.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import uuid
from typing import Any

import attrs
import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.agents import AgentDirectory
from openclaw_gateway.server.runs.manager import TurnRequest
from openclaw_gateway.state.session_keys import DEFAULT_AGENT_ID, main_key

KILL_GRACE_S = 2.0
DEFAULT_OUTPUT_MAX_BYTES = 64 * 1024
SUMMARY_MAX_CHARS = 2000
NO_AGENT = "agent runs need an agent node; none is connected to this gateway"


@attrs.frozen
class Outcome:
    status: str  # "ok" | "error" | "skipped"
    error: str | None = None
    summary: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)


async def execute(
    state: GatewayState, job: dict[str, Any], *, kill_grace: float = KILL_GRACE_S
) -> Outcome:
    payload = job["payload"]
    kind = payload.get("kind")
    if kind == "systemEvent":
        text = str(payload.get("text", "")).strip()
        state.system_events.append(text)
        return Outcome("ok", summary=text)
    if kind == "command":
        return await run_command(payload, kill_grace=kill_grace)
    if kind == "agentTurn":
        return await run_agent_turn(state, job)
    return Outcome("error", error=f"unsupported payload kind: {kind}")


AGENT_TIMEOUT_S = 600
NO_AGENT = AgentDirectory.from_config(None).no_node_message(DEFAULT_AGENT_ID)


def cron_session(job: dict[str, Any], agent_id: str) -> str:
    """The session a cron turn runs in: the agent's main session (sessionTarget main), the
    job's bound session (current), else one isolated session per job."""
    target = job.get("sessionTarget")
    if target == "main":
        return main_key(agent_id)
    if target == "current" and isinstance(job.get("sessionKey"), str):
        return str(job["sessionKey"])
    return f"agent:{agent_id}:cron:{job['id']}"


async def run_agent_turn(state: GatewayState, job: dict[str, Any]) -> Outcome:
    """Our extension (README): an agentTurn is a turn of the run manager (server/runs), the
    same path chat.send takes, in the job's session."""
    payload = job["payload"]
    message = str(payload.get("message", ""))
    conv = state.conversations
    if conv is None:
        return Outcome("error", error="sessions are not available", summary=message[:200])
    try:
        agent_id = conv.key("main", job.get("agentId")).agent_id
        key = conv.key(cron_session(job, agent_id), agent_id)
        timeout_s = payload.get("timeoutSeconds") or AGENT_TIMEOUT_S
        run, _fresh = await conv.runs.submit(
            TurnRequest(
                key,
                message,
                f"cron:{job['id']}:{uuid.uuid4()}",
                origin="cron",
                thinking=payload.get("thinking"),
                model=payload.get("model"),
                timeout_ms=int(timeout_s * 1000),
                extra={"jobId": job["id"], "jobName": job.get("name")},
            )
        )
    except RpcError as exc:
        return Outcome("error", error=exc.message, summary=message[:200])
    try:
        await run.done.wait()
    finally:
        if not run.done.is_set():
            conv.runs.abort(run.session_key, run.run_id)
    extra = {"sessionKey": run.session_key, "runId": run.run_id}
    if run.status != "ok":
        return Outcome(
            "error", error=run.error or run.status, summary=run.text[:2000] or None, extra=extra
        )
    return Outcome("ok", summary=run.text[:2000], extra=extra)


def _signal_group(proc: trio.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(ProcessLookupError, OSError):
        proc.send_signal(sig)


async def _stop(proc: trio.Process, grace: float) -> None:
    """SIGTERM, wait up to `grace`, then SIGKILL; always reaps. Runs shielded."""
    with trio.CancelScope(shield=True):
        if proc.returncode is None:
            _signal_group(proc, signal.SIGTERM)
            with trio.move_on_after(grace):
                await proc.wait()
        if proc.returncode is None:
            _signal_group(proc, signal.SIGKILL)
            await proc.wait()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"command killed by {name}"
    return f"command exited with code {code}"


async def run_command(payload: dict[str, Any], *, kill_grace: float = KILL_GRACE_S) -> Outcome:
    argv = list(payload["argv"])
    env = {**os.environ, **payload.get("env", {})}
    max_bytes = int(payload.get("outputMaxBytes", DEFAULT_OUTPUT_MAX_BYTES))
    timeout = payload.get("timeoutSeconds")
    quiet_limit = payload.get("noOutputTimeoutSeconds")
    stdin_data = payload.get("input")
    try:
        proc = await trio.lowlevel.open_process(
            argv,
            cwd=payload.get("cwd"),
            env=env,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome("error", error=f"command failed to start: {exc.strerror or exc}")
    output = bytearray()
    truncated = False
    started = trio.current_time()
    last_output = started
    killed_for: str | None = None

    async def feed() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await proc.stdin.send_all(str(stdin_data).encode())
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await proc.stdin.aclose()

    async def read() -> None:
        nonlocal truncated, last_output
        assert proc.stdout is not None
        while True:
            chunk = await proc.stdout.receive_some(65536)
            if not chunk:
                return
            last_output = trio.current_time()
            room = max_bytes - len(output)
            if room > 0:
                output.extend(chunk[:room])
            if len(chunk) > room:
                truncated = True

    async def watchdog(cancel: trio.CancelScope) -> None:
        nonlocal killed_for
        while True:
            hard = started + timeout if timeout is not None else math.inf
            quiet = last_output + quiet_limit if quiet_limit is not None else math.inf
            deadline = min(hard, quiet)
            if deadline == math.inf:
                return
            await trio.sleep_until(deadline)
            now = trio.current_time()
            if timeout is not None and now >= started + timeout:
                killed_for = f"command timed out after {timeout}s"
            elif quiet_limit is not None and now >= last_output + quiet_limit:
                killed_for = f"command produced no output for {quiet_limit}s"
            else:
                continue
            await _stop(proc, kill_grace)
            cancel.cancel()
            return

    try:
        async with trio.open_nursery() as nursery:
            if stdin_data is not None:
                nursery.start_soon(feed)
            nursery.start_soon(watchdog, nursery.cancel_scope)
            await read()
            await proc.wait()
            nursery.cancel_scope.cancel()
    except BaseException:
        await _stop(proc, kill_grace)
        raise
    finally:
        with trio.CancelScope(shield=True):
            for stream in (proc.stdout, proc.stdin):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        await stream.aclose()
    if proc.returncode is None:
        await _stop(proc, kill_grace)
    summary = output.decode("utf-8", errors="replace")
    extra: dict[str, Any] = {"exitCode": proc.returncode}
    if truncated:
        extra["outputTruncated"] = True
    summary_text = summary[-SUMMARY_MAX_CHARS:] if summary else None
    if killed_for is not None:
        return Outcome("error", error=killed_for, summary=summary_text, extra=extra)
    code = proc.returncode
    assert code is not None
    if code == 0:
        return Outcome("ok", summary=summary_text, extra=extra)
    return Outcome("error", error=_describe_exit(code), summary=summary_text, extra=extra)
