"""HTTP request and response values and their wire rendering. Pure: no I/O here.

Every response carries the default security headers; the connection is always closed after one
response (the gateway port is not a keep-alive HTTP server), so a streamed body ends at EOF.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(self), geolocation=()"),
)

REASONS: Mapping[int, str] = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    426: "Upgrade Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@attrs.frozen
class HttpRequest:
    """One request head (header names lower-cased, repeated headers joined with ", ")."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        _, _, query = self.target.partition("?")
        return dict(parse_qsl(query, keep_blank_values=True))

    def bearer_token(self) -> str:
        """The `Authorization: Bearer …` token, or "" (never logged)."""
        value = self.headers.get("authorization", "")
        return value[7:].strip() if value.lower().startswith("bearer ") else ""


@attrs.frozen
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@attrs.frozen
class StreamingResponse:
    """A response whose body is produced while it is sent (e.g. server-sent events).

    No Content-Length: the body ends when the connection closes (we always close).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: AsyncGenerator[bytes, None] = attrs.field(repr=False)


Response = HttpResponse | StreamingResponse


def render_head(status: int, headers: tuple[tuple[str, str], ...]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def render(response: HttpResponse) -> bytes:
    return render_head(response.status, response.headers) + response.body


def json_response(
    status: int,
    value: Any,
    *,
    head: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> HttpResponse:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Content-Length", str(len(body))),
        *extra,
        *SECURITY_HEADERS,
    )
    return HttpResponse(status, headers, b"" if head else body)


def text(status: int, message: str, extra: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    body = message.encode("utf-8")
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *extra,
        *SECURITY_HEADERS,
    )
    return HttpResponse(status, headers, body)
