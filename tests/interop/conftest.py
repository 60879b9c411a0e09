"""Fixtures for driving the official `openclaw` CLI (npm 2026.9.6) against OUR gateway.

Where the official CLI comes from, first match wins:
1. env OPENCLAW_REFERENCE_BIN: the PATH fragment printed by `scripts/reference-openclaw`;
2. the default cache ~/.cache/openclaw-ref, if `scripts/reference-openclaw` filled it earlier.
Otherwise every interop test is skipped, and the end of the run says so loudly.

Our gateway runs as a real subprocess (`python -m openclaw_gateway gateway run`), one per
test module, with HOME, state dir and file log under tmp_path; the official CLI runs with its
own throwaway HOME (and TMPDIR), so neither side touches ~/.openclaw or /tmp/openclaw.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import attrs
import pytest

TOKEN = "interop-token-0123456789abcdef"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 60.0

_SKIPPED_REASONS: list[str] = []


def _node_pkg() -> str:
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
    return f"node-linux-{arch.get(platform.machine().lower(), platform.machine())}"


def reference_path() -> tuple[str | None, str]:
    """(PATH fragment holding `node` 24 and `openclaw`, or None; where it came from / why not)."""
    env_value = os.environ.get("OPENCLAW_REFERENCE_BIN", "").strip()
    if env_value:
        source = "OPENCLAW_REFERENCE_BIN"
        fragment = env_value
    else:
        cache = Path.home() / ".cache" / "openclaw-ref" / "node_modules"
        source = str(cache.parent)
        fragment = os.pathsep.join([str(cache / _node_pkg() / "bin"), str(cache / ".bin")])
    dirs = [Path(d) for d in fragment.split(os.pathsep) if d]
    has_node = any((d / "node").is_file() for d in dirs)
    has_cli = any((d / "openclaw").exists() for d in dirs)
    if has_node and has_cli:
        return fragment, source
    why = (
        f"official openclaw CLI not found (OPENCLAW_REFERENCE_BIN unset or incomplete, and "
        f"{source} has no node+openclaw); run scripts/reference-openclaw to install it"
        if not env_value
        else f"OPENCLAW_REFERENCE_BIN={env_value!r} holds no `node` and `openclaw`"
    )
    return None, why


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _SKIPPED_REASONS:
        return
    terminalreporter.section("INTEROP TESTS SKIPPED", sep="!", red=True, bold=True)
    for reason in dict.fromkeys(_SKIPPED_REASONS):
        terminalreporter.write_line(f"WARNING: {reason}", red=True, bold=True)
    terminalreporter.write_line(
        "Wire compatibility with the official package was NOT checked in this run.",
        red=True,
        bold=True,
    )


@pytest.fixture(scope="session")
def official_path() -> str:
    """The PATH fragment for the official CLI; skips (loudly) when it is not installed."""
    fragment, why = reference_path()
    if fragment is None:
        loud_skip(f"the official openclaw CLI is unavailable: {why}")
    return fragment


def loud_skip(why: str) -> NoReturn:
    """Skip this test and say so again, in red, at the end of the run."""
    _SKIPPED_REASONS.append(why)
    pytest.skip(f"INTEROP SKIPPED: {why}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """The environment minus anything that could point either side at a real install."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}


def _write_config(home: Path, body: dict[str, object]) -> Path:
    state = home / ".openclaw"
    state.mkdir(parents=True, exist_ok=True)
    path = state / "openclaw.json"
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return state


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
        out = self.out_path.read_text(encoding="utf-8", errors="replace")
        err = self.err_path.read_text(encoding="utf-8", errors="replace")
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"


def _wait_until_accepting(gw: GatewayProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if gw.proc.poll() is not None:
            pytest.fail(f"gateway exited early with {gw.proc.returncode}\n{gw.output()}")
        try:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(
        f"gateway did not accept on port {gw.port} within {START_TIMEOUT_S}s\n{gw.output()}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, bounded wait, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def gateway_proc(
    official_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """OUR gateway as a real subprocess for the module; asserts a clean SIGTERM exit (0).

    Depends on `official_path` so that nothing is spawned when the interop tests skip."""
    base = tmp_path_factory.mktemp("gateway")
    home = base / "home"
    log_file = base / "gateway-file.log"
    state = _write_config(home, {"gateway": {"mode": "local"}, "logging": {"file": str(log_file)}})
    env = _clean_env() | {"HOME": str(home), "OPENCLAW_STATE_DIR": str(state)}
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "openclaw_gateway",
        "gateway",
        "run",
        "--port",
        str(port),
        "--bind",
        "loopback",
        "--allow-unconfigured",
        "--token",
        TOKEN,
    ]
    out_path, err_path = base / "stdout.txt", base / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=base
        )
    gw = GatewayProcess(proc, port, TOKEN, base, log_file, out_path, err_path)
    try:
        _wait_until_accepting(gw)
        yield gw
    finally:
        code = _stop(proc)
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
