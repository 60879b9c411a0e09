"""Tailscale Serve/Funnel controller: the one home of the `tailscale` subprocess calls.

Sequence (cli.md §5, official `tailscale-*.mjs`), every exec bounded to 5 s:

    tailscale version                      binary lookup (PATH, then the macOS app), 3 s
    tailscale status --json                wait while BackendState is NoState/Starting (2 s poll, <= 90 s)
    tailscale serve status --json          what Tailscale serves now (also: missing binary fails here)
    tailscale serve|funnel --yes --bg=false <port>    the claim: a foreground child in its own
                                           process group, ready on "Press Ctrl+C to exit." (<= 15 s)
    tailscale status --json                public host: Self.DNSName (no trailing dot) or the first
                                           Self.TailscaleIPs (3 tries, 500 ms apart)

On shutdown (always, shielded): SIGTERM to the claim's process group, SIGKILL after 2 s, and with
reset-on-exit `tailscale serve reset` / `tailscale funnel reset` afterwards. The argv builders
and output parsers are pure (tailscale_commands.py); this module runs them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio

from openclaw_gateway.core.errors import EXIT_CONFIG, EXIT_FAILURE, StartupError
from openclaw_gateway.core.logs import Logger
from openclaw_gateway.host.terminate import terminate
from openclaw_gateway.server.tailscale_commands import (
    SUDO_NONINTERACTIVE_AUTH_ERROR,
    ExecFailed,
    ExecResult,
    Runner,
    build_adopt_argv,
    build_claim_argv,
    build_reset_argv,
    build_serve_status_argv,
    build_version_argv,
    enabled_message,
    has_legacy_root_route,
    hostname_from_status,
    is_permission_denied,
    new_report,
    parse_status_json,
    spawn_failure,
)

SUBSYSTEM = "tailscale"
READY_MARKER = "Press Ctrl+C to exit."
READY_TIMEOUT = 15.0
EXEC_TIMEOUT = 5.0
VERSION_TIMEOUT = 3.0
BACKEND_WAIT = 90.0
BACKEND_POLL = 2.0
BOOTING_STATES = frozenset({"NoState", "Starting"})
STATUS_ATTEMPTS = 3
STATUS_RETRY_DELAY = 0.5
STOP_GRACE = 2.0  # SIGTERM -> SIGKILL
STOP_TIMEOUT = 4.0  # the whole teardown (official route owner: 4 s)
MAC_APP_BINARY = "/Applications/Tailscale.app/Contents/MacOS/Tailscale"
OUTPUT_LIMIT = 64 * 1024


class TailscaleError(StartupError):
    """The route could not be claimed (start-up fails with the reference's exit code)."""


# -- subprocess I/O --------------------------------------------------------------------------------


async def run_exec(argv: Sequence[str], limit_s: float) -> ExecResult:
    """Run one short tailscale command; failures raise ExecFailed with the official wording."""
    shown = " ".join(argv)
    try:
        with trio.fail_after(limit_s):
            done = await trio.run_process(
                list(argv),
                stdin=subprocess.DEVNULL,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    except (FileNotFoundError, PermissionError) as exc:
        raise spawn_failure(exc, argv) from None
    except trio.TooSlowError:
        raise ExecFailed(f"Command timed out after {int(limit_s * 1000)}ms: {shown}") from None
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        detail = err.strip() or out.strip()
        raise ExecFailed(
            f"Command failed with exit code {done.returncode}: {shown}"
            + (f"\n{detail}" if detail else ""),
            stdout=out,
            stderr=err,
        )
    return ExecResult(tuple(argv), done.returncode, out, err)


async def find_binary(
    runner: Runner = run_exec, which: Callable[[str], str | None] = shutil.which
) -> str:
    """PATH (verified with `tailscale version`), then the macOS app, else the bare name."""
    for candidate in (which("tailscale"), MAC_APP_BINARY):
        if not candidate or not await trio.Path(candidate).exists():
            continue
        try:
            await runner(build_version_argv(candidate), VERSION_TIMEOUT)
        except ExecFailed:
            continue
        return candidate
    return "tailscale"


async def wait_for_backend(
    prefix: Sequence[str],
    info: Callable[[str], None],
    runner: Runner = run_exec,
    *,
    deadline: float = BACKEND_WAIT,
    poll: float = BACKEND_POLL,
) -> None:
    """Bounded wait while the daemon boots; anything else returns (the claim reports it)."""
    until = trio.current_time() + deadline
    announced: str | None = None
    while True:
        try:
            result = await runner([*prefix, "status", "--json"], EXEC_TIMEOUT)
            state = parse_status_json(result.stdout).get("BackendState")
            if not isinstance(state, str) or state not in BOOTING_STATES:
                return
            pending = state
        except (ExecFailed, ValueError) as exc:
            text = f"{exc}\n{getattr(exc, 'stderr', '')}".lower()
            transient = isinstance(exc, ExecFailed) and any(
                hint in text
                for hint in (
                    "timed out",
                    "failed to connect to local tailscale",
                    "connection refused",
                    "503 service unavailable",
                )
            )
            if not transient:
                return
            pending = "daemon not reachable"
        if trio.current_time() >= until:
            return
        if announced != pending:
            info(f"waiting for the local Tailscale daemon ({pending})")
            announced = pending
        await trio.sleep(poll)


async def tailnet_host(prefix: Sequence[str], runner: Runner = run_exec) -> str | None:
    for attempt in range(STATUS_ATTEMPTS):
        try:
            result = await runner([*prefix, "status", "--json"], EXEC_TIMEOUT)
            return hostname_from_status(parse_status_json(result.stdout))
        except (ExecFailed, ValueError):
            if attempt + 1 < STATUS_ATTEMPTS:
                await trio.sleep(STATUS_RETRY_DELAY)
    return None


class _Claim:
    """The foreground `tailscale serve|funnel` child and what it printed."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.output = {"stdout": "", "stderr": ""}
        self.ready = trio.Event()
        self.drained = trio.Event()
        self._open_pumps = 2

    async def pump(self, name: str, stream: trio.abc.ReceiveStream | None) -> None:
        try:
            if stream is not None:
                await self._pump(name, stream)
        finally:
            self._open_pumps -= 1
            if self._open_pumps == 0:
                self.drained.set()

    async def _pump(self, name: str, stream: trio.abc.ReceiveStream) -> None:
        while True:
            try:
                chunk = await stream.receive_some(4096)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            if not chunk:
                return
            text = (self.output[name] + chunk.decode("utf-8", "replace"))[-OUTPUT_LIMIT:]
            self.output[name] = text
            if READY_MARKER in text:
                self.ready.set()

    def failure(self) -> str:
        detail = self.output["stderr"].strip() or self.output["stdout"].strip()
        return detail or "Tailscale route owner exited before claiming route"

    async def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after STOP_GRACE, all within STOP_TIMEOUT (reaped
        unless the limit ran out); always closes the pipes."""
        try:
            await terminate(self.process, STOP_GRACE, group=True, limit=STOP_TIMEOUT)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    await stream.aclose()  # closes the fd even when cancelled


async def _open_claim(argv: Sequence[str]) -> _Claim:
    try:
        process = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group: the whole tree gets the signals
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise spawn_failure(exc, argv) from None
    return _Claim(process)


def _claim_error(mode: str, claim: _Claim) -> TailscaleError:
    text = f"{claim.output['stderr']}\n{claim.output['stdout']}"
    if "listener already exists for port" in text.lower():
        port = re.search(r"listener already exists for port (\d+)", text, re.IGNORECASE)
        return TailscaleError(
            f"Tailscale HTTPS port {port.group(1) if port else 443} is already owned by a route "
            "whose ownership OpenClaw cannot prove; it was not modified. Inspect `tailscale "
            "serve status --json`",
            exit_code=EXIT_CONFIG,
        )
    return TailscaleError(claim.failure())


def _permission_error(mode: str, detail: str) -> TailscaleError:
    return TailscaleError(
        f"Tailscale {mode} needs elevated access and non-interactive sudo failed: {detail}. "
        "Run `sudo tailscale set --operator=$USER` once so the unprivileged path succeeds.",
        exit_code=EXIT_FAILURE,
    )


# -- the service ---------------------------------------------------------------------------------


class _Denied(Exception):
    """A permission failure before the route was claimed: retried once as `sudo -n tailscale`."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def run_tailscale(
    mode: str,
    target: int | str,
    report: dict[str, Any],
    log: Logger,
    *,
    gateway_port: int | None = None,
    binary: str | None = None,
    reset_on_exit: bool = False,
    ready_timeout: float = READY_TIMEOUT,
    backend_wait: float = BACKEND_WAIT,
    runner: Runner = run_exec,
    task_status: trio.TaskStatus[str | None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Claim the route to `target` (the ingress port), report started with the public URL, hold it
    until cancelled.

    Start-up failures raise TailscaleError before `started`. A permission failure is retried
    once through `sudo -n` as the official does. A claim that dies later is logged and recorded
    in `report` (state "exited"); the gateway keeps running without the route. Cancellation
    (shutdown) always runs the shielded teardown. `gateway_port`: a persistent root route an
    earlier release pointed at the gateway port itself is switched off (adopted) first.
    """
    report.update(new_report(mode))

    def fail(error: TailscaleError) -> TailscaleError:
        report.update(state="failed", error=str(error))
        log.warn(SUBSYSTEM, f"{mode} failed: {error}")
        return error

    bin_path = binary or await find_binary(runner)
    route = _Route(mode, target, report, log, gateway_port, ready_timeout, backend_wait, runner)
    try:
        await route.hold([bin_path], reset_on_exit, task_status)
    except _Denied as first:
        if shutil.which("sudo") is None:  # nothing to escalate with: say what was denied
            raise fail(_permission_error(mode, first.detail)) from None
        try:
            await route.hold(["sudo", "-n", bin_path], reset_on_exit, task_status)
        except _Denied as denied:
            if SUDO_NONINTERACTIVE_AUTH_ERROR.search(denied.detail):
                raise fail(_permission_error(mode, denied.detail)) from None
            raise fail(TailscaleError(denied.detail)) from None
        except TailscaleError as error:
            raise fail(error) from None
    except TailscaleError as error:
        raise fail(error) from None


@attrs.define
class _Route:
    """One attempt at claiming the route with a given command prefix."""

    mode: str
    target: int | str
    report: dict[str, Any]
    log: Logger
    gateway_port: int | None
    ready_timeout: float
    backend_wait: float
    runner: Runner

    def info(self, message: str) -> None:
        self.log.info(SUBSYSTEM, message)

    async def _claim(self, prefix: list[str]) -> tuple[_Claim, bool]:
        """Backend wait, legacy-route adoption, then the foreground claim (not yet ready)."""
        try:
            await wait_for_backend(prefix, self.info, self.runner, deadline=self.backend_wait)
            status = await self.runner(build_serve_status_argv(prefix), EXEC_TIMEOUT)
            adopted = False
            if self.gateway_port is not None and has_legacy_root_route(
                status.stdout, self.gateway_port
            ):
                await self.runner(build_adopt_argv(prefix), EXEC_TIMEOUT)
                adopted = True
            return await _open_claim(build_claim_argv(prefix, self.mode, self.target)), adopted
        except ExecFailed as exc:
            detail = exc.stderr.strip() or str(exc)
            denied = is_permission_denied(f"{exc}\n{exc.stderr}\n{exc.stdout}", exc.code)
            if denied or SUDO_NONINTERACTIVE_AUTH_ERROR.search(exc.stderr):
                raise _Denied(detail) from None
            raise TailscaleError(str(exc)) from None

    async def hold(
        self,
        prefix: list[str],
        reset_on_exit: bool,
        task_status: trio.TaskStatus[str | None],
    ) -> None:
        mode = self.mode
        claim: _Claim | None = None
        denied = False  # retried through sudo: nothing of ours to reset with this prefix
        try:
            claim, adopted = await self._claim(prefix)
            exited = trio.Event()

            async def watch_exit() -> None:
                assert claim is not None
                await claim.process.wait()
                with trio.move_on_after(0.5):  # what it printed last, unless a grandchild holds it
                    await claim.drained.wait()
                exited.set()
                claim.ready.set()  # wake the readiness wait

            async def until_ready(claim: _Claim) -> TailscaleError | _Denied | str | None:
                """The public URL (or None) once ready, else the start-up error."""
                with trio.move_on_after(self.ready_timeout):
                    await claim.ready.wait()
                if not claim.ready.is_set():
                    return TailscaleError(
                        "Tailscale route claim did not become ready within "
                        f"{self.ready_timeout:g} seconds"
                    )
                if exited.is_set() and READY_MARKER not in "".join(claim.output.values()):
                    if is_permission_denied(claim.failure()):
                        return _Denied(claim.failure())
                    return _claim_error(mode, claim)
                host = await tailnet_host(prefix, self.runner)
                if exited.is_set():
                    return TailscaleError(f"Managed Tailscale {mode} claim exited during startup")
                if adopted:
                    self.info("Tailscale route adopted from a previous OpenClaw release")
                self.info(enabled_message(mode, host))
                return f"https://{host}/" if host else None

            error: TailscaleError | _Denied | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(claim.pump, "stdout", claim.process.stdout)
                nursery.start_soon(claim.pump, "stderr", claim.process.stderr)
                nursery.start_soon(watch_exit)
                outcome = await until_ready(claim)
                if isinstance(outcome, (TailscaleError, _Denied)):
                    error = outcome
                else:
                    self.report.update(state="active", url=outcome, error=None)
                    task_status.started(outcome)
                    await exited.wait()
                    code = claim.process.returncode
                    self.report.update(
                        state="exited",
                        error=f"route claim exited (code {code})"
                        + (f": {claim.failure()}" if claim.output["stderr"].strip() else ""),
                    )
                    self.log.warn(
                        SUBSYSTEM,
                        f"{mode} route claim exited; managed Tailscale ingress is unavailable "
                        "until the Gateway restarts",
                    )
                nursery.cancel_scope.cancel()
            if error is not None:
                denied = isinstance(error, _Denied)
                raise error
        finally:
            # Shielded and bounded: runs on shutdown (cancellation) and after a failed start.
            if claim is not None:
                with trio.CancelScope(shield=True):  # bounded by STOP_TIMEOUT inside
                    await claim.stop()
                if self.report.get("state") == "active":
                    self.report.update(state="stopped")
            if reset_on_exit and claim is not None and not denied:
                with trio.move_on_after(EXEC_TIMEOUT + 1, shield=True):
                    try:
                        await self.runner(build_reset_argv(prefix, mode), EXEC_TIMEOUT)
                        self.info(f"{mode} reset")
                    except ExecFailed as exc:
                        self.log.warn(SUBSYSTEM, f"{mode} reset failed: {exc}")
