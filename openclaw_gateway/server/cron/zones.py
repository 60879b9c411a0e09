"""Time zones for cron schedules: IANA names (case-insensitive, like Intl) and the host zone."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from openclaw_gateway.server.cron.errors import ScheduleError


@functools.lru_cache(maxsize=1)
def _zone_names_by_folded_case() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; like Intl (which croner uses), the name is case-insensitive."""
    if name and ".." not in name and not name.startswith("/"):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            canonical = _zone_names_by_folded_case().get(name.lower())
            if canonical is not None:
                return ZoneInfo(canonical)
    raise ScheduleError(
        f"CronDate: Failed to convert date to timezone '{name}'. This may happen with invalid"
        f" timezone names or dates. Original error: toTZ: Invalid timezone '{name}' or date."
        " Please provide a valid IANA timezone (e.g., 'America/New_York',"
        f" 'Europe/Stockholm'). Original error: Invalid time zone specified: {name}"
    )


def host_timezone() -> str:
    """The host's IANA zone: $TZ, /etc/timezone, the /etc/localtime link; else "UTC"."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").strip().lstrip(":")
    if tz_env:
        candidates.append(tz_env.split("zoneinfo/", 1)[-1])
    try:
        candidates.append(Path("/etc/timezone").read_text().strip().splitlines()[0].strip())
    except (OSError, IndexError):
        pass
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            candidates.append(link.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        try:
            zone(name)
        except ScheduleError:
            continue
        return name
    return "UTC"
