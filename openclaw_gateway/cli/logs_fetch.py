"""Where `openclaw logs` reads from: one `logs.tail` call per poll (a fresh connection, as the
official CLI, with the cursor from the previous answer), or, when the implicit local gateway is
unreachable and not following, the configured file log read here with the gateway's own reader.
Failures come back as LogsFailure, marked transient when a follow may retry them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from openclaw_gateway.cli.logs_format import LogsOptions
from openclaw_gateway.cli.rpc_cmds import (
    call_once,
    device_store,
    method_scope,
    target_block_lines,
    transport_failure,
)
from openclaw_gateway.cli.target import CliFailure, Target
from openclaw_gateway.cli.ws_url import is_loopback_url
from openclaw_gateway.client import GatewayRequestError, GatewayTransportError
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.logs import configured_log_path, newest_rolling_log, read_tail
from openclaw_gateway.core.paths import resolve_paths

_PAIRING_REQUIRED = "pairing required"


class LogsFailure(Exception):
    """A fetch that failed for good: what to print, and the target it concerned."""

    def __init__(self, text: str, target: Target | None, *, transient: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.target = target
        self.transient = transient


Fetch = Callable[[int | None], Awaitable[dict[str, Any]]]


def _failure_text(failure: CliFailure, target: Target) -> str:
    """The official error text of a transport failure carries the target block itself (so the
    human output shows it twice, as the official CLI does)."""
    lines = [failure.message]
    if "hint" in failure.extra:
        lines.append(str(failure.extra["hint"]))
    return "\n".join([*lines, *target_block_lines(target)])


def read_configured_file(
    env: Mapping[str, str], cursor: int | None, limit: int, max_bytes: int
) -> dict[str, Any]:
    """The fallback: the file the local gateway writes, read here with the same reader."""
    paths = resolve_paths(env)
    try:
        setting = cfg.load(paths.config_path).config.logging.file
    except ConfigError:
        setting = None
    path = newest_rolling_log(configured_log_path(setting, paths.profile, dt.datetime.now()))
    payload = read_tail(path, cursor, limit, max_bytes)
    return {**payload, "sourceKind": "file", "localFallback": True}


def gateway_fetcher(
    opts: LogsOptions,
    target: Target,
    env: Mapping[str, str],
    *,
    explicit_url: bool,
    refresh: Callable[[], Target] | None = None,
) -> Fetch:
    """One `logs.tail` per poll; for the implicit local gateway, fall back to the file.

    `refresh` re-reads the credentials before each poll (as the official CLI resolves them per
    call): a gateway restarted in process has a new runtime token.
    """
    first = target
    implicit_local = (
        not explicit_url and target.url_source == "local loopback" and is_loopback_url(target.url)
    )
    # As the official CLI: the implicit local target is read as a backend client, no device.
    client_id, mode = ("gateway-client", "backend") if implicit_local else ("cli", "cli")
    store = None if implicit_local else device_store(resolve_paths(env))

    async def fetch(cursor: int | None) -> dict[str, Any]:
        target = first
        if refresh is not None:
            try:
                target = refresh()
            except (CliFailure, ConfigError) as exc:
                raise LogsFailure(getattr(exc, "message", str(exc)), first) from None
        params: dict[str, Any] = {"limit": opts.limit, "maxBytes": opts.max_bytes}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            _, payload = await call_once(
                target,
                "logs.tail",
                params,
                opts.timeout_ms,
                method_scope("logs.tail"),
                mode=mode,
                client_id=client_id,
                store=store,
            )
        except GatewayTransportError as exc:
            if implicit_local and not opts.follow:
                return read_configured_file(env, cursor, opts.limit, opts.max_bytes)
            code = exc.close_code or 0
            transient = exc.kind == "timeout" or not (code == 1008 or 4000 <= code <= 4999)
            failure = transport_failure(exc, target, opts.timeout_ms)
            raise LogsFailure(_failure_text(failure, target), target, transient=transient) from None
        except GatewayRequestError as exc:
            # A refused connect arrives with its close frame (e.g. 1013 "gateway starting"):
            # the official client sees `gateway closed (…)`, an unavailable gateway.
            closed = exc.close_code is not None
            pairing = _PAIRING_REQUIRED in exc.message.lower()
            if implicit_local and not opts.follow and (closed or pairing):
                return read_configured_file(env, cursor, opts.limit, opts.max_bytes)
            code = exc.close_code or 0
            transient = closed and not pairing and not (code == 1008 or 4000 <= code <= 4999)
            raise LogsFailure(exc.message, target, transient=transient) from None
        if not isinstance(payload, dict):
            raise LogsFailure("Unexpected logs.tail response", target)
        return payload

    return fetch
