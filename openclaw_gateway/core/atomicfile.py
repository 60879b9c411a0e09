"""Atomic file replacement: the one home of temp + fsync + rename + directory fsync.

Readers see the old file or the new one, never a torn one, and a crash right after the call
returns keeps the new content (the directory entry is synced too). Used for the config file,
service definitions and secret env files, the detached pidfile, the wide-area DNS zone and
the client's device identity and device tokens; `publish_new` (no clobber) for the generated TLS
pair.
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


def publish_new(path: Path, data: bytes, mode: int = 0o600, *, dir_mode: int = 0o700) -> None:
    """Publish `data` at `path` only if nothing is there: FileExistsError otherwise, and the
    existing file is untouched.

    The bytes are written and synced under a temporary name beside the target, with `mode`
    from the start (never readable by others, not even for a moment), then hard-linked into
    place: the link fails if the name exists, and a reader sees the whole file or nothing. On
    a file system without hard links an exclusive create (O_EXCL) keeps the no-clobber rule,
    though not the all-or-nothing one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some FUSE / network file systems)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            out = os.open(path, flags, mode)
            with os.fdopen(out, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
