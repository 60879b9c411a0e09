"""Shared by the scheduler tests: wall-clock ms derived from trio's virtual clock."""

from __future__ import annotations

import trio

EPOCH_MS = 1_795_536_000_000


def wall() -> int:
    """Wall-clock ms from trio's virtual clock: an hour of schedule runs in milliseconds."""
    return EPOCH_MS + round(trio.current_time() * 1000)
