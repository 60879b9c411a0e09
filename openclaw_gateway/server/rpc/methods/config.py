"""config.get: a redacted snapshot of the config file as it is on disk now."""

from __future__ import annotations

import hashlib
from typing import Any

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core import secrets
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.protocol.schema import obj
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.rpc.context import CallContext
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check


def snapshot(path: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": str(path),
        "exists": False,
        "valid": True,
        "config": {},
        "issues": [],
        "legacyIssues": [],
        "configRevisionHash": None,
        "appliedConfigHash": None,
    }
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    except OSError as exc:
        out.update(valid=False, issues=[{"path": "", "message": exc.strerror or str(exc)}])
        return out
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    out.update(exists=True, hash=digest, configRevisionHash=f"sha256:{digest}")
    try:
        data = cfg.parse_text(text)
    except ValueError as exc:
        out.update(valid=False, issues=[{"path": "", "message": f"JSON5 parse failed: {exc}"}])
        return out
    out["config"] = secrets.redact(data)
    try:
        cfg.structure(data)
    except ConfigError as exc:
        issues = []
        for line in str(exc).splitlines():
            key, _, message = line.partition(": ")
            issues.append({"path": key, "message": message})
        out.update(valid=False, issues=issues)
    return out


@registry.method("config.get", scope=S.READ)
def config_get(ctx: CallContext, params: Any) -> dict[str, Any]:
    check("config.get", obj(), params)
    return snapshot(ctx.state.config_path)
