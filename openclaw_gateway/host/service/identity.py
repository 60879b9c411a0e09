"""Which service a profile owns, and when the CLI may touch it (cli.md §1.8, §2.1, §7). Pure.

systemd user units and LaunchAgents are per-account resources: one `openclaw-gateway.service`
per login, whatever HOME a shell happens to have. So, as the official CLI does, service
commands refuse unless HOME is the OS account home, OPENCLAW_HOME is unset and the state dir
and config path are the canonical ones for the selected profile; otherwise a test or a
throwaway HOME could rewrite the operator's real service. The detached mode (no service
manager) is keyed by the state dir itself and does not need this guard.
"""

from __future__ import annotations

import os
import pwd
import sys
from collections.abc import Mapping
from pathlib import Path

from openclaw_gateway.core.paths import (
    CONFIG_FILENAME,
    home_dir,
    normalize_profile,
    profile_state_dir,
    resolve_config_path,
    resolve_state_dir,
)

SYSTEMD_SERVICE_NAME = "openclaw-gateway"
LAUNCHD_LABEL = "ai.openclaw.gateway"
SERVICE_MARKER = "openclaw"
SERVICE_KIND = "gateway"
SUPERVISOR_MODE_ENV = "OPENCLAW_SUPERVISOR_MODE"
NON_DEFAULT_INSTALL = "service management skipped: non-default state dir or config path"


def account_home() -> Path:
    """The OS account home of this user (os.userInfo().homedir), never $HOME."""
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return Path(os.path.expanduser("~"))


def profile(env: Mapping[str, str]) -> str | None:
    return normalize_profile(env.get("OPENCLAW_PROFILE"))


def _clean(value: str | None) -> str:
    return (value or "").strip()


def systemd_unit_name(env: Mapping[str, str]) -> str:
    """`openclaw-gateway[-<profile>].service`; OPENCLAW_SYSTEMD_UNIT overrides it."""
    override = _clean(env.get("OPENCLAW_SYSTEMD_UNIT"))
    if override:
        return override if override.endswith(".service") else f"{override}.service"
    name = profile(env)
    return f"{SYSTEMD_SERVICE_NAME}{f'-{name}' if name else ''}.service"


def launchd_label(env: Mapping[str, str]) -> str:
    """`ai.openclaw.gateway` or `ai.openclaw.<profile>`; OPENCLAW_LAUNCHD_LABEL overrides it."""
    override = _clean(env.get("OPENCLAW_LAUNCHD_LABEL"))
    if override:
        return override
    name = profile(env)
    return f"ai.openclaw.{name}" if name else LAUNCHD_LABEL


def externally_supervised(env: Mapping[str, str]) -> bool:
    return _clean(env.get(SUPERVISOR_MODE_ENV)).lower() == "external"


def external_supervisor_message(action: str) -> str:
    return (
        f"OpenClaw gateway lifecycle is managed by an external supervisor "
        f"({SUPERVISOR_MODE_ENV}=external). Use that supervisor to {action}."
    )


def _identity_conflict(env: Mapping[str, str], platform: str) -> tuple[str, str] | None:
    """A named profile with a unit/label override that is not its own: (env key, expected)."""
    name = profile(env)
    if name is None:
        return None
    if platform == "darwin":
        actual = _clean(env.get("OPENCLAW_LAUNCHD_LABEL"))
        expected = f"ai.openclaw.{name}"
        return ("OPENCLAW_LAUNCHD_LABEL", expected) if actual and actual != expected else None
    actual = _clean(env.get("OPENCLAW_SYSTEMD_UNIT"))
    expected = f"{SYSTEMD_SERVICE_NAME}-{name}.service"
    if actual and not actual.endswith(".service"):
        actual += ".service"
    return ("OPENCLAW_SYSTEMD_UNIT", expected) if actual and actual != expected else None


def _same(a: Path, b: Path) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def is_default_install_identity(
    env: Mapping[str, str], home: Path, platform: str = sys.platform
) -> bool:
    """The official isDefaultInstallIdentity: account HOME, canonical state and config paths."""
    if _clean(env.get("OPENCLAW_HOME")):
        return False
    if not _same(home_dir(env), home):
        return False
    if _identity_conflict(env, platform) is not None:
        return False
    canonical = profile_state_dir(profile(env) or "default", env)
    state = resolve_state_dir(env)
    if not _same(state, canonical):
        return False
    if profile(env) is None and not _clean(env.get("OPENCLAW_CONFIG_PATH")):
        return True
    return _same(resolve_config_path(env, state), canonical / CONFIG_FILENAME)


def mutation_error(
    action: str,
    env: Mapping[str, str],
    *,
    home: Path | None = None,
    platform: str = sys.platform,
) -> str | None:
    """Why a native service may not be changed (official assertGatewayServiceMutationAllowed)."""
    if externally_supervised(env):
        return external_supervisor_message(action)
    conflict = _identity_conflict(env, platform)
    if conflict is not None:
        key = conflict[0]
        system = {"darwin": "macOS"}.get(platform, "Linux")
        return (
            f"service management skipped: named profiles cannot override {key} for {system} "
            f"service management. Unset {key} so OpenClaw derives the native service identity "
            f"from OPENCLAW_PROFILE to {action}, or keep this profile runtime-only without a "
            "native service."
        )
    if not is_default_install_identity(env, account_home() if home is None else home, platform):
        return (
            f"{NON_DEFAULT_INSTALL}. Rerun with HOME set to the OS account home, without "
            "OPENCLAW_HOME, and with OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH either unset "
            f"or pointing at the canonical paths for that account home and profile to {action}."
        )
    return None


def service_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The path-selecting variables a service must inherit to find the same state and config."""
    keep = ("OPENCLAW_PROFILE", "OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH")
    out = {key: _clean(env.get(key)) for key in keep if _clean(env.get(key))}
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if _clean(env.get(key)):
            out[key] = _clean(env.get(key))
    return out
