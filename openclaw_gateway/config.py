"""~/.openclaw/openclaw.json: attrs models, one private cattrs converter, atomic load/save.

The file is JSON5 (comments, trailing commas). We model only the keys this gateway uses;
everything else is kept verbatim in `Config.raw`, so an official config file loads and a save
writes it back unchanged. Type errors name the key path (`gateway.port: Invalid input:
expected number, received string`) and are ConfigError (exit 78).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
import json5
from cattrs.gen import make_dict_structure_fn, override

from openclaw_gateway.errors import ConfigError

REDACTED = "__OPENCLAW_REDACTED__"
BIND_MODES = ("loopback", "lan", "tailnet", "auto", "custom")
TAILSCALE_MODES = ("off", "serve", "funnel")


@attrs.frozen
class AuthConfig:
    mode: str | None = None
    token: Any = attrs.field(default=None, repr=False)
    password: Any = attrs.field(default=None, repr=False)


@attrs.frozen
class RemoteConfig:
    url: str | None = None
    token: Any = attrs.field(default=None, repr=False)
    password: Any = attrs.field(default=None, repr=False)


@attrs.frozen
class TailscaleConfig:
    mode: str | None = None


@attrs.frozen
class ControlUiConfig:
    enabled: bool = True
    allowed_origins: tuple[str, ...] | None = None


@attrs.frozen
class GatewayConfig:
    mode: str | None = None
    port: int | None = None
    bind: str | None = None
    custom_bind_host: str | None = None
    auth: AuthConfig = AuthConfig()
    remote: RemoteConfig = RemoteConfig()
    tailscale: TailscaleConfig = TailscaleConfig()
    control_ui: ControlUiConfig = ControlUiConfig()
    trusted_proxies: tuple[str, ...] = ()


@attrs.frozen
class LoggingConfig:
    file: str | None = None
    level: str | None = None
    max_file_bytes: int | None = None


@attrs.frozen
class Config:
    gateway: GatewayConfig = GatewayConfig()
    logging: LoggingConfig = LoggingConfig()
    # The whole file as parsed, including keys we do not model.
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen
class LoadedConfig:
    path: Path
    exists: bool
    config: Config
    # Set when the file exists but could not be parsed as JSON5 (the official guard then sees
    # no gateway.mode, and says so).
    parse_error: str | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _TypeMismatch(ValueError):
    def __init__(self, expected: str, value: Any) -> None:
        super().__init__(f"Invalid input: expected {expected}, received {_json_type(value)}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)

    def strict_int(value: Any, _: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _TypeMismatch("number", value)
        return value

    def strict_str(value: Any, _: Any) -> str:
        if not isinstance(value, str):
            raise _TypeMismatch("string", value)
        return value

    def strict_bool(value: Any, _: Any) -> bool:
        if not isinstance(value, bool):
            raise _TypeMismatch("boolean", value)
        return value

    def str_tuple(value: Any, _: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _TypeMismatch("array", value)
        return tuple(strict_str(v, str) for v in value)

    conv.register_structure_hook(int, strict_int)
    conv.register_structure_hook(str, strict_str)
    conv.register_structure_hook(bool, strict_bool)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], str_tuple)

    def hook_factory(cls: type) -> Any:
        overrides = {
            a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls) if a.name != "raw"
        }
        inner: Any = make_dict_structure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

        def structure(value: Any, typ: Any) -> Any:
            if not isinstance(value, dict):
                raise _TypeMismatch("object", value)
            return inner(value, typ)

        return structure

    conv.register_structure_hook_factory(attrs.has, hook_factory)
    return conv


_converter = _make_converter()


def _flatten(exc: BaseException, path: str) -> list[str]:
    """cattrs ClassValidationError -> ['gateway.port: Invalid input: ...']."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[str] = []
        for sub in exc.exceptions:
            name = None
            for note in getattr(sub, "__notes__", []):
                name = getattr(note, "name", None)
                if name is not None:
                    break
            sub_path = f"{path}.{_camel(name)}" if name else path
            out.extend(_flatten(sub, sub_path))
        return out
    return [f"{path.lstrip('.') or '<root>'}: {exc}"]


def structure(data: Mapping[str, Any]) -> Config:
    body = {k: v for k, v in data.items() if k in ("gateway", "logging")}
    try:
        model = _converter.structure(body, Config)
    except cattrs.ClassValidationError as exc:
        raise ConfigError("\n".join(_flatten(exc, ""))) from None
    except _TypeMismatch as exc:
        raise ConfigError(f"<root>: {exc}") from None
    return attrs.evolve(model, raw=dict(data))


def parse_text(text: str) -> dict[str, Any]:
    data = json5.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the top level must be an object")
    return data


def load(path: Path) -> LoadedConfig:
    """Read and validate the config file. A missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedConfig(path, False, Config())
    except OSError as exc:
        raise ConfigError(f"Cannot read config {path}: {exc.strerror}") from None
    try:
        data = parse_text(text)
    except ValueError as exc:
        return LoadedConfig(path, True, Config(), parse_error=str(exc))
    try:
        config = structure(data)
    except ConfigError as exc:
        raise ConfigError(
            f"Invalid config at {path}:\n{path.name} — {exc}\n"
            'Run "openclaw doctor --fix" to repair, then retry.'
        ) from None
    return LoadedConfig(path, True, config)


def save_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write pretty JSON next to the target, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_SECRET_KEY = re.compile(r"(token|password|secret|apikey|api_key|privatekey)", re.IGNORECASE)


def redact(value: Any) -> Any:
    """Replace every secret-looking value with the official sentinel."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if _SECRET_KEY.search(key) and item not in (None, "") and not isinstance(item, bool):
                out[key] = REDACTED
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def resolve_secret(value: Any, key_path: str, env: Mapping[str, str]) -> str | None:
    """A config secret is a string or a SecretRef `{source:"env", id:"NAME"}`."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if (
        isinstance(value, dict)
        and value.get("source") == "env"
        and isinstance(value.get("id"), str)
    ):
        found = env.get(value["id"])
        if found:
            return found
    raise ConfigError(
        f"{key_path} is configured as a secret reference but is unavailable in this command path."
    )
