"""The doctor's checks: one function each, read-only, one `Check` (or None when irrelevant).

They reuse what `gateway run` decides (cli/run_checks.py: auth resolution, weak secrets,
effective-config conflicts; netbind: bind hosts), the port inspection of ports.py and the
service code's own pidfile and inspection, so doctor and the gateway cannot disagree. The
state-dir facts they share with the fixes are in facts.py, the checks of host tools and the
service manager in host_checks.py; CHECKS lists them all in report order.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from openclaw_gateway.cli.doctor.facts import exposed, lock_owner, lock_path, secret_files, show
from openclaw_gateway.cli.doctor.host_checks import (
    check_service_manager,
    check_service_unit,
    check_ssh,
    check_tailscale,
)
from openclaw_gateway.cli.doctor.model import FAIL, OK, WARN, Check, Context
from openclaw_gateway.cli.doctor.tls_check import check_tls
from openclaw_gateway.cli.run_checks import (
    ResolvedAuth,
    effective_config_conflict,
    resolve_auth,
    seed_allowed_origins,
    weak_secret_error,
)
from openclaw_gateway.core.errors import ConfigError, StartupError
from openclaw_gateway.core.netaddr import is_loopback
from openclaw_gateway.core.paths import resolve_port
from openclaw_gateway.host.netbind import bind_host, default_bind, in_container
from openclaw_gateway.host.ports import (
    format_listener,
    listeners_on,
    looks_like_gateway,
    port_bindable,
)
from openclaw_gateway.host.service.detached import is_gateway_process, pidfile, read_record

MIN_SECRET_LENGTH = 16  # shorter shared secrets are guessable; `openssl rand -hex 32` gives 64
EARLIEST_SANE_TIME = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()
FUTURE_SLACK_S = 300.0  # state files this far in the future mean the clock went backwards
GENERATE = "openssl rand -hex 32"


# -- helpers --------------------------------------------------------------------------------


def _auth(ctx: Context) -> ResolvedAuth:
    return resolve_auth(
        token_flag=None, auth_flag=None, password_arg=None, gw=ctx.config.gateway, env=ctx.env
    )


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + (dot.strip() if dot else "")


# -- the checks -----------------------------------------------------------------------------


def check_config(ctx: Context) -> Check:
    path = show(ctx.paths.config_path, ctx)
    loaded = ctx.loaded
    if loaded is None:
        return Check("config", FAIL, f"cannot read {path}: {ctx.read_error}", "check its owner")
    if not loaded.exists:
        return Check(
            "config", WARN, f"no config file at {path}", "openclaw config set gateway.mode local"
        )
    if loaded.parse_error is not None:
        return Check(
            "config",
            FAIL,
            f"{path} is not valid JSON5: {loaded.parse_error}",
            f"repair the syntax of {path}",
        )
    if loaded.issues:
        issues = "; ".join(line.split(" — ", 1)[-1] for line in loaded.issues)
        return Check("config", FAIL, f"invalid config: {issues}", f"correct those keys in {path}")
    return Check("config", OK, f"config valid ({path})")


def check_mode(ctx: Context) -> Check:
    mode = ctx.config.gateway.mode
    fix = "openclaw config set gateway.mode local"
    if mode == "local":
        return Check("gateway.mode", OK, "gateway.mode=local")
    if mode == "remote":
        return Check(
            "gateway.mode",
            WARN,
            "gateway.mode=remote: this host is a client; `gateway run` refuses to start here",
            f"{fix} (to run a gateway on this host)",
        )
    shown = "not set" if mode is None else f"{mode!r}, not local"
    return Check("gateway.mode", FAIL, f"gateway.mode is {shown}: `gateway run` refuses", fix)


def check_exposure(ctx: Context) -> Check:
    """A non-loopback bind needs a shared secret; tailscale needs the right auth and bind."""
    gw = ctx.config.gateway
    tailscale = gw.tailscale.mode or "off"
    container = in_container(ctx.env)
    mode = gw.bind or default_bind(None, tailscale, container)
    host = bind_host(mode, custom_host=gw.custom_bind_host, container=container)
    try:
        auth = _auth(ctx)
    except ConfigError as exc:
        return Check("auth.exposure", FAIL, str(exc), "set the secret's environment variable")
    where = f"bind={mode} ({host})"
    # `gateway run` seeds the loopback origins for a non-loopback bind first (the port does
    # not change whether it seeds).
    seeded = seed_allowed_origins(gw, mode, gw.port or 0)
    if seeded:
        gw = attrs.evolve(gw, control_ui=attrs.evolve(gw.control_ui, allowed_origins=seeded))
    conflict = effective_config_conflict(auth, tailscale, host, gw)
    if conflict is not None:
        return Check("auth.exposure", FAIL, conflict, "adjust gateway.auth / gateway.bind")
    secret = (auth.mode == "token" and auth.token) or (auth.mode == "password" and auth.password)
    if is_loopback(host):
        if auth.mode == "none":
            return Check(
                "auth.exposure",
                WARN,
                f"{where} with auth mode=none: any local process may connect",
                "openclaw config set gateway.auth.mode token",
            )
        return Check("auth.exposure", OK, f"{where}: loopback only")
    if not secret and auth.mode != "trusted-proxy":
        return Check(
            "auth.exposure",
            FAIL,
            f"{where} without a shared secret: `gateway run` refuses to start",
            f"set gateway.auth.token (e.g. from `{GENERATE}`) or bind loopback",
        )
    return Check("auth.exposure", OK, f"{where} with {auth.mode} auth")


def check_secret(ctx: Context) -> Check:
    try:
        auth = _auth(ctx)
    except ConfigError as exc:
        return Check("auth.secret", FAIL, str(exc), "set the secret's environment variable")
    if auth.mode not in ("token", "password"):
        return Check("auth.secret", OK, f"no shared secret in use (auth mode={auth.mode})")
    kind = auth.mode
    fix = f"generate one with `{GENERATE}` and set gateway.auth.{kind}"
    weak = weak_secret_error(auth)
    if weak is not None:
        return Check("auth.secret", FAIL, _first_sentence(weak), fix)
    value = auth.token if kind == "token" else auth.password
    if value is None:
        if kind == "password":
            return Check("auth.secret", FAIL, "auth mode=password but no password is set", fix)
        return Check(
            "auth.secret",
            OK,
            "no token configured: each start generates a runtime token for local clients",
        )
    if len(value.strip()) < MIN_SECRET_LENGTH:
        return Check(
            "auth.secret", WARN, f"the gateway {kind} is short ({len(value.strip())} chars)", fix
        )
    return Check("auth.secret", OK, f"gateway {kind} set ({len(value.strip())} chars)")


def check_port(ctx: Context) -> Check:
    gw = ctx.config.gateway
    port = resolve_port(None, ctx.env, gw.port, ctx.paths.profile)
    rows = listeners_on(port, ctx.proc)
    owner, held = lock_owner(ctx)
    if not rows:
        try:
            free = port_bindable("127.0.0.1", port)
        except StartupError as exc:
            return Check("port", WARN, f"port {port}: {exc}", "choose another gateway.port")
        if free:
            return Check("port", OK, f"port {port} is free")
        return Check(
            "port",
            FAIL,
            f"port {port} is in use by a process this user cannot see",
            f"find it with `ss -ltnp 'sport = :{port}'` as root, or choose another port",
        )
    pids = {row.pid for row in rows}
    if held and owner is not None and pids == {owner}:
        return Check("port", OK, f"port {port} is held by this state dir's gateway (pid {owner})")
    if all(looks_like_gateway(row) for row in rows):
        return Check(
            "port",
            WARN,
            f"port {port} is held by another gateway ({format_listener(rows[0])})",
            "stop it (openclaw gateway stop) or set another gateway.port",
        )
    return Check(
        "port",
        FAIL,
        f"port {port} is in use by {format_listener(rows[0])}",
        f"stop that process or choose another port: openclaw config set gateway.port {port + 1}",
    )


def check_lock(ctx: Context) -> Check:
    path = lock_path(ctx)
    if not path.exists():
        return Check("lock", OK, "no state lock (no gateway has run here)")
    owner, held = lock_owner(ctx)
    if held:
        return Check("lock", OK, f"state lock held by a running gateway (pid {owner})")
    if owner is None:
        return Check("lock", OK, "state lock free (released cleanly)")
    return Check(
        "lock",
        WARN,
        f"stale state lock from pid {owner}, which is no longer running",
        "openclaw doctor --fix removes it (a start would also reclaim it)",
    )


def check_pidfile(ctx: Context) -> Check:
    path = pidfile(ctx.paths.state_dir)
    if not path.exists():
        return Check("pidfile", OK, "no pidfile (no detached gateway)")
    record = read_record(path)
    if record is None:
        return Check("pidfile", WARN, f"unreadable pidfile {show(path, ctx)}", "doctor --fix")
    if is_gateway_process(record.pid, record.start_time):
        return Check("pidfile", OK, f"detached gateway running (pid {record.pid})")
    return Check(
        "pidfile",
        WARN,
        f"stale pidfile: pid {record.pid} is no longer the gateway",
        "openclaw doctor --fix removes it",
    )


def check_state_dir(ctx: Context) -> Check:
    state = ctx.paths.state_dir
    try:
        info = os.stat(state)
    except FileNotFoundError:
        return Check("permissions.state-dir", OK, "state dir not created yet")
    mode = stat.S_IMODE(info.st_mode)
    shown = show(state, ctx)
    if info.st_uid != os.getuid():
        return Check(
            "permissions.state-dir",
            WARN,
            f"{shown} is owned by uid {info.st_uid}, not you ({os.getuid()})",
            f"chown -R {os.getuid()} {shown}",
        )
    if mode & 0o077:
        return Check(
            "permissions.state-dir",
            WARN,
            f"{shown} is open to other users (mode {mode:04o})",
            f"chmod 700 {shown} (openclaw doctor --fix)",
        )
    return Check("permissions.state-dir", OK, f"{shown} is private (mode {mode:04o})")


def check_secret_files(ctx: Context) -> Check:
    files = list(secret_files(ctx))
    links = [p for p in files if p.is_symlink()]
    open_files = [(p, m) for p in files if (m := exposed(p)) is not None]
    if open_files:
        listing = ", ".join(f"{show(p, ctx)} ({m:04o})" for p, m in open_files)
        names = " ".join(show(p, ctx) for p, _ in open_files)
        return Check(
            "permissions.secrets",
            FAIL,
            f"secret files readable by others: {listing}",
            f"chmod 600 {names} (openclaw doctor --fix)",
        )
    if links:
        return Check(
            "permissions.secrets",
            WARN,
            f"secret files are symlinks: {', '.join(show(p, ctx) for p in links)}",
            "replace them with regular files (0600)",
        )
    if not files:
        return Check("permissions.secrets", OK, "no secret files yet")
    return Check("permissions.secrets", OK, f"{len(files)} secret files are private")


def check_clock(ctx: Context) -> Check:
    now = ctx.clock()
    shown = dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds")
    fix = "sync the clock (e.g. timedatectl set-ntp true)"
    if now < EARLIEST_SANE_TIME:
        return Check("clock", FAIL, f"the system clock reads {shown}, before 2025", fix)
    newest: tuple[float, Path] | None = None
    for path in _dated_state_files(ctx):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        if newest is None or mtime > newest[0]:
            newest = (mtime, path)
    if newest is not None and newest[0] > now + FUTURE_SLACK_S:
        ahead = int(newest[0] - now)
        return Check(
            "clock",
            WARN,
            f"{show(newest[1], ctx)} is dated {ahead}s in the future: the clock went back",
            fix,
        )
    return Check("clock", OK, f"system clock {shown}")


def _dated_state_files(ctx: Context) -> Iterator[Path]:
    state = ctx.paths.state_dir
    yield ctx.paths.config_path
    for folder in (state, state / "state", ctx.paths.lock_dir):
        try:
            entries = sorted(folder.iterdir())[:200]  # bounded: a state dir holds few files
        except OSError:
            continue
        yield from (p for p in entries if p.is_file())


CHECKS: tuple[Callable[[Context], Check | None], ...] = (
    check_config,
    check_mode,
    check_exposure,
    check_secret,
    check_port,
    check_lock,
    check_pidfile,
    check_state_dir,
    check_secret_files,
    check_tls,
    check_tailscale,
    check_ssh,
    check_service_manager,
    check_service_unit,
    check_clock,
)
