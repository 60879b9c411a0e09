"""Shared helpers for the probe/status command tests."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import trio

from openclaw_gateway.cli.probe_cmd import probe_main
from openclaw_gateway.cli.status_cmd import status_main


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A throwaway HOME (no config) and nothing else from the real environment.

    OPENCLAW_DISABLE_BONJOUR=1: probe's mDNS browse must never multicast from the host
    namespace (tests/discovery runs it inside network namespaces instead)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "USER": "tester", "OPENCLAW_DISABLE_BONJOUR": "1", **extra}


def write_config(env: dict[str, str], config: dict[str, Any]) -> Path:
    path = Path(env["HOME"]) / ".openclaw" / "openclaw.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def probe(opts: dict[str, Any], env: dict[str, str]) -> tuple[int, str, str]:
    """`gateway probe` in this trio loop (so an in-process gateway keeps serving)."""
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(30):
        code = await probe_main(opts, env, out, err)
    return code, out.getvalue(), err.getvalue()


async def status(opts: dict[str, Any], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(30):
        code = await status_main(opts, env, out, err)
    return code, out.getvalue(), err.getvalue()
