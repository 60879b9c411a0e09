"""~/.openclaw/openclaw.json: attrs models, one private cattrs converter, atomic load/save.

The file is JSON5 (comments, trailing commas). We model only the keys this gateway uses;
everything else is kept verbatim in `Config.raw`, so an official config file loads and a save
writes it back unchanged. Type errors name the key path (`gateway.port: Invalid input:
expected number, received string`) and are ConfigError (exit 78).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NewType

import attrs

from openclaw_gateway.core.atomicfile import write_atomic
from openclaw_gateway.core.config_locate import issue_line
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.routing import routing_issues

if TYPE_CHECKING:
    import cattrs

# cattrs (~20 ms with its converter) and json5 are imported when a config file is read: a
# one-shot CLI command without a config file, or before it reads one, does not pay (issue 17).

BIND_MODES = ("loopback", "lan", "tailnet", "auto", "custom")
TAILSCALE_MODES = ("off", "serve", "funnel")
MDNS_MODES = ("off", "minimal", "full")
_MODELLED = ("gateway", "logging", "discovery")


@attrs.frozen
class RateLimitConfig:
    """gateway.auth.rateLimit (failed shared-secret attempts); None = the official default."""

    max_attempts: int | None = None
    window_ms: int | None = None
    lockout_ms: int | None = None
    exempt_loopback: bool | None = None


@attrs.frozen
class AuthConfig:
    mode: str | None = None
    token: Any = attrs.field(default=None, repr=False)
    password: Any = attrs.field(default=None, repr=False)
    rate_limit: RateLimitConfig = RateLimitConfig()


@attrs.frozen
class RemoteConfig:
    url: str | None = None
    token: Any = attrs.field(default=None, repr=False)
    password: Any = attrs.field(default=None, repr=False)
    tls_fingerprint: str | None = None  # the pin of a wss:// remote (core/tls formats)


@attrs.frozen
class TlsConfig:
    """gateway.tls (paths resolved by core/tls.tls_files; the pair made by host/tls_material)."""

    enabled: bool = False
    auto_generate: bool = True  # only when both files are missing; never overwrites
    cert_path: str | None = None
    key_path: str | None = None
    ca_path: str | None = None  # chain completion, as the official (no client certificates)


@attrs.frozen
class TailscaleConfig:
    mode: str | None = None
    reset_on_exit: bool = False  # gateway.tailscale.resetOnExit (retired upstream; see cli.md §5)


@attrs.frozen
class ControlUiConfig:
    enabled: bool = True
    base_path: str | None = None  # where the page lives ("/" when unset)
    root: str | None = None  # a built Control UI (holding index.html); unset: the dashboard
    allowed_origins: tuple[str, ...] | None = None
    dangerously_allow_host_header_origin_fallback: bool = False


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
    tls: TlsConfig = TlsConfig()
    trusted_proxies: tuple[str, ...] = ()
    allow_real_ip_fallback: bool = False
    # Ours (the official has no such key): the cap on concurrent connections; None = sized to
    # the descriptor limit (server/socket_limits.default_max_connections).
    max_connections: int | None = None


@attrs.frozen
class LoggingConfig:
    file: str | None = None
    level: str | None = None
    max_file_bytes: int | None = None


MdnsMode = NewType("MdnsMode", str)  # one of MDNS_MODES (checked when structuring)


@attrs.frozen
class MdnsConfig:
    mode: MdnsMode | None = None


@attrs.frozen
class WideAreaConfig:
    domain: str | None = None


@attrs.frozen
class DiscoveryConfig:
    """discovery.* (discovery/txt.py reads it; default mode "minimal")."""

    mdns: MdnsConfig = MdnsConfig()
    wide_area: WideAreaConfig = WideAreaConfig()


@attrs.frozen
class Config:
    gateway: GatewayConfig = GatewayConfig()
    logging: LoggingConfig = LoggingConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
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
    # Schema problems, formatted (`openclaw.json:3 — gateway.port: Invalid input: ...`); the
    # model then holds only the valid values.
    issues: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """A missing file is valid (empty); an unparseable or schema-invalid one is not."""
        return self.parse_error is None and not self.issues


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


@cache
def _converter() -> cattrs.Converter:
    import cattrs
    from cattrs.gen import make_dict_structure_fn, override

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

    def mdns_mode(value: Any, _: Any) -> MdnsMode:
        if strict_str(value, str) not in MDNS_MODES:
            quoted = "|".join(json.dumps(v) for v in MDNS_MODES)  # the official (zod) wording
            raise ValueError(f"Invalid option: expected one of {quoted}")
        return MdnsMode(value)

    conv.register_structure_hook(MdnsMode, mdns_mode)
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


@attrs.frozen
class Issue:
    """One schema problem: where (key path segments) and what."""

    segments: tuple[str, ...]
    message: str

    @property
    def path(self) -> str:
        return ".".join(self.segments) or "<root>"


def _issues(exc: BaseException, path: tuple[str, ...]) -> list[Issue]:
    """cattrs ClassValidationError -> [Issue(("gateway", "port"), "Invalid input: ...")]."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[Issue] = []
        for sub in exc.exceptions:
            name = None
            for note in getattr(sub, "__notes__", []):
                name = getattr(note, "name", None)
                if name is not None:
                    break
            out.extend(_issues(sub, (*path, _camel(name)) if name else path))
        return out
    return [Issue(path, str(exc))]


def validate(data: Mapping[str, Any]) -> tuple[Config, list[Issue]]:
    """The typed model plus every schema issue; invalid values are left out of the model.

    The official gateway keeps going on an invalid file until the server start, reading the
    values it can (e.g. gateway.mode) from the raw object; the lenient model gives run.py the
    same view.
    """
    body: dict[str, Any] = copy.deepcopy({k: v for k, v in data.items() if k in _MODELLED})
    # Sections the model does not type, checked by their own pure rules (core/routing.py).
    found = [Issue(segments, message) for segments, message in routing_issues(data)]
    import cattrs

    converter = _converter()
    for _ in range(64):  # each pass removes at least one bad value; a config has few
        try:
            model = converter.structure(body, Config)
        except cattrs.ClassValidationError as exc:
            batch = _issues(exc, ())
        except _TypeMismatch as exc:
            batch = [Issue((), str(exc))]
        else:
            return attrs.evolve(model, raw=dict(data)), found
        found.extend(batch)
        for issue in batch:
            if not issue.segments:
                return Config(raw=dict(data)), found
            _drop(body, issue.segments)
    return Config(raw=dict(data)), found


def _drop(body: dict[str, Any], segments: tuple[str, ...]) -> None:
    node: Any = body
    for part in segments[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(segments[-1], None)


def structure(data: Mapping[str, Any]) -> Config:
    config, found = validate(data)
    if found:
        raise ConfigError("\n".join(f"{i.path}: {i.message}" for i in found))
    return config


def parse_text(text: str) -> dict[str, Any]:
    import json5

    data = json5.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the top level must be an object")
    return data


def format_issues(issues: Sequence[Issue], path: Path, raw: str | None) -> list[str]:
    """`openclaw.json:1 — gateway.port: Invalid input: expected number, received string`."""
    lines = []
    for issue in issues:
        line = issue_line(raw, issue.segments) if raw is not None else None
        where = f"{path.name}:{line} — " if line is not None else ""
        lines.append(f"{where}{issue.path}: {issue.message}")
    return lines


def invalid_config_message(path: Path, issue_lines: Sequence[str]) -> str:
    """The official InvalidConfigError text (exit 78)."""
    return (
        f"Invalid config at {path}:\n"
        + "\n".join(issue_lines)
        + '\nRun "openclaw doctor --fix" to repair, then retry.\n'
        "If startup is still blocked, inspect the adjacent .bak backup before restoring it "
        "manually."
    )


def load_snapshot(path: Path) -> LoadedConfig:
    """Read the config file without failing on schema problems (they land in `issues`)."""
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
    config, found = validate(data)
    return LoadedConfig(path, True, config, issues=tuple(format_issues(found, path, text)))


def parse_value(text: str) -> Any:
    """One JSON5 value (for `config set`); raises ValueError when it is not one."""
    import json5

    return json5.loads(text)


def load(path: Path) -> LoadedConfig:
    """Read and validate the config file. A missing file is an empty config.

    Schema problems raise ConfigError (exit 78); an unparseable file is returned with
    `parse_error` set (the official guard then sees no gateway.mode, and says so).
    """
    loaded = load_snapshot(path)
    if loaded.issues:
        raise ConfigError(invalid_config_message(path, loaded.issues))
    return loaded


def save_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write pretty JSON next to the target, fsync, then rename: readers never see half a file."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", 0o600)
