"""What a check returns and what checks read (pure data; the I/O lives in checks.py,
host_checks.py and facts.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.paths import Paths, resolve_paths
from openclaw_gateway.host.service.manager import Context as ServiceContext

OK, WARN, FAIL = "ok", "warn", "fail"


@attrs.frozen
class Check:
    """One line of the report. `fix` says what to do (empty when there is nothing to do)."""

    id: str
    status: str
    message: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status, "message": self.message, "fix": self.fix}


@attrs.frozen
class Change:
    """One thing `--fix` did (or refused to do, with why)."""

    id: str
    action: str
    applied: bool = True

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "action": self.action, "applied": self.applied}


@attrs.frozen
class Context:
    env: Mapping[str, str]
    paths: Paths
    loaded: cfg.LoadedConfig | None  # None: the config file could not be read at all
    read_error: str | None = None
    clock: Callable[[], float] = time.time
    proc: Path = Path("/proc")
    # The service layer's view of this host (tests pass one with a recording runner).
    service: ServiceContext | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **extra: object) -> Context:
        paths = resolve_paths(env)
        try:
            loaded: cfg.LoadedConfig | None = cfg.load_snapshot(paths.config_path)
            error = None
        except ConfigError as exc:
            loaded, error = None, str(exc)
        return cls(env, paths, loaded, error, **extra)  # type: ignore[arg-type]

    def service_context(self) -> ServiceContext:
        return self.service if self.service is not None else ServiceContext(env=self.env)

    @property
    def config(self) -> cfg.Config:
        return self.loaded.config if self.loaded is not None else cfg.Config()
