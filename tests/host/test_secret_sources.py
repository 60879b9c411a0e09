"""SecretRef `file` and `exec` sources against real files and a real resolver program."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from openclaw_gateway.core.secrets import SecretRefError
from openclaw_gateway.host.secret_sources import read_json_pointer, resolve_secrets

SECRET = "file-secret-5e1f9a7c"


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def file_config(path: Path, **extra: Any) -> dict[str, Any]:
    return {"secrets": {"providers": {"vault": {"source": "file", "path": str(path), **extra}}}}


def resolve(value: Any, raw: dict[str, Any], env: dict[str, str] | None = None) -> str | None:
    return resolve_secrets({"gateway.auth.token": value}, raw, env or {})["gateway.auth.token"]


def test_file_json_pointer_with_escapes(tmp_path: Path) -> None:
    path = private(tmp_path / "s.json", json.dumps({"gw": {"a/b": {"t~k": SECRET}}}))
    ref = {"source": "file", "provider": "vault", "id": "/gw/a~1b/t~0k"}
    assert resolve(ref, file_config(path)) == SECRET


def test_file_single_value_strips_one_newline(tmp_path: Path) -> None:
    path = private(tmp_path / "token", SECRET + "\n")
    raw = file_config(path, mode="singleValue")
    assert resolve({"source": "file", "provider": "vault", "id": "value"}, raw) == SECRET
    with pytest.raises(SecretRefError, match='expects ref id "value"'):
        resolve({"source": "file", "provider": "vault", "id": "/x"}, raw)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.chmod(0o640), "permissions are too open"),
        (lambda p: os.link(p, p.with_name("twin")), "must not be hardlinked"),
        (lambda p: (p.rename(p.with_name("real")), p.symlink_to(p.with_name("real"))), "symlink"),
        (lambda p: p.unlink(), "is not readable"),
    ],
)
def test_file_must_be_private_and_single(tmp_path: Path, setup: Any, message: str) -> None:
    path = private(tmp_path / "s.json", json.dumps({"t": SECRET}))
    setup(path)
    with pytest.raises(SecretRefError) as err:
        resolve({"source": "file", "provider": "vault", "id": "/t"}, file_config(path))
    text = str(err.value)
    assert text.startswith("gateway.auth.token is unavailable: ")
    assert text.endswith("(ref: file:vault:/t)")
    assert message in text and SECRET not in text


def test_file_max_bytes_and_missing_pointer(tmp_path: Path) -> None:
    path = private(tmp_path / "s.json", json.dumps({"t": SECRET, "pad": "x" * 200}))
    with pytest.raises(SecretRefError, match=r"exceeded maxBytes \(64\)"):
        resolve({"source": "file", "provider": "vault", "id": "/t"}, file_config(path, maxBytes=64))
    with pytest.raises(SecretRefError, match='segment "nope" does not exist'):
        resolve({"source": "file", "provider": "vault", "id": "/nope"}, file_config(path))


def test_refs_are_validated_and_providers_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SecretRefError, match=r'Secret provider "vault" is not configured'):
        resolve({"source": "file", "provider": "vault", "id": "/t"}, {})
    with pytest.raises(SecretRefError, match="absolute JSON pointer"):
        resolve({"source": "file", "provider": "vault", "id": "t"}, {})
    with pytest.raises(SecretRefError, match=r'must not include "\." or "\.\."'):
        resolve({"source": "exec", "provider": "vault", "id": "a/../b"}, {})
    raw = file_config(tmp_path / "s.json")
    with pytest.raises(SecretRefError, match='has source "file" but ref requests "exec"'):
        resolve({"source": "exec", "provider": "vault", "id": "x"}, raw)


def test_env_refs_default_provider_and_allowlist() -> None:
    assert resolve({"source": "env", "id": "GW_TOKEN"}, {}, {"GW_TOKEN": SECRET}) == SECRET
    raw = {"secrets": {"providers": {"default": {"source": "env", "allowlist": ["OTHER"]}}}}
    with pytest.raises(SecretRefError, match="not allowlisted"):
        resolve({"source": "env", "id": "GW_TOKEN"}, raw, {"GW_TOKEN": SECRET})


def test_json_pointer_arrays() -> None:
    assert read_json_pointer({"a": [1, {"b": "x"}]}, "/a/1/b") == "x"


# -- exec -------------------------------------------------------------------------------------

RESOLVER = """#!{python}
import json, os, sys, time
request = json.load(sys.stdin)
mode = os.environ.get("MODE", "ok")
log = os.environ.get("LOG")
if log:
    with open(log, "a") as fh:
        fh.write(json.dumps({{"request": request, "env": sorted(os.environ)}}) + "\\n")
if mode == "sleep":
    time.sleep(30)
if mode == "plain":
    print("{secret}")
    sys.exit(0)
if mode == "fail":
    print("leaked-in-stderr {secret}", file=sys.stderr)
    sys.exit(3)
values = {{i: "{secret}-" + i for i in request["ids"] if i != "missing"}}
errors = {{"missing": {{"code": "NOT_FOUND", "message": "{secret}"}}}}
print(json.dumps({{"protocolVersion": 1, "values": values, "errors": errors}}))
"""


def resolver(tmp_path: Path, mode: int = 0o700) -> Path:
    path = tmp_path / "bin" / "resolver"
    path.parent.mkdir(exist_ok=True)
    path.write_text(RESOLVER.format(python=sys.executable, secret=SECRET))
    path.chmod(mode)
    return path


def exec_config(command: Path, **extra: Any) -> dict[str, Any]:
    provider = {"source": "exec", "command": str(command), "passEnv": ["MODE", "LOG"], **extra}
    return {"secrets": {"providers": {"vault": provider}}}


def test_exec_protocol_batches_ids_and_passes_only_allowed_env(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    raw = exec_config(resolver(tmp_path), env={"EXTRA": "1"})
    env = {"MODE": "ok", "LOG": str(log), "HIDDEN": "no"}
    found = resolve_secrets(
        {
            "gateway.auth.token": {"source": "exec", "provider": "vault", "id": "gw/token"},
            "gateway.auth.password": {"source": "exec", "provider": "vault", "id": "gw#pw"},
        },
        raw,
        env,
    )
    assert found == {
        "gateway.auth.token": f"{SECRET}-gw/token",
        "gateway.auth.password": f"{SECRET}-gw#pw",
    }
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1  # one run for the provider's ids
    assert calls[0]["request"] == {
        "protocolVersion": 1,
        "provider": "vault",
        "ids": ["gw#pw", "gw/token"],
    }
    assert "HIDDEN" not in calls[0]["env"] and {"EXTRA", "MODE", "LOG"} <= set(calls[0]["env"])


def test_exec_errors_never_show_resolver_output(tmp_path: Path) -> None:
    raw = exec_config(resolver(tmp_path))
    ref = {"source": "exec", "provider": "vault", "id": "missing"}
    with pytest.raises(SecretRefError) as err:
        resolve(ref, raw, {"MODE": "ok"})
    assert 'failed for id "missing" (NOT_FOUND)' in str(err.value)
    with pytest.raises(SecretRefError) as err:
        resolve({"source": "exec", "provider": "vault", "id": "x"}, raw, {"MODE": "fail"})
    assert "exited with code 3" in str(err.value) and SECRET not in str(err.value)


def test_exec_plain_output_needs_json_only_false(tmp_path: Path) -> None:
    ref = {"source": "exec", "provider": "vault", "id": "x"}
    with pytest.raises(SecretRefError, match="returned invalid JSON"):
        resolve(ref, exec_config(resolver(tmp_path)), {"MODE": "plain"})
    raw = exec_config(resolver(tmp_path), jsonOnly=False)
    assert resolve(ref, raw, {"MODE": "plain"}) == SECRET


def test_exec_timeout_kills_the_resolver(tmp_path: Path) -> None:
    raw = exec_config(resolver(tmp_path), timeoutMs=300)
    ref = {"source": "exec", "provider": "vault", "id": "x"}
    with pytest.raises(SecretRefError, match=r"timed out after 300ms"):
        resolve(ref, raw, {"MODE": "sleep"})


def test_exec_command_path_trust(tmp_path: Path) -> None:
    ref = {"source": "exec", "provider": "vault", "id": "x"}
    loose = resolver(tmp_path, 0o777)
    with pytest.raises(SecretRefError, match="permissions are too open"):
        resolve(ref, exec_config(loose), {})
    strict = resolver(tmp_path)
    with pytest.raises(SecretRefError, match="outside trustedDirs"):
        resolve(ref, exec_config(strict, trustedDirs=[str(tmp_path / "elsewhere")]), {})
    link = tmp_path / "link"
    link.symlink_to(strict)
    with pytest.raises(SecretRefError, match="must not be a symlink"):
        resolve(ref, exec_config(link), {})
