"""The shared temp root for logs: `/tmp/openclaw` when it is safe, else `<tmpdir>/openclaw-<uid>`.

The official resolveSecureTempRoot (@openclaw/fs-safe): a directory is usable when it is a real
directory (not a symlink), owned by this user, writable by nobody else (mode & 0o022 == 0) and
writable and searchable by us. A missing one is created 0700. One of ours with loose
permissions is tightened to 0700 through a descriptor opened without following links. Anything
else (another user's directory, a symlink, a file) is never used: the per-user fallback is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

PREFERRED_TMP_ROOT = Path("/tmp/openclaw")
FALLBACK_PREFIX = "openclaw"


class UnsafeDirectoryError(PermissionError):
    """A directory we must not write secrets-adjacent files into (owner, type or mode)."""


def _uid(uid: int | None) -> int:
    return os.getuid() if uid is None else uid


def fallback_tmp_root(*, uid: int | None = None, tmpdir: str | None = None) -> Path:
    base = tmpdir if tmpdir is not None else tempfile.gettempdir()
    return Path(base) / f"{FALLBACK_PREFIX}-{_uid(uid)}"


def unsafe_reason(path: Path, *, uid: int | None = None) -> str | None:
    """None if `path` is a usable directory for this user, else why not ("missing", ...)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(st.st_mode):
        return "a symlink"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if st.st_uid != _uid(uid):
        return f"owned by uid {st.st_uid}"
    if st.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(st.st_mode):o})"
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    return None


def _tighten(path: Path, uid: int) -> None:
    """chmod 0700 a directory of ours, through a descriptor (no symlink can be followed)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    with contextlib.suppress(OSError):
        fd = os.open(path, flags)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == uid:
                os.fchmod(fd, 0o700)
        finally:
            os.close(fd)


def ensure_private_dir(path: Path, *, uid: int | None = None) -> None:
    """Make `path` a usable directory (create 0700, tighten ours) or raise
    UnsafeDirectoryError naming what is wrong with it."""
    me = _uid(uid)
    reason = unsafe_reason(path, uid=me)
    if reason == "missing":
        with contextlib.suppress(FileExistsError, FileNotFoundError, PermissionError):
            os.mkdir(path, 0o700)
        _tighten(path, me)  # exactly 0700, whatever the umask (a racing creator is checked)
        reason = unsafe_reason(path, uid=me)
    elif reason is not None and reason.startswith("writable by others"):
        _tighten(path, me)
        reason = unsafe_reason(path, uid=me)
    if reason is not None:
        raise UnsafeDirectoryError(errno.EACCES, f"unsafe temp directory {path}: {reason}")


def secure_tmp_root(
    preferred: Path = PREFERRED_TMP_ROOT, *, uid: int | None = None, tmpdir: str | None = None
) -> Path:
    """`preferred` if it is (or can be made) safe, else the per-user fallback. Never raises:
    an unusable fallback is still returned, and whoever opens a file in it gets the error."""
    try:
        ensure_private_dir(preferred, uid=uid)
        return preferred
    except UnsafeDirectoryError:
        pass
    fallback = fallback_tmp_root(uid=uid, tmpdir=tmpdir)
    with contextlib.suppress(UnsafeDirectoryError):
        ensure_private_dir(fallback, uid=uid)
    return fallback


def is_tmp_root(path: Path, *, uid: int | None = None, tmpdir: str | None = None) -> bool:
    """Is `path` one of the shared temp roots (where directory safety is enforced)?"""
    return path in (PREFERRED_TMP_ROOT, fallback_tmp_root(uid=uid, tmpdir=tmpdir))
