"""File helpers of the service code (atomic writes live in atomicfile.py)."""

from __future__ import annotations

from pathlib import Path


def remove(path: Path) -> bool:
    """Delete `path` if it exists; True when something was removed."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
