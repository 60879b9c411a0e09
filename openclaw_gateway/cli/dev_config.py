"""`gateway run --dev [--reset]`: the dev config and workspace (cli.md §2.6).

Without a config file `--dev` writes one (gateway.mode=local, bind=loopback, the dev agent
and its workspace); `--reset` first moves the config, credentials, agent sessions and the
workspace to the Trash, as the official command does.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openclaw_gateway.cli.run_checks import RuntimeConsole
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.paths import Paths, shorten_home, user_path

DEV_IDENTITY = {"name": "C3-PO", "theme": "protocol droid", "emoji": "🤖"}
DEV_WORKSPACE_FILES = {
    "AGENTS.md": "# AGENTS.md - OpenClaw Dev Workspace\n\n"
    "Default dev workspace for openclaw gateway --dev.\n",
    "SOUL.md": "# SOUL.md - Dev Persona\n\nProtocol droid for debugging and operations.\n",
    "IDENTITY.md": "# IDENTITY.md - Agent Identity\n\n- Name: C3-PO\n- Creature: protocol droid\n"
    "- Vibe: protocol droid\n- Emoji: 🤖\n",
    "USER.md": "# USER.md - User Profile\n\n- Name:\n- Preferred address:\n- Notes:\n",
}


def dev_workspace_dir(env: Mapping[str, str], paths: Paths) -> Path:
    """`<workspace>-dev`, or the profile's own workspace under `openclaw --dev`."""
    explicit = (env.get("OPENCLAW_WORKSPACE_DIR") or "").strip()
    if explicit:
        base = user_path(explicit, env)
    elif (env.get("OPENCLAW_STATE_DIR") or "").strip():
        base = paths.state_dir / "workspace"
    elif paths.profile:
        base = paths.home / f".openclaw-{paths.profile}" / "workspace"
    else:
        base = paths.home / ".openclaw" / "workspace"
    if (env.get("OPENCLAW_PROFILE") or "").strip().lower() == "dev":
        return base
    return base.with_name(base.name + "-dev")


def dev_config(workspace: Path) -> dict[str, Any]:
    return {
        "gateway": {"mode": "local", "bind": "loopback"},
        "agents": {
            "defaults": {"workspace": str(workspace), "skipBootstrap": True},
            "entries": {
                "dev": {"default": True, "workspace": str(workspace), "identity": DEV_IDENTITY}
            },
        },
    }


def _move_to_trash(target: Path, paths: Paths, env: Mapping[str, str], out: RuntimeConsole) -> None:
    if not target.exists() and not target.is_symlink():
        return
    stamp = f"{int(dt.datetime.now().timestamp() * 1000)}-{uuid.uuid4().hex[:8]}"
    trash = paths.home / ".Trash" / f".fs-safe-trash-{stamp}"
    trash.mkdir(parents=True, exist_ok=True)
    os.replace(target, trash / target.name)
    out.log(f"Moved to Trash: {shorten_home(target, env)}")


def ensure_dev_config(
    paths: Paths, env: Mapping[str, str], out: RuntimeConsole, *, reset: bool
) -> None:
    workspace = dev_workspace_dir(env, paths)
    if reset:
        _move_to_trash(paths.config_path, paths, env, out)
        _move_to_trash(paths.config_path.parent / "credentials", paths, env, out)
        agents = paths.state_dir / "agents"
        if agents.is_dir():
            for sessions in sorted(agents.glob("*/sessions")):
                _move_to_trash(sessions, paths, env, out)
        _move_to_trash(workspace, paths, env, out)
    if not reset and paths.config_path.exists():
        return
    workspace.mkdir(parents=True, exist_ok=True)
    for name, text in DEV_WORKSPACE_FILES.items():
        target = workspace / name
        if not target.exists():
            target.write_text(text, encoding="utf-8")
    cfg.save_atomic(paths.config_path, dev_config(workspace))
    out.log(f"Dev config ready: {shorten_home(paths.config_path, env)}")
    out.log(f"Dev workspace ready: {shorten_home(workspace, env)}")
