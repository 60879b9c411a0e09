"""SecretRef sources that touch the OS: the `file` provider's private file and the `exec`
provider's resolver program (official src/secrets/resolve.ts, fs-safe readSecureFile,
assertSecureExecCommandPath). Blocking: the gateway calls `resolve_secrets` before its event
loop starts, and through `trio.to_thread` on a config reload.

file: an absolute path (after `~`), not a symlink, a regular file with one hard link, owned by
us, no group/world access, at most `maxBytes`, read within `timeoutMs`; `json` mode resolves
the ref id as a JSON pointer, `singleValue` returns the contents (one trailing newline off).

exec: the absolute command runs directly (no shell) in its own directory and process group,
with only `passEnv` + `env` in its environment; it must not be a symlink, group/world
writable or owned by another user, and must sit under `trustedDirs` when given. It gets
`{"protocolVersion":1,"provider":...,"ids":[...]}` on stdin and answers
`{"protocolVersion":1,"values":{id: value},"errors"?:{id:{code}}}` on stdout within
`timeoutMs`, producing output within `noOutputTimeoutMs`, at most `maxOutputBytes`; else the
whole group is killed. Resolver stderr and free-form error fields are never shown (they can
hold credentials).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import stat
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openclaw_gateway.core.paths import user_path
from openclaw_gateway.core.secrets import (
    SINGLE_VALUE_ID,
    EnvProvider,
    ExecProvider,
    FileProvider,
    Provider,
    SecretRef,
    SecretRefError,
    parse_ref,
    provider_for,
    resolve_env_ref,
)

READ_CHUNK = 65_536
MAX_BATCH_BYTES = 262_144
MAX_REFS_PER_PROVIDER = 512
SAFE_EXEC_ERROR_CODES = frozenset({"AMBIGUOUS_DUPLICATE_KEY", "NOT_FOUND"})
KILL_GRACE_S = 1.0


class _Unavailable(Exception):
    """One ref (or its whole provider) failed; the message is safe to show."""


def resolve_secrets(
    values: Mapping[str, Any], raw_config: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, str | None]:
    """{key path: configured value} -> {key path: resolved string or None (unset)}.

    Plain strings pass through; refs are grouped by provider, one resolver run per exec
    provider. Any failure raises SecretRefError naming the key path and the ref.
    """
    out: dict[str, str | None] = {}
    groups: dict[tuple[str, str], list[tuple[str, SecretRef]]] = {}
    for key_path, value in values.items():
        if value is None or isinstance(value, str):
            out[key_path] = value
            continue
        ref = parse_ref(value, key_path, raw_config)
        if ref is None:
            raise SecretRefError(f"{key_path} must be a string or a secret reference.")
        groups.setdefault((ref.source, ref.provider), []).append((key_path, ref))
    for members in groups.values():
        key_path, first = members[0]
        provider = provider_for(first, raw_config, key_path)
        try:
            found = _resolve_group(provider, [ref for _, ref in members], env)
        except _Unavailable as exc:
            raise SecretRefError(f"{key_path} is unavailable: {exc} (ref: {first.key})") from None
        for path, ref in members:
            value = found.get(ref.id)
            if isinstance(value, _Unavailable):
                raise SecretRefError(f"{path} is unavailable: {value} (ref: {ref.key})")
            if not isinstance(value, str) or not value:
                raise SecretRefError(
                    f'{path}: Secret reference "{ref.key}" resolved to a non-string or empty value.'
                )
            out[path] = value
    return out


def _resolve_group(
    provider: Provider, refs: list[SecretRef], env: Mapping[str, str]
) -> dict[str, object]:
    if isinstance(provider, EnvProvider):
        found: dict[str, object] = {}
        for ref in refs:
            try:
                found[ref.id] = resolve_env_ref(ref, provider, env)
            except SecretRefError as exc:
                found[ref.id] = _Unavailable(str(exc))
        return found
    name = refs[0].provider
    if isinstance(provider, FileProvider):
        return _file_values(name, provider, refs, env)
    return _exec_values(name, provider, sorted({r.id for r in refs}), env)


# -- file ----------------------------------------------------------------------------------


def _file_values(
    name: str, provider: FileProvider, refs: list[SecretRef], env: Mapping[str, str]
) -> dict[str, object]:
    text = read_secure_file(
        user_path(provider.path, env),
        f"secrets.providers.{name}.path",
        provider.max_bytes,
        provider.timeout_ms,
        name,
    )
    if provider.mode == "singleValue":
        single = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
        return {
            ref.id: single
            if ref.id == SINGLE_VALUE_ID
            else _Unavailable(f'singleValue file provider "{name}" expects ref id "value".')
            for ref in refs
        }
    try:
        payload = json.loads(text)
    except ValueError:
        raise _Unavailable(f'File provider "{name}" payload is not valid JSON.') from None
    if not isinstance(payload, dict):
        raise _Unavailable(f'File provider "{name}" payload is not a JSON object.')
    found: dict[str, object] = {}
    for ref in refs:
        try:
            found[ref.id] = read_json_pointer(payload, ref.id)
        except _Unavailable as exc:
            found[ref.id] = exc
    return found


def read_json_pointer(root: Any, pointer: str) -> Any:
    """RFC 6901 (official readJsonPointer): `~1` is `/`, `~0` is `~`; missing -> error."""
    if not pointer.startswith("/"):
        raise _Unavailable(
            "File-backed secret ids must be absolute JSON pointers (for example: "
            '"/providers/openai/apiKey").'
        )
    current = root
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current) or token != str(int(token)):
                raise _Unavailable(f'JSON pointer segment "{token}" is out of bounds.')
            current = current[int(token)]
        elif isinstance(current, dict) and token in current:
            current = current[token]
        else:
            raise _Unavailable(f'JSON pointer segment "{token}" does not exist.')
    return current


def _entry(path: Path, label: str, *, regular: bool) -> os.stat_result:
    """The checks a secret file and an exec command share: an absolute path to an entry that
    exists and is not a symlink (lstat), a file: a regular one when `regular`, else anything
    but a directory (the official readSecureFile / assertSecureExecCommandPath)."""
    if not path.is_absolute():
        raise _Unavailable(f"{label} must be an absolute path.")
    try:
        info = os.lstat(path)
    except OSError:
        raise _Unavailable(f"{label} is not readable: {path}") from None
    if stat.S_ISLNK(info.st_mode):
        raise _Unavailable(f"{label} must not be a symlink: {path}")
    if stat.S_ISDIR(info.st_mode) or (regular and not stat.S_ISREG(info.st_mode)):
        raise _Unavailable(f"{label} must be a file: {path}")
    return info


def read_secure_file(path: Path, label: str, max_bytes: int, timeout_ms: int, name: str) -> str:
    """The private-file checks, then a bounded read (official readSecureFile)."""
    before = _entry(path, label, regular=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        raise _Unavailable(f"{label} is not readable: {path}") from None
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise _Unavailable(f"{label} changed while it was opened: {path}")
        if info.st_nlink > 1:
            raise _Unavailable(f"{label} must not be hardlinked: {path}")
        if info.st_mode & 0o077:
            raise _Unavailable(f"{label} permissions are too open: {path}")
        if info.st_uid != os.geteuid():
            raise _Unavailable(
                f"{label} must be owned by the effective user (uid={os.geteuid()}): {path}"
            )
        if info.st_size > max_bytes:
            raise _Unavailable(f"{label} exceeded maxBytes ({max_bytes}).")
        deadline = time.monotonic() + timeout_ms / 1000
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, READ_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise _Unavailable(f"{label} exceeded maxBytes ({max_bytes}).")
            if time.monotonic() > deadline:
                raise _Unavailable(f'File provider "{name}" timed out after {timeout_ms}ms.')
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace").removeprefix("\ufeff")


# -- exec ----------------------------------------------------------------------------------


def secure_command_path(provider: ExecProvider, label: str, env: Mapping[str, str]) -> Path:
    """Official assertSecureExecCommandPath."""
    path = user_path(provider.command, env)
    info = _entry(path, label, regular=False)
    if provider.trusted_dirs:
        dirs = [user_path(d, env) for d in provider.trusted_dirs]
        if not any(path.is_relative_to(d) for d in dirs):
            raise _Unavailable(f"{label} is outside trustedDirs: {path}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _Unavailable(f"{label} permissions are too open: {path}")
    if info.st_uid != os.getuid():
        raise _Unavailable(f"{label} must be owned by the current user (uid={os.getuid()}): {path}")
    return path


def _exec_values(
    name: str, provider: ExecProvider, ids: list[str], env: Mapping[str, str]
) -> dict[str, object]:
    if len(ids) > MAX_REFS_PER_PROVIDER:
        raise _Unavailable(
            f'Exec provider "{name}" exceeded maxRefsPerProvider ({MAX_REFS_PER_PROVIDER}).'
        )
    command = secure_command_path(provider, f"secrets.providers.{name}.command", env)
    request = json.dumps({"protocolVersion": 1, "provider": name, "ids": ids}).encode()
    if len(request) > MAX_BATCH_BYTES:
        raise _Unavailable(
            f'Exec provider "{name}" request exceeded maxBatchBytes ({MAX_BATCH_BYTES}).'
        )
    child_env = {k: env[k] for k in provider.pass_env if k in env}
    child_env.update(provider.env)
    stdout = _run_resolver(name, provider, [str(command), *provider.args], child_env, request)
    return _parse_exec_values(name, provider, ids, stdout)


def _run_resolver(
    name: str, provider: ExecProvider, argv: list[str], env: dict[str, str], request: bytes
) -> str:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=os.path.dirname(argv[0]),
            start_new_session=True,  # its own process group: a timeout kills the whole tree
        )
    except OSError as exc:
        raise _Unavailable(f'Exec provider "{name}" could not start: {exc.strerror}.') from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    started = time.monotonic()
    last_output = started
    out = bytearray()
    seen = 0
    verdict: str | None = None
    try:
        try:
            proc.stdin.write(request)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            while sel.get_map():
                now = time.monotonic()
                left = min(
                    started + provider.timeout_ms / 1000 - now,
                    last_output + provider.no_output_timeout_ms / 1000 - now,
                )
                if left <= 0:
                    timed_out = now - started >= provider.timeout_ms / 1000
                    verdict = "timeout" if timed_out else "no-output"
                    break
                for key, _ in sel.select(left):
                    chunk = os.read(key.fd, READ_CHUNK)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    last_output = time.monotonic()
                    seen += len(chunk)
                    if key.fileobj is proc.stdout:
                        out += chunk
                    if seen > provider.max_output_bytes:
                        verdict = "too-much"
                        break
                if verdict is not None:
                    break
        if verdict is None:
            code = proc.wait(max(0.0, started + provider.timeout_ms / 1000 - time.monotonic()))
        else:
            code = None
    except subprocess.TimeoutExpired:
        verdict, code = "timeout", None
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        proc.stdout.close()
        proc.stderr.close()
    if verdict == "timeout":
        raise _Unavailable(f'Exec provider "{name}" timed out after {provider.timeout_ms}ms.')
    if verdict == "no-output":
        raise _Unavailable(
            f'Exec provider "{name}" produced no output for {provider.no_output_timeout_ms}ms.'
        )
    if verdict == "too-much":
        raise _Unavailable(
            f"Exec provider output exceeded maxOutputBytes ({provider.max_output_bytes})."
        )
    if code != 0:
        raise _Unavailable(f'Exec provider "{name}" exited with code {code}.')
    return out.decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _parse_exec_values(
    name: str, provider: ExecProvider, ids: list[str], stdout: str
) -> dict[str, object]:
    """Official parseExecValues."""
    trimmed = stdout.strip()
    if not trimmed:
        raise _Unavailable(f'Exec provider "{name}" returned empty stdout.')
    plain_ok = not provider.json_only and len(ids) == 1
    try:
        parsed = json.loads(trimmed)
    except ValueError:
        if plain_ok:
            return {ids[0]: trimmed}
        raise _Unavailable(f'Exec provider "{name}" returned invalid JSON.') from None
    if not isinstance(parsed, dict):
        if plain_ok and isinstance(parsed, str):
            return {ids[0]: parsed}
        raise _Unavailable(f'Exec provider "{name}" response must be an object.')
    if parsed.get("protocolVersion") != 1:
        raise _Unavailable(f'Exec provider "{name}" protocolVersion must be 1.')
    values = parsed.get("values")
    if not isinstance(values, dict):
        raise _Unavailable(f'Exec provider "{name}" response missing "values".')
    raw_errors = parsed.get("errors")
    errors: dict[str, Any] = raw_errors if isinstance(raw_errors, dict) else {}
    found: dict[str, object] = {}
    for ref_id in ids:
        if ref_id in errors:
            entry = errors[ref_id]
            code = entry.get("code") if isinstance(entry, dict) else None
            safe = f" ({code})" if code in SAFE_EXEC_ERROR_CODES else ""
            found[ref_id] = _Unavailable(f'Exec provider "{name}" failed for id "{ref_id}"{safe}.')
        elif ref_id not in values:
            found[ref_id] = _Unavailable(f'Exec provider "{name}" response missing id "{ref_id}".')
        else:
            found[ref_id] = values[ref_id]
    return found
