"""`gateway run` checks, in order, with exact messages and exit codes (cli.md §1.1, §2.4, §3).

These call the command function in-process. Nothing here may serve: the supervisor is
replaced by a tripwire, so a check that wrongly lets the gateway through fails loudly.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import openclaw_gateway.server.supervisor as supervisor
from openclaw_gateway.cli import run as run_mod
from openclaw_gateway.cli import run_start
from openclaw_gateway.cli.run import RunOptions, run_gateway_command
from openclaw_gateway.core.errors import StartupError
from openclaw_gateway.host.lock import StateLock
from tests.cli.support import STAMP, base_env, local_config, unstamp, write_config
from tests.host.procs import listener, readline

MISSING = (
    "Missing config. Run `openclaw setup` or set gateway.mode=local (or pass --allow-unconfigured)."
)
NO_MODE = (
    "Gateway start blocked: existing config is missing gateway.mode. Treat this as suspicious "
    "or clobbered config. Re-run `openclaw onboard --mode local` or `openclaw setup`, set "
    "gateway.mode=local manually, or pass --allow-unconfigured."
)
REFUSE_CONTAINER = [
    "Container environment detected — the gateway defaults to bind=auto (0.0.0.0) for "
    "port-forwarding compatibility.",
    "Set OPENCLAW_GATEWAY_TOKEN or OPENCLAW_GATEWAY_PASSWORD, or pass --token/--password *** "
    "start with auth.",
]
REFUSE_HOST = [
    "Set gateway.auth.token/password (or OPENCLAW_GATEWAY_TOKEN/OPENCLAW_GATEWAY_PASSWORD) or "
    "pass --token/--password."
]
TOKEN = "inprocess-token-7c1d2e"


@pytest.fixture(autouse=True)
def _never_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    async def tripwire(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the gateway would have started")

    monkeypatch.setattr(supervisor, "run_gateway", tripwire)
    monkeypatch.setattr(run_start, "_set_process_title", lambda: None)


@pytest.fixture(name="home")
def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def err_lines(self) -> list[str]:
        return unstamp(self.err)

    @property
    def out_lines(self) -> list[str]:
        return unstamp(self.out)


def run(
    capsys: pytest.CaptureFixture[str], home: Path, env: dict[str, str] | None = None, **opts: Any
) -> Result:
    code = run_gateway_command(RunOptions(**opts), env or base_env(home))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


# -- before the configuration is read ------------------------------------------------------


def test_reset_without_dev_comes_first(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    r = run(capsys, home, reset=True, port="abc", ws_log="bad")
    assert (r.code, r.out, r.err) == (1, "", "Use --reset with --dev.\n")


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"port": "abc"},
        {"ws_log": "bad"},
        {"bind": "bad"},
        {"auth": "bad"},
        {"password": "a", "password_file": "b"},
    ],
)
def test_missing_config_is_refused_before_any_flag_check(
    capsys: pytest.CaptureFixture[str], home: Path, opts: dict[str, Any]
) -> None:
    r = run(capsys, home, **opts)
    assert (r.code, r.out, r.err) == (78, "", MISSING + "\n")


def test_other_mode_is_refused_up_front(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    write_config(home, {"gateway": {"mode": "remote"}})
    r = run(capsys, home, port="abc")
    assert r.code == 78
    assert r.err == (
        "Gateway start blocked: set gateway.mode=local (current: remote) or pass "
        "--allow-unconfigured.\n"
    )


def test_ws_log_is_checked_unstamped(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    local_config(home)
    r = run(capsys, home, ws_log="bad", port="abc")
    assert (r.code, r.err) == (1, 'Invalid --ws-log. Use "auto", "full", or "compact".\n')
    assert r.out == ""


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (
            {"ambient_channels": True},
            "--ambient-channels is not supported: no channels are configured from the environment.",
        ),
        (
            {"cli_backend_logs": True},
            "--cli-backend-logs is not supported: no CLI backend runs in this gateway.",
        ),
        (
            {"raw_stream": True},
            "--raw-stream is not supported: no raw model stream is logged by this gateway.",
        ),
        (
            {"raw_stream_path": "/tmp/x.jsonl"},
            "--raw-stream-path is not supported: no raw model stream is logged by this gateway.",
        ),
    ],
)
def test_flags_without_a_subject_here_are_refused(
    capsys: pytest.CaptureFixture[str], home: Path, opts: dict[str, Any], message: str
) -> None:
    """Issue 13 §1: accepted by the parser (official shape), then refused, never ignored."""
    local_config(home)
    env = base_env(home)
    r = run(capsys, home, env, port="abc", **opts)
    assert (r.code, r.out, r.err) == (1, "", message + "\n")
    assert "OPENCLAW_RAW_STREAM" not in env and "OPENCLAW_RAW_STREAM_PATH" not in env


# -- flag values (stamped, exit 1) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"port": "abc"}, "Invalid --port. Use a port number from 1 to 65535, for example 18789."),
        ({"port": "0"}, "Invalid --port. Use a port number from 1 to 65535, for example 18789."),
        (
            {"port": "70000"},
            "Invalid --port. Use a port number from 1 to 65535, for example 18789.",
        ),
        ({"bind": "wan"}, 'Invalid --bind. Use "loopback", "lan", "tailnet", "auto", or "custom".'),
        ({"auth": "magic"}, 'Invalid --auth. Use "none", "token", "password", or "trusted-proxy".'),
        ({"tailscale": "on"}, 'Invalid --tailscale. Use "off", "serve", or "funnel".'),
        ({"password": "a", "password_file": "b"}, "Use either --password or --password-file."),
    ],
)
def test_bad_flag_values_exit_1(
    capsys: pytest.CaptureFixture[str], home: Path, opts: dict[str, Any], message: str
) -> None:
    local_config(home)
    r = run(capsys, home, **opts)
    assert r.code == 1
    assert r.err_lines == [message]
    assert STAMP.match(r.err)
    assert r.out_lines == ["[gateway] loading configuration…"]


def test_flag_check_order(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    local_config(home)
    everything: dict[str, Any] = {"port": "x", "bind": "x", "auth": "x", "tailscale": "x"}
    assert run(capsys, home, **everything).err_lines[0].startswith("Invalid --port.")
    everything.pop("port")
    assert run(capsys, home, **everything).err_lines[0].startswith("Invalid --bind.")
    everything.pop("bind")
    assert run(capsys, home, **everything).err_lines[0].startswith("Invalid --auth.")


def test_config_bind_is_validated_like_the_flag(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    local_config(home, bind="wan")
    r = run(capsys, home)
    assert (r.code, r.err_lines) == (
        1,
        ['Invalid --bind. Use "loopback", "lan", "tailnet", "auto", or "custom".'],
    )


def test_out_of_range_config_port_exits_78(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    local_config(home, port=70000)
    r = run(capsys, home, bind="loopback")
    assert r.code == 78
    assert r.err_lines == [
        "Invalid gateway.port in config. Set gateway.port to a number from 1 to 65535, or pass "
        "--port 18789."
    ]


# -- password sources ----------------------------------------------------------------------


def test_password_file_errors(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    local_config(home)
    missing = home / "nope"
    assert run(capsys, home, password_file=str(missing)).err_lines == [
        f"Failed to inspect Gateway password file at {missing}: Error: ENOENT: no such file or "
        f"directory, lstat '{missing}' | ENOENT"
    ]
    (home / "empty").write_text("  \n")
    assert run(capsys, home, password_file="~/empty").err_lines == [
        f"Gateway password file at {home / 'empty'} is empty."
    ]
    (home / "dir").mkdir()
    assert run(capsys, home, password_file=str(home / "dir")).err_lines == [
        f"Gateway password file at {home / 'dir'} must be a regular file."
    ]
    (home / "pw").write_text("from-a-file-123\n")
    (home / "link").symlink_to(home / "pw")
    assert run(capsys, home, password_file=str(home / "link")).err_lines == [
        f"Failed to inspect Gateway password file at {home / 'link'}: FsSafeError: Gateway "
        f"password file at {home / 'link'} must not be a symlink. | symlink"
    ]
    os.link(home / "pw", home / "hard")
    assert run(capsys, home, password_file=str(home / "hard")).err_lines == [
        f"Gateway password file at {home / 'hard'} must not be hardlinked."
    ]
    (home / "big").write_text("x" * 16385)
    r = run(capsys, home, password_file=str(home / "big"))
    assert (r.code, r.err_lines) == (
        1,
        [f"Gateway password file at {home / 'big'} exceeds 16384 bytes."],
    )


def test_password_flag_warns_on_stderr_and_is_never_printed(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_config(home)
    monkeypatch.setattr(run_mod, "in_container", lambda env: False)
    secret = "flag-password-31337"
    r = run(capsys, home, password=secret, auth="none", bind="lan")
    # The official console masks the word after `--password`, hence `***` in the warning.
    assert r.err_lines[0] == (
        "Warning: --password *** be exposed via process listings. Prefer --password-file or "
        "OPENCLAW_GATEWAY_PASSWORD."
    )
    assert r.out_lines[-1] == "[gateway] resolving authentication…"
    assert r.code == 78  # auth=none on lan: refused
    assert secret not in r.out + r.err


# -- the mode guard after the flags (unparseable / invalid files) -------------------------


def test_unparseable_config_reads_as_missing_mode(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    write_config(home, "{gateway: {mode: local")
    r = run(capsys, home, port="abc")  # flags are checked first for such a file
    assert (r.code, r.err_lines) == (
        1,
        ["Invalid --port. Use a port number from 1 to 65535, for example 18789."],
    )
    r = run(capsys, home, bind="loopback")
    assert r.code == 78
    assert r.err_lines == [NO_MODE]
    assert all(STAMP.match(line) for line in r.err.splitlines())
    assert r.out_lines == [
        "[gateway] loading configuration…",
        "[gateway] resolving authentication…",
    ]


def test_unparseable_config_with_allow_unconfigured_is_an_invalid_config(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    path = write_config(home, "{gateway: {mode: local")
    r = run(capsys, home, bind="loopback", allow_unconfigured=True)
    assert r.code == 78
    assert r.err_lines[0] == f"Gateway failed to start: Invalid config at {path}:"
    assert r.err_lines[1].startswith("<root>: JSON5 parse failed: SyntaxError: JSON5:")
    assert r.err_lines[-1].startswith("If startup is still blocked")
    assert r.out_lines[-1] == "[gateway] starting..."


def test_schema_invalid_config_without_mode_is_refused_by_the_guard(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    write_config(home, {"gateway": {"port": "x"}})
    r = run(capsys, home, bind="loopback")
    assert (r.code, r.err_lines) == (78, [NO_MODE])


def test_bad_type_at_gateway_port_exits_78_naming_the_key(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    path = write_config(home, '{gateway: {mode: "local",\n  port: "x"}}')
    r = run(capsys, home, bind="loopback")
    assert r.code == 78
    assert r.err_lines == [
        f"Gateway failed to start: Invalid config at {path}:",
        "openclaw.json:2 — gateway.port: Invalid input: expected number, received string",
        'Run "openclaw doctor --fix" to repair, then retry.',
        "If startup is still blocked, inspect the adjacent .bak backup before restoring it "
        "manually.",
        'Run "openclaw doctor --fix" to repair the config, then retry.',
    ]
    assert r.out_lines[-1] == "[gateway] starting..."


# -- auth and bind -------------------------------------------------------------------------


def test_password_mode_without_password_exits_78_with_miskey_hints(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    write_config(home, {"gateway": {"mode": "local", "token": "x", "remote": {"token": "y"}}})
    r = run(capsys, home, auth="password", bind="loopback")
    assert r.code == 78
    assert r.err_lines == [
        "Gateway auth is set to password, but no password is configured.",
        "Set gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD), or pass --password.",
        'Found "gateway.token" in config. Use "gateway.auth.token" instead.',
        '"gateway.remote.token" is for remote CLI calls; it does not enable local gateway auth.',
    ]


@pytest.mark.parametrize(("container", "advice"), [(True, REFUSE_CONTAINER), (False, REFUSE_HOST)])
def test_non_loopback_bind_without_auth_exits_78(
    capsys: pytest.CaptureFixture[str],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    container: bool,
    advice: list[str],
) -> None:
    local_config(home)
    monkeypatch.setattr(run_mod, "in_container", lambda env: container)
    r = run(capsys, home, bind="lan")
    assert r.code == 78
    assert r.err_lines == ["Refusing to bind gateway to lan without auth.", *advice]


def test_auth_none_warns_and_still_counts_as_no_secret(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_config(home)
    monkeypatch.setattr(run_mod, "in_container", lambda env: True)
    r = run(capsys, home, auth="none")  # container default: bind=auto -> 0.0.0.0
    assert r.code == 78
    assert r.err_lines == [
        "[gateway] auth mode=none explicitly configured; all gateway connections are "
        "unauthenticated.",
        "Refusing to bind gateway to auto without auth.",
        *REFUSE_CONTAINER,
    ]


@pytest.mark.parametrize("token", ["", "  ", "undefined", "null", "change-me-now"])
def test_blank_or_placeholder_token_is_refused(
    capsys: pytest.CaptureFixture[str], home: Path, token: str
) -> None:
    local_config(home, auth={"token": token})
    r = run(capsys, home, bind="loopback")
    assert r.code == 1  # as the official gateway: a start-up failure, not EX_CONFIG
    assert r.err_lines == [
        "Gateway failed to start: Invalid config: gateway auth token is blank, a published "
        "example placeholder, or the literal string undefined/null. Generate a real secret (for "
        "example, `openssl rand -hex 32`) and update gateway.auth.token or its external source. "
        "For blank or undefined/null inline tokens, `openclaw doctor --fix "
        "--generate-gateway-token` can generate one.. Run openclaw gateway status --deep for "
        "diagnostics."
    ]


def test_redaction_sentinel_password_is_refused(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    local_config(home, auth={"mode": "password", "password": "__OPENCLAW_REDACTED__"})
    r = run(capsys, home, bind="loopback")
    assert r.code == 1
    assert r.err_lines[0].startswith(
        "Gateway failed to start: Gateway auth password is a known redaction sentinel"
    )


def test_unresolvable_file_secret_ref_exits_78_naming_the_key(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    secret_file = home / "secrets.json"
    secret_file.write_text(json.dumps({"gateway": {"token": TOKEN}}))
    secret_file.chmod(0o644)  # readable by others: the file provider refuses it
    write_config(
        home,
        {
            "gateway": {
                "mode": "local",
                "auth": {
                    "mode": "token",
                    "token": {"source": "file", "provider": "f", "id": "/gateway/token"},
                },
            },
            "secrets": {"providers": {"f": {"source": "file", "path": str(secret_file)}}},
            "logging": {"file": str(home / "gw.log")},
        },
    )
    r = run(capsys, home, bind="loopback")
    assert r.code == 78
    assert r.err_lines[-1] == (
        "gateway.auth.token is unavailable: secrets.providers.f.path permissions are too "
        f"open: {secret_file} (ref: file:f:/gateway/token)"
    )
    assert TOKEN not in r.out + r.err


@pytest.mark.parametrize(
    ("opts", "code", "message"),
    [
        (
            {"tailscale": "funnel", "token": TOKEN},
            78,
            "tailscale funnel requires gateway auth mode=password (set gateway.auth.password or "
            "OPENCLAW_GATEWAY_PASSWORD)",
        ),
        (
            {"tailscale": "serve", "token": TOKEN, "bind": "lan"},
            78,
            "tailscale serve/funnel requires gateway bind=loopback (127.0.0.1)",
        ),
        (
            {"tailscale": "serve", "auth": "none"},
            78,
            "gateway.auth.mode=none cannot be used with gateway.tailscale.mode=serve; configure "
            "token, password, or trusted-proxy auth before exposing the gateway through Tailscale",
        ),
        (
            {"auth": "trusted-proxy", "bind": "loopback"},
            78,
            "gateway auth mode=trusted-proxy requires gateway.trustedProxies to be configured "
            "with at least one proxy IP",
        ),
    ],
)
def test_startup_refusals_after_validation(
    capsys: pytest.CaptureFixture[str],
    home: Path,
    opts: dict[str, Any],
    code: int,
    message: str,
) -> None:
    local_config(home)
    r = run(capsys, home, **opts)
    assert r.code == code
    assert r.out_lines[-1] == "[gateway] starting..."
    assert r.err_lines[-1] == (
        f"Gateway failed to start: {message}. Run openclaw gateway status --deep for diagnostics."
    )
    assert TOKEN not in r.out + r.err


def test_tailscale_waits_for_the_earlier_checks(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    local_config(home)
    r = run(capsys, home, tailscale="serve", auth="password")
    assert r.code == 78
    assert r.err_lines[0] == "Gateway auth is set to password, but no password is configured."


def test_custom_bind_without_host_exits_1(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    local_config(home, bind="custom")
    r = run(capsys, home, token=TOKEN)
    assert r.code == 1
    assert r.err_lines == [
        "Gateway failed to start: gateway.bind=custom requires gateway.customBindHost. Run "
        "openclaw gateway status --deep for diagnostics."
    ]


# -- dev config ----------------------------------------------------------------------------


def test_dev_creates_the_config_and_workspace(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    r = run(capsys, home, dev=True, port="abc")  # stop right after the dev step
    assert r.code == 1
    assert r.out_lines[:3] == [
        "Dev config ready: ~/.openclaw/openclaw.json",
        "Dev workspace ready: ~/.openclaw/workspace-dev",
        "[gateway] loading configuration…",
    ]
    assert STAMP.match(r.out)
    workspace = home / ".openclaw" / "workspace-dev"
    assert sorted(p.name for p in workspace.iterdir()) == [
        "AGENTS.md",
        "IDENTITY.md",
        "SOUL.md",
        "USER.md",
    ]
    import json

    data = json.loads((home / ".openclaw" / "openclaw.json").read_text())
    assert data["gateway"] == {"mode": "local", "bind": "loopback"}
    assert data["agents"]["defaults"] == {"workspace": str(workspace), "skipBootstrap": True}
    # A second run keeps the existing config.
    r = run(capsys, home, dev=True, port="abc")
    assert "Dev config ready" not in r.out


def test_root_dev_profile_uses_its_own_workspace_and_guard(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    from openclaw_gateway.core.paths import profile_env

    env = base_env(home)
    env.update(profile_env(True, None, env))
    r = run(capsys, home, env=env, port="abc")  # no config yet, but dev: the guard passes
    assert r.out_lines[:2] == [
        "Dev config ready: ~/.openclaw-dev/openclaw.json",
        "Dev workspace ready: ~/.openclaw-dev/workspace",
    ]


def test_dev_reset_moves_old_state_to_the_trash(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    write_config(home, {"gateway": {"mode": "remote"}})
    (home / ".openclaw" / "credentials").mkdir()
    (home / ".openclaw" / "workspace-dev").mkdir()
    r = run(capsys, home, dev=True, reset=True, port="abc")
    assert r.out_lines[:5] == [
        "Moved to Trash: ~/.openclaw/openclaw.json",
        "Moved to Trash: ~/.openclaw/credentials",
        "Moved to Trash: ~/.openclaw/workspace-dev",
        "Dev config ready: ~/.openclaw/openclaw.json",
        "Dev workspace ready: ~/.openclaw/workspace-dev",
    ]
    trashed = sorted(p.name for p in (home / ".Trash").glob("*/*"))
    assert trashed == ["credentials", "openclaw.json", "workspace-dev"]
    assert '"mode": "local"' in (home / ".openclaw" / "openclaw.json").read_text()


# -- state lock, busy port, --force ---------------------------------------------------------

HOLDER = (
    "import sys; from pathlib import Path; from openclaw_gateway.host.lock import StateLock; "
    "l = StateLock(Path(sys.argv[1])); l.acquire(port=1, config_path=Path('c')); "
    "print('ready', flush=True); sys.stdin.read()"
)


def test_a_second_gateway_on_the_state_dir_exits_78_and_keeps_the_owner_token(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    local_config(home)
    state = home / ".openclaw"
    token_file = state / "gateway.runtime-token"
    token_file.write_text("OWNER-TOKEN\n")
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert readline(holder).strip() == "ready"
            r = run(capsys, home, bind="loopback")
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=30)
    assert r.code == 78
    assert r.err_lines == [
        f"Gateway failed to start: gateway already running (pid {holder.pid}) for state dir "
        f"{state}; stop it first (openclaw gateway stop) or use another --profile",
        "If the gateway is supervised, stop it with: openclaw gateway stop",
    ]
    assert token_file.read_text() == "OWNER-TOKEN\n"


def test_busy_port_exits_1_naming_the_owner(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_config(home)
    with listener() as (proc, port):
        reason = (
            f"another gateway instance is already listening on ws://127.0.0.1:{port} | listen "
            f"EADDRINUSE: address already in use 127.0.0.1:{port}"
        )

        async def busy(*args: Any, **kwargs: Any) -> None:
            raise StartupError(reason)

        monkeypatch.setattr(supervisor, "run_gateway", busy)
        r = run(capsys, home, bind="loopback", port=str(port), token=TOKEN)
    assert r.code == 1
    lines = r.err_lines
    assert lines[:4] == [
        f"Gateway failed to start: {reason}",
        "If the gateway is supervised, stop it with: openclaw gateway stop",
        f"Port {port} is already in use.",
        lines[3],
    ]
    assert lines[3].startswith(f"- pid {proc.pid} ") and lines[3].endswith(f"(127.0.0.1:{port})")
    assert lines[4] == "- Another process is listening on this port."
    assert not (home / ".openclaw" / "gateway.runtime-token").exists()


def test_force_refuses_a_gateway_listener_non_interactively(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_config(home)
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    with listener("openclaw", "gateway") as (proc, port):
        r = run(capsys, home, bind="loopback", port=str(port), force=True, token=TOKEN)
        assert proc.poll() is None
    assert r.code == 1
    assert r.err_lines == [
        "Refusing to kill the operator's running gateway service from a non-interactive shell. "
        "Use an isolated dev gateway (openclaw gateway run --dev, or --profile <name> with a free "
        f"port) for testing. Existing gateway listener pid: {proc.pid}."
    ]


def test_lock_is_released_after_a_refused_start(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    local_config(home)
    assert run(capsys, home, tailscale="serve", token=TOKEN, bind="lan").code == 78
    lock = StateLock(home / ".openclaw")
    lock.acquire(port=1, config_path=home / "c")
    lock.release()


def test_hook_token_equal_to_the_gateway_token_is_refused(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    local_config(home, auth={"token": TOKEN})
    path = home / ".openclaw" / "openclaw.json"
    config = json.loads(path.read_text())
    config["hooks"] = {"enabled": True, "token": TOKEN}
    path.write_text(json.dumps(config))
    r = run(capsys, home, bind="loopback")
    assert r.code == 78
    assert r.err_lines[-1].startswith(
        "Gateway failed to start: Invalid config: hooks.token must differ from the gateway "
        "auth token/password"
    )
    assert TOKEN not in r.err and TOKEN not in r.out
