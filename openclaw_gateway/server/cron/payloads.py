"""What a cron run does, per payload kind.

- systemEvent: a system event in the agent's main session (server/mainsession), woken now
  or at the next heartbeat as the job's wakeMode says; ok once queued.
- command: a real subprocess (argv, cwd, its env on top of the job environment of
  cron/job_env.py: ours without the gateway's secrets, stdin `input`), output captured up
  to outputMaxBytes; killed (SIGTERM to its process group, SIGKILL after a grace) on
  timeoutSeconds, on noOutputTimeoutSeconds of silence, and when the run is cancelled (gateway
  shutdown). ok on exit 0, else error with the reason.
- agentTurn: a turn of the run manager (an `agent.turn` invoke on the agent's node, our
  extension) in the job's session; with no agent node the run fails with a clear reason. The
  node may answer a `nextCheck` duration, a proposal for a paced job (cron/pacing.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.host.terminate import terminate
from openclaw_gateway.server.cron.job_env import job_base_environment
from openclaw_gateway.server.cron.pacing import DurationError, parse_duration_ms
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.agents import AgentDirectory
from openclaw_gateway.server.runs.run import TurnRequest
from openclaw_gateway.state.session_keys import DEFAULT_AGENT_ID, main_key

KILL_GRACE_S = 2.0
DEFAULT_OUTPUT_MAX_BYTES = 64 * 1024
SUMMARY_MAX_CHARS = 2000


@attrs.frozen
class Outcome:
    status: str  # "ok" | "error" | "skipped"
    error: str | None = None
    summary: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
    # A next-check proposal (ms after the run ends) for a paced job (cron/pacing.py).
    next_check_ms: int | None = None


async def execute(
    state: GatewayState,
    job: dict[str, Any],
    *,
    kill_grace: float = KILL_GRACE_S,
    base_env: Mapping[str, str] | None = None,
) -> Outcome:
    payload = job["payload"]
    kind = payload.get("kind")
    if kind == "systemEvent":
        text = str(payload.get("text", "")).strip()
        try:
            state.require_main_session().system_event(
                text,
                agent_id=job.get("agentId"),
                wake_mode=str(job.get("wakeMode") or "now"),
                source=f"cron:{job.get('id')}",
            )
        except RpcError as exc:
            return Outcome("error", error=exc.message, summary=text)
        return Outcome("ok", summary=text)
    if kind == "command":
        return await run_command(payload, kill_grace=kill_grace, base_env=base_env)
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
                extra={
                    k: v
                    for k, v in {
                        "jobId": job["id"],
                        "jobName": job.get("name"),
                        "pacing": job.get("pacing"),
                    }.items()
                    if v is not None
                },
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
    summary = run.text[:2000]
    if run.status != "ok":
        return Outcome("error", error=run.error or run.status, summary=summary or None, extra=extra)
    answer = run.answer
    proposal = answer.get("nextCheck") if isinstance(answer, dict) else None
    if proposal is None:
        return Outcome("ok", summary=summary, extra=extra)
    try:
        delay = parse_duration_ms(proposal) if isinstance(proposal, str) else None
    except DurationError:
        delay = None
    if delay is None:
        error = "agent nextCheck must be a duration such as 30m"
        return Outcome("error", error=error, summary=summary, extra=extra)
    return Outcome("ok", summary=summary, extra=extra, next_check_ms=delay)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"command killed by {name}"
    return f"command exited with code {code}"


async def run_command(
    payload: dict[str, Any],
    *,
    kill_grace: float = KILL_GRACE_S,
    base_env: Mapping[str, str] | None = None,
) -> Outcome:
    """`base_env`: the job environment (cron/job_env.py); None: ours without our secrets."""
    argv = list(payload["argv"])
    base = job_base_environment(os.environ, ()) if base_env is None else base_env
    env = {**base, **payload.get("env", {})}
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
            await terminate(proc, kill_grace, group=True)
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
        await terminate(proc, kill_grace, group=True)
        raise
    finally:
        with trio.CancelScope(shield=True):
            for stream in (proc.stdout, proc.stdin):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        await stream.aclose()
    if proc.returncode is None:
        await terminate(proc, kill_grace, group=True)
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
