"""The HTML document as served: base-path anchoring and the Content-Security-Policy. Pure.

Ports the official control-ui-csp.ts and serveResolvedIndexHtml: scripts only from 'self' plus
the SHA-256 hash of each inline `<script>` the document really holds (never 'unsafe-inline'),
`<html>` tagged with the base path so the app knows where it lives, and `./` references made
absolute under the base path so deep SPA links still find their assets.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re

BASE_PATH_ATTRIBUTE = "data-openclaw-control-ui-base-path"
TERMINAL_ATTRIBUTE = "data-openclaw-control-ui-terminal-enabled"
_INLINE_SCRIPT = re.compile(r"<script(\s[^>]*)?>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_SRC_ATTRIBUTE = re.compile(r"\ssrc\s*=", re.IGNORECASE)
_HTML_TAG = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_RELATIVE_REF = re.compile(r'\b(src|href)="\./')


def normalize_base_path(value: str | None) -> str:
    """ "" for the root, else "/a/b" (official normalizeControlUiBasePath)."""
    text = (value or "").strip()
    if not text or text == "/":
        return ""
    text = text if text.startswith("/") else "/" + text
    return text[:-1] if text.endswith("/") else text


def inline_script_hashes(document: str) -> list[str]:
    hashes = []
    for match in _INLINE_SCRIPT.finditer(document):
        attributes, content = match.group(1) or "", match.group(2)
        if _SRC_ATTRIBUTE.search(attributes) or not content:
            continue
        digest = hashlib.sha256(content.encode("utf-8")).digest()
        hashes.append("sha256-" + base64.b64encode(digest).decode("ascii"))
    return hashes


def csp_header(inline_hashes: list[str] | None = None) -> str:
    """The official buildControlUiCspHeader (no wasm: this gateway has no terminal)."""
    scripts = ["'self'", *(f"'{h}'" for h in inline_hashes or ())]
    connect = ["'self'", "ws:", "wss:", "data:", "https://api.openai.com", "https://tweakcn.com"]
    return "; ".join(
        (
            "default-src 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "frame-src 'self' http: https:",
            f"script-src {' '.join(scripts)}",
            "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
            "img-src 'self' data: blob: https:",
            "media-src 'self' data: blob:",
            "font-src 'self' https://fonts.gstatic.com",
            "worker-src 'self'",
            f"connect-src {' '.join(connect)}",
        )
    )


def prepare_index(document: str, base_path: str) -> str:
    """The document with `./` references anchored at the base path and `<html>` tagged."""
    anchored = _RELATIVE_REF.sub(lambda m: f'{m.group(1)}="{base_path}/', document)
    attributes = f' {BASE_PATH_ATTRIBUTE}="{html.escape(base_path, quote=True)}" {TERMINAL_ATTRIBUTE}="false"'
    return _HTML_TAG.sub(lambda m: "<html" + attributes + m.group(0)[5:], anchored, count=1)
