"""Where state and config live, and which port a profile uses (cli.md §0, §2.1, §2.3). Pure.

Everything reads an explicit `env` mapping so tests never touch the real home directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from openclaw_gateway.errors import ConfigError, UsageError

DEFAULT_PORT = 18789
DEV_PORT = 19001
_PROFILE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@attrs.frozen
class Paths:
    home: Path
    state_dir: Path
    config_path: Path
    profile: str | None

    @property
    def runtime_token_path(self) -> Path:
        return self.state_dir / "gateway.runtime-token"

    @property
    def lock_dir(self) -> Path:
        return self.state_dir / "tmp"


def home_dir(env: Mapping[str, str]) -> Path:
    raw = env.get("OPENCLAW_HOME") or env.get("HOME") or str(Path.home())
    return Path(raw).expanduser()


def validate_profile(name: str) -> str:
    if not _PROFILE_RE.match(name):
        raise UsageError('Invalid --profile (use letters, numbers, "_", "-" only)')
    return name


def profile_env(dev: bool, profile: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """The env changes the root `--dev`/`--profile` options make, as the official CLI does."""
    if dev and profile:
        raise UsageError("Cannot combine --dev with --profile")
    name = "dev" if dev else profile
    if not name:
        return {}
    validate_profile(name)
    home = home_dir(env)
    state = home / f".openclaw-{name}"
    out = {
        "OPENCLAW_PROFILE": name,
        "OPENCLAW_STATE_DIR": str(state),
        "OPENCLAW_CONFIG_PATH": str(state / "openclaw.json"),
    }
    if name == "dev" and "OPENCLAW_GATEWAY_PORT" not in env:
        out["OPENCLAW_GATEWAY_PORT"] = str(DEV_PORT)
    return out


def resolve_paths(env: Mapping[str, str]) -> Paths:
    home = home_dir(env)
    profile = env.get("OPENCLAW_PROFILE") or None
    if env.get("OPENCLAW_STATE_DIR"):
        state = Path(env["OPENCLAW_STATE_DIR"]).expanduser()
    elif profile and profile != "default":
        state = home / f".openclaw-{profile}"
    else:
        state = home / ".openclaw"
        legacy = home / ".clawdbot"
        if not state.exists() and legacy.exists():
            state = legacy
    if env.get("OPENCLAW_CONFIG_PATH"):
        config = Path(env["OPENCLAW_CONFIG_PATH"]).expanduser()
    else:
        config = state / "openclaw.json"
        legacy_config = state / "clawdbot.json"
        if not config.exists() and legacy_config.exists():
            config = legacy_config
    return Paths(home=home, state_dir=state, config_path=config, profile=profile)


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def profile_port(profile: str | None) -> int | None:
    """Named profiles other than dev get 20000 + FNV-1a-32(name) % 40000."""
    if not profile or profile in ("dev", "default"):
        return None
    return 20000 + fnv1a32(profile.encode("utf-8")) % 40000


def parse_port(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= 65535 else None
    if isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
        return value if 1 <= value <= 65535 else None
    return None


def env_port(env: Mapping[str, str]) -> int | None:
    """OPENCLAW_GATEWAY_PORT accepts `N` or `host:N`."""
    raw = env.get("OPENCLAW_GATEWAY_PORT")
    if not raw:
        return None
    value = raw.rsplit(":", 1)[-1] if ":" in raw else raw
    port = parse_port(value)
    if port is None:
        raise ConfigError(f"Invalid OPENCLAW_GATEWAY_PORT: {raw!r} (use a port from 1 to 65535)")
    return port


def resolve_port(
    cli_port: str | None, env: Mapping[str, str], config_port: int | None, profile: str | None
) -> int:
    """--port > OPENCLAW_GATEWAY_PORT > gateway.port > profile hash > 18789."""
    if cli_port is not None:
        port = parse_port(cli_port)
        if port is None:
            raise UsageError(
                "Invalid --port. Use a port number from 1 to 65535, for example 18789."
            )
        return port
    from_env = env_port(env)
    if from_env is not None:
        return from_env
    if config_port is not None:
        return config_port
    return profile_port(profile) or DEFAULT_PORT
