"""`openclaw gateway discover [--timeout ms] [--json]` (cli.md §1.7, §6).

Browses `local.` in process (zeroconf) and the wide-area domain (`discovery.wideArea.domain`,
else OPENCLAW_WIDE_AREA_DOMAIN) by unicast DNS-SD through the system resolver, each within
--timeout (default 2000 ms). Results are de-duplicated and sorted by display name; a browse
that fails finds nothing (exit 0), as with the official. `wsUrl` comes from the SRV record.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import trio

from openclaw_gateway.cli.rpc_cmds import parse_timeout
from openclaw_gateway.cli.target import CliFailure
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError, is_interrupt
from openclaw_gateway.core.paths import resolve_paths
from openclaw_gateway.discovery import beacons as bc
from openclaw_gateway.discovery.browse import LOCAL_DOMAIN, discover_beacons
from openclaw_gateway.discovery.txt import wide_area_domain_setting
from openclaw_gateway.discovery.wide_area import resolve_domain

DEFAULT_TIMEOUT_MS = 2000
FAILURE_LABEL = "gateway discover failed"


def configured_wide_area_domain(env: Mapping[str, str]) -> str | None:
    """The wide-area domain (normalized, trailing dot) from config (best effort) or env."""
    try:
        raw = cfg.load(resolve_paths(env).config_path).config.raw
    except ConfigError:
        raw = {}
    return resolve_domain(wide_area_domain_setting(raw), env)


async def discover_main(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    *,
    nameservers: Sequence[tuple[str, int]] | None = None,
) -> int:
    as_json = bool(opts.get("json"))
    raw_timeout = opts.get("timeout")
    try:
        timeout_ms = parse_timeout(
            None if raw_timeout is None else str(raw_timeout), DEFAULT_TIMEOUT_MS
        )
    except CliFailure as failure:
        if as_json:
            body = {"ok": False, "error": {"type": "cli_error", "message": failure.message}}
            print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
        else:
            print(f"{FAILURE_LABEL}: {failure.message}", file=err)
        return 1
    domain = configured_wide_area_domain(env)
    domains = [LOCAL_DOMAIN, *([domain] if domain else [])]
    found = await discover_beacons(timeout_ms, domain, env, nameservers=nameservers)
    beacons = bc.dedupe_and_sort(found)
    if as_json:
        print(
            json.dumps(
                bc.discover_json(timeout_ms, domains, beacons), indent=2, ensure_ascii=False
            ),
            file=out,
        )
    else:
        print("\n".join(bc.discover_text(domains, beacons)), file=out)
    return 0


def run_discover(
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Sync entry point (its own trio loop)."""
    try:
        return trio.run(lambda: discover_main(opts, env, out or sys.stdout, err or sys.stderr))
    except BaseException as exc:
        if is_interrupt(exc):
            return 130
        raise
