"""Fixtures for driving the official `openclaw` CLI (npm 2026.9.6) against OUR gateway.

Where the official CLI comes from: tests/officialkit.py (OPENCLAW_REFERENCE_BIN, else the
default cache). Otherwise every interop test is skipped, and the end of the run says so loudly.

Our gateway runs as a real subprocess (scripts/bench_procs.py: `gateway run`), one per
test module, with HOME, state dir and file log under tmp_path; the official CLI runs with its
own throwaway HOME (and TMPDIR), so neither side touches ~/.openclaw or /tmp/openclaw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import attrs
import pytest

from scripts import bench_procs
from scripts.bench_procs import STOP_TIMEOUT_S, free_port
from scripts.bench_procs import clean_env as _clean_env
from scripts.bench_procs import write_config as _write_config
from tests.officialkit import LoudSkips, reference_path

TOKEN = "interop-token-0123456789abcdef"
START_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 60.0

SKIPS = LoudSkips(
    "INTEROP SKIPPED",
    "INTEROP TESTS SKIPPED",
    "Wire compatibility with the official package was NOT checked in this run.",
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    SKIPS.summary(terminalreporter)


@pytest.fixture(scope="session")
def official_path() -> str:
    """The PATH fragment for the official CLI; skips (loudly) when it is not installed."""
    fragment, why = reference_path()
    if fragment is None:
        loud_skip(f"the official openclaw CLI is unavailable: {why}")
    return fragment


def loud_skip(why: str) -> NoReturn:
    """Skip this test and say so again, in red, at the end of the run."""
    SKIPS.skip(why)


@attrs.define
class GatewayProcess:
    proc: subprocess.Popen[bytes]
    port: int
    token: str
    base: Path
    log_file: Path
    out_path: Path
    err_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return bench_procs.output(self.base)


@pytest.fixture(scope="module")
def gateway_proc(
    official_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """OUR gateway as a real subprocess for the module; asserts a clean SIGTERM exit (0).

    Depends on `official_path` so that nothing is spawned when the interop tests skip."""
    base = tmp_path_factory.mktemp("gateway")
    log_file = base / "gateway-file.log"
    config = {"gateway": {"mode": "local"}, "logging": {"file": str(log_file)}}
    port = free_port()
    args = ["--allow-unconfigured", "--token", TOKEN]
    proc = bench_procs.spawn_gateway(base, port, config, args).proc
    out_path, err_path = base / "stdout.txt", base / "stderr.txt"
    gw = GatewayProcess(proc, port, TOKEN, base, log_file, out_path, err_path)
    try:
        not_ready = bench_procs.wait_listening(proc, port, START_TIMEOUT_S)
        if not_ready is not None:
            pytest.fail(f"{not_ready}\n{gw.output()}")
        yield gw
    finally:
        code = bench_procs.stop(proc)
    assert code == 0, f"gateway exited {code} on SIGTERM\n{gw.output()}"


@attrs.frozen
class CliResult:
    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> object:
        try:
            return json.loads(self.stdout)
        except ValueError:
            pytest.fail(f"not JSON on stdout of {' '.join(self.argv)}:\n{self.describe()}")

    def describe(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@attrs.define
class OfficialCli:
    """Runs `openclaw ...` from the official package with a throwaway HOME and TMPDIR."""

    path_fragment: str
    home: Path
    tmpdir: Path

    def run(
        self, *args: str, timeout: float = CLI_TIMEOUT_S, env: dict[str, str] | None = None
    ) -> CliResult:
        env = (
            _clean_env()
            | {
                "HOME": str(self.home),
                "TMPDIR": str(self.tmpdir),
                "PATH": self.path_fragment + os.pathsep + os.environ.get("PATH", ""),
                "NO_COLOR": "1",
                "FORCE_COLOR": "0",
            }
            | (env or {})
        )
        argv = ["openclaw", *args]
        exe = _which("openclaw", self.path_fragment)
        proc = subprocess.Popen(
            [exe, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=self.tmpdir,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # The CLI may have spawned helpers in its session: end that whole group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate(timeout=STOP_TIMEOUT_S)
            pytest.fail(
                f"{' '.join(argv)} did not finish in {timeout}s\n"
                f"{CliResult(argv, -9, out.decode(errors='replace'), err.decode(errors='replace')).describe()}"
            )
        return CliResult(
            argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )


def _which(name: str, path_fragment: str) -> str:
    for d in path_fragment.split(os.pathsep):
        candidate = Path(d) / name
        if d and candidate.exists():
            return str(candidate)
    pytest.fail(f"{name} not found in {path_fragment}")


@pytest.fixture(scope="module")
def official_cli(
    official_path: str, gateway_proc: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> OfficialCli:
    """The official CLI with a throwaway HOME whose config points `gateway.port` at our
    gateway (so `gateway probe`'s implicit local-loopback target is the same URL as --url and
    nothing else on this machine is probed) and whose file log stays in tmp."""
    base = tmp_path_factory.mktemp("official-cli")
    home = base / "home"
    _write_config(
        home,
        {"gateway": {"port": gateway_proc.port}, "logging": {"file": str(base / "cli.log")}},
    )
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    return OfficialCli(official_path, home, tmpdir)
