"""Config secrets, pure: the redaction sentinel, secret-looking keys, and SecretRefs.

A config secret is a string or a SecretRef `{source, provider?, id}` (official contract,
docs/gateway/secrets/secretref-contract.md): `env` reads an environment variable, `file` a
JSON pointer (or the whole file, `singleValue`) of a provider's private file, `exec` asks a
provider's resolver program. This module parses and validates refs and their providers
(`secrets.providers.<alias>`) and resolves `env` refs; the file read and the resolver run are
host/secret_sources.py. Messages name refs (`file:vault:/gateway/token`) and key paths, never
values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from openclaw_gateway.core.errors import ConfigError

REDACTED = "__OPENCLAW_REDACTED__"
DEFAULT_PROVIDER_ALIAS = "default"
SOURCES = ("env", "file", "exec", "store")
PROVIDER_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ENV_ID = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
EXEC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$")
FILE_SEGMENT = re.compile(r"^(?:[^~]|~0|~1)*$")
SINGLE_VALUE_ID = "value"
# The official provider defaults (src/secrets/resolve.ts).
DEFAULT_TIMEOUT_MS = 5_000
DEFAULT_MAX_BYTES = 1_048_576

_SECRET_KEY = re.compile(r"(token|password|secret|apikey|api_key|privatekey)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


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


class SecretRefError(ConfigError):
    """A configured secret could not be resolved (exit 78 at start; last good on reload)."""


@attrs.frozen
class SecretRef:
    source: str
    provider: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.source}:{self.provider}:{self.id}"


@attrs.frozen
class EnvProvider:
    allowlist: tuple[str, ...] | None = None


@attrs.frozen
class FileProvider:
    path: str
    mode: str = "json"  # "json" | "singleValue"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    max_bytes: int = DEFAULT_MAX_BYTES


@attrs.frozen
class ExecProvider:
    command: str
    args: tuple[str, ...] = ()
    pass_env: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict, repr=False)  # may hold credentials
    json_only: bool = True
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    no_output_timeout_ms: int = DEFAULT_TIMEOUT_MS
    max_output_bytes: int = DEFAULT_MAX_BYTES
    trusted_dirs: tuple[str, ...] = ()


Provider = EnvProvider | FileProvider | ExecProvider


def _section(raw_config: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    node: Any = raw_config
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def default_alias(raw_config: Mapping[str, Any], source: str) -> str:
    configured = _section(raw_config, "secrets", "defaults").get(source)
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return DEFAULT_PROVIDER_ALIAS


def parse_ref(value: Any, key_path: str, raw_config: Mapping[str, Any]) -> SecretRef | None:
    """The SecretRef at `key_path`, None for a plain value; a malformed ref is an error."""
    if not isinstance(value, Mapping) or "source" not in value:
        return None
    source, ref_id = value.get("source"), value.get("id")
    if source not in SOURCES or not isinstance(ref_id, str) or not ref_id.strip():
        raise SecretRefError(
            f"{key_path}: a secret reference needs source env|file|exec|store and a non-empty id."
        )
    provider = value.get("provider")
    if provider is None:
        provider = default_alias(raw_config, source)
    if not isinstance(provider, str) or not PROVIDER_ALIAS.match(provider):
        raise SecretRefError(
            f"{key_path} has an invalid secret reference: the provider must match "
            "/^[a-z][a-z0-9_-]{0,63}$/."
        )
    ref = SecretRef(source, provider, ref_id.strip())
    problem = _id_problem(ref)
    if problem is not None:
        raise SecretRefError(
            f"{key_path} has an invalid secret reference: {problem} (ref: {ref.key})."
        )
    return ref


def _id_problem(ref: SecretRef) -> str | None:
    if ref.source in ("env", "store") and not ENV_ID.match(ref.id):
        kind = "Env" if ref.source == "env" else "Store"
        return f"{kind} secret reference id must match /^[A-Z][A-Z0-9_]{{0,127}}$/"
    if ref.source == "file" and not (
        ref.id == SINGLE_VALUE_ID
        or (ref.id.startswith("/") and all(FILE_SEGMENT.match(s) for s in ref.id[1:].split("/")))
    ):
        return 'File secret reference id must be an absolute JSON pointer or "value"'
    if ref.source == "exec" and (
        not EXEC_ID.match(ref.id) or any(s in (".", "..") for s in ref.id.split("/"))
    ):
        return (
            "Exec secret reference id must match /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$/ and "
            'must not include "." or ".." path segments'
        )
    return None


def provider_for(ref: SecretRef, raw_config: Mapping[str, Any], key_path: str) -> Provider:
    """The provider a ref names (official resolveConfiguredProvider): a same-source
    `secrets.providers` entry, else the built-in env reader for the default env alias."""
    entry = _section(raw_config, "secrets", "providers").get(ref.provider)
    configured = entry.get("source") if isinstance(entry, Mapping) else None
    if configured != ref.source:
        if ref.source == "env" and ref.provider == default_alias(raw_config, "env"):
            return EnvProvider()
        if ref.source == "store":
            raise SecretRefError(
                f"{key_path} is unavailable: the shared secret store is not supported by this "
                f"gateway (ref: {ref.key})."
            )
        if configured is None:
            raise SecretRefError(
                f'{key_path}: Secret provider "{ref.provider}" is not configured (ref: {ref.key}).'
            )
        raise SecretRefError(
            f'{key_path}: Secret provider "{ref.provider}" has source "{configured}" but ref '
            f'requests "{ref.source}".'
        )
    assert isinstance(entry, Mapping)
    where = f"secrets.providers.{ref.provider}"
    try:
        return _structure_provider(ref.source, entry)
    except (TypeError, ValueError) as exc:
        raise SecretRefError(f"{key_path} is unavailable: {where}.{exc}") from None


def _structure_provider(source: str, entry: Mapping[str, Any]) -> Provider:
    if source == "env":
        allow = entry.get("allowlist")
        return EnvProvider(None if allow is None else _strings(allow, "allowlist"))
    if source == "file":
        mode = entry.get("mode", "json")
        if mode not in ("json", "singleValue"):
            raise ValueError('mode: Invalid option: expected one of "json"|"singleValue"')
        return FileProvider(
            _text(entry.get("path"), "path"),
            mode,
            _positive(entry.get("timeoutMs"), "timeoutMs", DEFAULT_TIMEOUT_MS),
            _positive(entry.get("maxBytes"), "maxBytes", DEFAULT_MAX_BYTES),
        )
    env = entry.get("env") or {}
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise ValueError("env: Invalid input: expected a record of strings")
    timeout = _positive(entry.get("timeoutMs"), "timeoutMs", DEFAULT_TIMEOUT_MS)
    json_only = entry.get("jsonOnly", True)
    if not isinstance(json_only, bool):
        raise ValueError("jsonOnly: Invalid input: expected boolean")
    return ExecProvider(
        command=_text(entry.get("command"), "command"),
        args=_strings(entry.get("args") or [], "args"),
        pass_env=_strings(entry.get("passEnv") or [], "passEnv"),
        env=dict(env),
        json_only=json_only,
        timeout_ms=timeout,
        no_output_timeout_ms=_positive(
            entry.get("noOutputTimeoutMs"), "noOutputTimeoutMs", timeout
        ),
        max_output_bytes=_positive(
            entry.get("maxOutputBytes"), "maxOutputBytes", DEFAULT_MAX_BYTES
        ),
        trusted_dirs=_strings(entry.get("trustedDirs") or [], "trustedDirs"),
    )


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: Invalid input: expected a non-empty string")
    return value


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name}: Invalid input: expected an array of strings")
    return tuple(value)


def _positive(value: Any, name: str, default: int) -> int:
    """Official normalizePositiveInt: a positive integer, else the default."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: Invalid input: expected number")
    return int(value) if value >= 1 else default


def resolve_env_ref(ref: SecretRef, provider: EnvProvider, env: Mapping[str, str]) -> str:
    """Official resolveEnvRefs: the allowlist, then a non-empty variable."""
    if provider.allowlist is not None and ref.id not in provider.allowlist:
        raise SecretRefError(
            f'Environment variable "{ref.id}" is not allowlisted in '
            f"secrets.providers.{ref.provider}.allowlist."
        )
    found = env.get(ref.id)
    if not found:
        raise SecretRefError(f'Environment variable "{ref.id}" is missing or empty.')
    return found


def resolve_secret(value: Any, key_path: str, env: Mapping[str, str]) -> str | None:
    """A config secret on a one-shot command path: a string, or an `env` SecretRef.

    `file`/`exec` refs are resolved by the gateway (host/secret_sources.py); here they are
    unavailable, with the official wording."""
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
