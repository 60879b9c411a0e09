"""Atomic file replacement: the one home of temp + fsync + rename + directory fsync.

Readers see the old file or the new one, never a torn one, and a crash right after the call
returns keeps the new content (the directory entry is synced too). Used for the config file,
service definitions and secret env files, the detached pidfile, the wide-area DNS zone and
the client's device identity and device tokens.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

KEEP_MODE = -1  # keep the replaced file's permission bits (0644 for a new file)


def write_atomic(path: Path, text: str, mode: int = 0o644, *, dir_mode: int = 0o700) -> None:
    """Replace `path` with `text` (UTF-8) with permission bits `mode` (or KEEP_MODE).

    A missing parent directory is created with `dir_mode`. The temporary file lives beside the
    target (same file system, so the rename is atomic) under a unique name, so two writers never
    share one temp file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    if mode == KEEP_MODE:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; the umask plays no part
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
