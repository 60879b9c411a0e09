"""Where state and config live, and which port a profile uses (cli.md §0, §2.1, §2.3). Pure.

Everything reads an explicit `env` mapping so tests never touch the real home directory. The
rules follow the official `paths-*.mjs`, `profile-*.mjs` and `home-dir-*.mjs`:

- home: OPENCLAW_HOME, else HOME, else the OS home; always absolute.
- state dir: OPENCLAW_STATE_DIR, else ~/.openclaw (or the legacy ~/.clawdbot when only it
  exists). OPENCLAW_PROFILE alone does not move the state dir: the root `--profile`/`--dev`
  options do, by setting OPENCLAW_STATE_DIR/OPENCLAW_CONFIG_PATH (`profile_env`).
- config: OPENCLAW_CONFIG_PATH, else the first existing candidate, else <state>/openclaw.json.
- port: --port > OPENCLAW_GATEWAY_PORT (N or host:N) > gateway.port > profile hash > 18789.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from openclaw_gateway.core.errors import UsageError

DEFAULT_PORT = 18789
DEV_PORT = 19001
_PROFILE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_DIGITS_RE = re.compile(r"^[0-9]+$")
CONFIG_FILENAME = "openclaw.json"
LEGACY_CONFIG_FILENAMES = ("clawdbot.json",)
LEGACY_STATE_DIRNAMES = (".clawdbot",)


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


def _clean(value: str | None) -> str | None:
    """Blank, "undefined" and "null" count as unset, as in the official home-dir helper."""
    trimmed = (value or "").strip()
    return trimmed if trimmed and trimmed not in ("undefined", "null") else None


def _os_home(env: Mapping[str, str]) -> Path:
    raw = _clean(env.get("HOME")) or _clean(env.get("USERPROFILE")) or str(Path.home())
    return Path(os.path.abspath(raw))


def home_dir(env: Mapping[str, str]) -> Path:
    explicit = _clean(env.get("OPENCLAW_HOME"))
    if explicit is None:
        return _os_home(env)
    if explicit == "~" or explicit.startswith(("~/", "~\\")):
        explicit = str(_os_home(env)) + explicit[1:]
    return Path(os.path.abspath(explicit))


def user_path(raw: str, env: Mapping[str, str]) -> Path:
    """Trim, expand a leading `~` against the effective home, make absolute."""
    text = raw.strip()
    if text == "~" or text.startswith(("~/", "~\\")):
        text = str(home_dir(env)) + text[1:]
    return Path(os.path.abspath(text))


def shorten_home(path: Path, env: Mapping[str, str]) -> str:
    """`/home/me/.openclaw/x` -> `~/.openclaw/x`, as the official console prints paths."""
    home = str(home_dir(env))
    text = str(path)
    if text == home:
        return "~"
    if home not in ("", "/") and text.startswith(home + os.sep):
        return "~" + text[len(home) :]
    return text


def is_valid_profile_name(name: str) -> bool:
    return bool(_PROFILE_RE.match(name))


def validate_profile(name: str) -> str:
    if not is_valid_profile_name(name):
        raise UsageError('Invalid --profile (use letters, numbers, "_", "-" only)')
    return name


def normalize_profile(raw: str | None) -> str | None:
    """The profile a port/log name derives from: None for unset, `default` or invalid."""
    name = (raw or "").strip()
    if not name or name.lower() == "default" or not is_valid_profile_name(name):
        return None
    return name


def profile_state_dir(profile: str, env: Mapping[str, str]) -> Path:
    name = profile.strip()
    suffix = "" if name.lower() == "default" else f"-{name}"
    return home_dir(env) / f".openclaw{suffix}"


def profile_env(dev: bool, profile: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """The env changes the root `--dev`/`--profile` options make (official applyCliProfileEnv).

    An inherited OPENCLAW_STATE_DIR/OPENCLAW_CONFIG_PATH is kept unless it is just the
    inherited profile's canonical location, which the new profile then replaces.
    """
    if dev and profile and profile != "dev":
        raise UsageError("Cannot combine --dev with --profile")
    name = "dev" if dev else (profile or "").strip()
    if not name:
        return {}
    validate_profile(name)
    inherited = (env.get("OPENCLAW_PROFILE") or "").strip() or "default"
    if not is_valid_profile_name(inherited):
        inherited = "default"
    inherited_dir = profile_state_dir(inherited, env)
    selected_dir = profile_state_dir(name, env)
    switches = inherited_dir != selected_dir
    existing_state = _clean(env.get("OPENCLAW_STATE_DIR"))
    existing_config = _clean(env.get("OPENCLAW_CONFIG_PATH"))
    switches_state = bool(
        existing_state and switches and user_path(existing_state, env) == inherited_dir
    )
    replaces_config = bool(
        switches
        and (not existing_state or switches_state)
        and existing_config
        and user_path(existing_config, env) == inherited_dir / CONFIG_FILENAME
    )
    out = {"OPENCLAW_PROFILE": name}
    state_dir = (
        user_path(existing_state, env) if existing_state and not switches_state else selected_dir
    )
    if not existing_state or switches_state:
        out["OPENCLAW_STATE_DIR"] = str(state_dir)
    if not existing_config or replaces_config:
        out["OPENCLAW_CONFIG_PATH"] = str(state_dir / CONFIG_FILENAME)
    if name == "dev" and not (env.get("OPENCLAW_GATEWAY_PORT") or "").strip():
        out["OPENCLAW_GATEWAY_PORT"] = str(DEV_PORT)
    return out


def resolve_state_dir(env: Mapping[str, str]) -> Path:
    override = _clean(env.get("OPENCLAW_STATE_DIR"))
    if override:
        return user_path(override, env)
    home = home_dir(env)
    state = home / ".openclaw"
    if not state.exists():
        for legacy in LEGACY_STATE_DIRNAMES:
            if (home / legacy).exists():
                return home / legacy
    return state


def resolve_config_path(env: Mapping[str, str], state: Path) -> Path:
    override = _clean(env.get("OPENCLAW_CONFIG_PATH"))
    if override:
        return user_path(override, env)
    in_state = [state / CONFIG_FILENAME, *(state / n for n in LEGACY_CONFIG_FILENAMES)]
    for candidate in in_state:
        if candidate.exists():
            return candidate
    if _clean(env.get("OPENCLAW_STATE_DIR")):
        return state / CONFIG_FILENAME
    home = home_dir(env)
    for dirname in (".openclaw", *LEGACY_STATE_DIRNAMES):
        for filename in (CONFIG_FILENAME, *LEGACY_CONFIG_FILENAMES):
            if (home / dirname / filename).exists():
                return home / dirname / filename
    return state / CONFIG_FILENAME


def resolve_paths(env: Mapping[str, str]) -> Paths:
    state = resolve_state_dir(env)
    config = resolve_config_path(env, state)
    return Paths(
        home=home_dir(env),
        state_dir=state,
        config_path=config,
        profile=normalize_profile(env.get("OPENCLAW_PROFILE")),
    )


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def profile_port(profile: str | None) -> int | None:
    """Named profiles get 20000 + FNV-1a-32(name) % 40000 (`default` does not)."""
    name = normalize_profile(profile)
    if name is None:
        return None
    return 20000 + fnv1a32(name.encode("utf-8")) % 40000


def parse_port(raw: object) -> int | None:
    """A TCP port from 1 to 65535: an int, or a string of digits (sign and spaces allowed)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= 65535 else None
    if isinstance(raw, str):
        text = raw.strip()
        if _INT_RE.match(text):
            value = int(text)
            return value if 1 <= value <= 65535 else None
    return None


def parse_env_port(raw: str | None) -> int | None:
    """OPENCLAW_GATEWAY_PORT: `N`, `host:N` or `[v6]:N`; anything else is ignored (None)."""
    text = (raw or "").strip()
    if not text:
        return None
    if _DIGITS_RE.match(text):
        return parse_port(text)
    bracketed = re.match(r"^\[[^\]]+\]:([0-9]+)$", text)
    if bracketed:
        return parse_port(bracketed.group(1))
    first, last = text.find(":"), text.rfind(":")
    if first <= 0 or first != last:
        return None
    suffix = text[first + 1 :]
    return parse_port(suffix) if _DIGITS_RE.match(suffix) else None


def env_port(env: Mapping[str, str]) -> int | None:
    return parse_env_port(env.get("OPENCLAW_GATEWAY_PORT"))


def invalid_port_option(option: str = "--port") -> str:
    return f"Invalid {option}. Use a port number from 1 to 65535, for example {DEFAULT_PORT}."


def resolve_port(
    cli_port: str | None, env: Mapping[str, str], config_port: int | None, profile: str | None
) -> int:
    """--port > OPENCLAW_GATEWAY_PORT > gateway.port > profile hash > 18789.

    A positive gateway.port is returned as is, even above 65535: the caller reports it as an
    invalid config value (exit 78), as the official gateway does.
    """
    if cli_port is not None:
        port = parse_port(cli_port)
        if port is None:
            raise UsageError(invalid_port_option())
        return port
    from_env = env_port(env)
    if from_env is not None:
        return from_env
    if config_port is not None and not isinstance(config_port, bool) and config_port > 0:
        return config_port
    return profile_port(profile) or DEFAULT_PORT
