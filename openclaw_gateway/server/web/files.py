"""Files under a web root: traversal-safe resolution, MIME types, caching, reads off the loop.

A request path is decoded once (as the official `decodeURIComponent`); any `..` segment in the
raw, the decoded or a second decoding, a backslash, a NUL or an absolute form is refused, and the
resolved real path (symlinks followed) must stay inside the root's real path. Refusals read as
"no such file" (404), so a probe learns nothing about the disk.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote

import attrs
import trio

MAX_FILE_BYTES = 64 * 1024 * 1024  # a web asset larger than this is refused, not streamed

CONTENT_TYPES: dict[str, str] = {  # the official CONTROL_UI_CONTENT_TYPES, plus fonts/maps
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# A bundler's content hash in the file name (`index-BN_yKX8J.js`): the bytes never change under
# that name, so the browser may keep them for a year without asking again.
_HASHED_NAME = re.compile(r"[-.][A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$")


def content_type(rel: str) -> str:
    return CONTENT_TYPES.get(os.path.splitext(rel)[1].lower(), DEFAULT_CONTENT_TYPE)


def is_static_asset(rel: str) -> bool:
    """A known non-HTML file type: a miss is a 404, never the SPA fallback (official)."""
    ext = os.path.splitext(rel)[1].lower()
    return ext != ".html" and ext in CONTENT_TYPES


def cache_control(rel: str) -> str:
    hashed = rel.startswith("assets/") and bool(_HASHED_NAME.search(rel.rsplit("/", 1)[-1]))
    return IMMUTABLE if hashed else REVALIDATE


def _has_dot_dot(path: str) -> bool:
    return any(seg == ".." for seg in re.split(r"[/\\]", path))


def safe_relative(raw: str) -> str | None:
    """The root-relative file path for a raw (still percent-encoded) path, or None if unsafe."""
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    twice = unquote(decoded, errors="replace")
    if any(_has_dot_dot(p) for p in (raw, decoded, twice)):
        return None
    if "\\" in decoded or "\x00" in decoded or "\\" in twice or "\x00" in twice:
        return None
    if decoded.startswith("/") or re.match(r"^[A-Za-z]:", decoded):
        return None
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    return "/".join(parts)


@attrs.frozen
class WebFile:
    rel: str
    body: bytes  # empty for HEAD
    size: int
    mtime: float


def _read(root_real: str, rel: str, with_body: bool) -> WebFile | None:
    """Blocking: open `rel` under the root if it is a regular file really inside it."""
    candidate = os.path.join(root_real, rel) if rel else root_real
    try:
        real = os.path.realpath(candidate, strict=True)
    except OSError:
        return None
    if os.path.commonpath([real, root_real]) != root_real:
        return None  # a symlink (or a symlinked folder) that leads out of the root
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            return None
        body = b""
        if with_body:
            chunks = []
            remaining = st.st_size
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            body = b"".join(chunks)
        return WebFile(rel, body, st.st_size if not with_body else len(body), st.st_mtime)
    finally:
        os.close(fd)


@attrs.frozen
class WebRoot:
    """A directory served over HTTP; `real` is its resolved path (symlinks followed)."""

    path: Path
    real: str

    @classmethod
    def open(cls, path: Path) -> WebRoot | None:
        """The root, or None when it does not exist or holds no `index.html` (official)."""
        try:
            real = os.path.realpath(path, strict=True)
        except OSError:
            return None
        if not os.path.isfile(os.path.join(real, "index.html")):
            return None
        return cls(path, real)

    async def read(self, rel: str, *, with_body: bool = True) -> WebFile | None:
        return await trio.to_thread.run_sync(_read, self.real, rel, with_body)
