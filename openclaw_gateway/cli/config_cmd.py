"""`openclaw config get [path]`: print config values with every secret redacted."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core import secrets
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.paths import resolve_paths, resolve_port
from openclaw_gateway.host.netbind import default_bind, in_container


def effective_gateway(
    loaded: cfg.LoadedConfig, raw: Mapping[str, Any], env: Mapping[str, str], profile: str | None
) -> dict[str, Any]:
    gw = loaded.config.gateway
    section = dict(raw["gateway"]) if isinstance(raw.get("gateway"), dict) else {}
    tailscale = gw.tailscale.mode or "off"
    section["port"] = resolve_port(None, env, gw.port, profile)
    section["bind"] = default_bind(gw.bind, tailscale, in_container(env))
    auth = dict(section["auth"]) if isinstance(section.get("auth"), dict) else {}
    if "mode" not in auth:
        has_password = bool(gw.auth.password or env.get("OPENCLAW_GATEWAY_PASSWORD"))
        auth["mode"] = "password" if has_password else "token"
    section["auth"] = auth
    ts = dict(section.get("tailscale") or {}) if isinstance(section.get("tailscale"), dict) else {}
    ts.setdefault("mode", tailscale)
    section["tailscale"] = ts
    return secrets.redact(section)  # type: ignore[no-any-return]


def _load_or_report(path: Path) -> cfg.LoadedConfig | int:
    """The config, or the exit code after saying why it cannot be read."""
    try:
        loaded = cfg.load(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    if loaded.parse_error is not None:
        print(f"Invalid config at {path}: {loaded.parse_error}", file=sys.stderr)
        return 78
    return loaded


def config_get_command(path: str, env: Mapping[str, str], json_output: bool) -> int:
    paths = resolve_paths(env)
    loaded = _load_or_report(paths.config_path)
    if isinstance(loaded, int):
        return loaded
    raw = loaded.config.raw
    value: Any
    if path in ("gateway", ""):
        value = effective_gateway(loaded, raw, env, paths.profile)
        if not path:
            value = {**secrets.redact(raw), "gateway": value}
    else:
        value = raw
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                print(f"Config path not found: {path}", file=sys.stderr)
                return 1
            value = value[part]
        value = secrets.redact({path.rsplit(".", 1)[-1]: value})[path.rsplit(".", 1)[-1]]
    if isinstance(value, str) and not json_output:
        print(value)
    else:
        print(json.dumps(value, indent=2, ensure_ascii=False))
    return 0


def _parse_value(text: str) -> Any:
    """`18789` -> 18789, `true` -> True, `["a"]` -> list; anything else stays a string."""
    try:
        return cfg.parse_value(text)
    except ValueError:
        return text


def config_set_command(path: str, value: str, env: Mapping[str, str]) -> int:
    """Set one key (dotted path) and save atomically; a value the schema rejects changes
    nothing. Secrets are never echoed."""
    parts = [p for p in path.split(".") if p]
    if not parts:
        print("Config path is required, e.g. gateway.auth.token", file=sys.stderr)
        return 1
    paths = resolve_paths(env)
    loaded = _load_or_report(paths.config_path)
    if isinstance(loaded, int):
        return loaded
    data: dict[str, Any] = json.loads(json.dumps(loaded.config.raw))
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            print(f"Cannot set {path}: {part} is not an object", file=sys.stderr)
            return 1
        node = child
    # Secrets stay strings even when they look like numbers.
    secret = secrets.is_secret_key(parts[-1])
    node[parts[-1]] = value if secret else _parse_value(value)
    try:
        cfg.structure(data)
    except ConfigError as exc:
        print(f"Refusing to write an invalid config:\n{exc}", file=sys.stderr)
        return 78
    cfg.save_atomic(paths.config_path, data)
    shown = secrets.redact({parts[-1]: node[parts[-1]]})[parts[-1]]
    print(f"Updated {path} = {json.dumps(shown, ensure_ascii=False)} in {paths.config_path}")
    return 0
