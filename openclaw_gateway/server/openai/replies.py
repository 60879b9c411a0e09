"""The JSON error answers of the gateway's HTTP API routes, in the official shapes
(http-common.ts): `{error: {message, type}}`; a missing scope adds `ok:false` and details."""

from __future__ import annotations

from openclaw_gateway.server.http.messages import HttpResponse, json_response, text

RATE_LIMITED_MESSAGE = "Too many failed authentication attempts. Please try again later."


def error(status: int, message: str, kind: str) -> HttpResponse:
    return json_response(status, {"error": {"message": message, "type": kind}})


def invalid_request(message: str) -> HttpResponse:
    return error(400, message, "invalid_request_error")


def unauthorized() -> HttpResponse:
    return error(401, "Unauthorized", "unauthorized")


def rate_limited(retry_after_ms: int) -> HttpResponse:
    extra = (("Retry-After", str(-(-retry_after_ms // 1000))),) if retry_after_ms > 0 else ()
    body = {"error": {"message": RATE_LIMITED_MESSAGE, "type": "rate_limited"}}
    return json_response(429, body, extra=extra)


def missing_scope(scope: str) -> HttpResponse:
    details = {"code": "MISSING_SCOPE", "missingScope": scope, "requiredScopes": [scope]}
    body = {
        "ok": False,
        "error": {"type": "forbidden", "message": f"missing scope: {scope}", "details": details},
    }
    return json_response(403, body)


def method_not_allowed(allow: str) -> HttpResponse:
    return text(405, "Method Not Allowed", (("Allow", allow),))


def body_rejected(status: int) -> HttpResponse:
    """413 / 408 of the JSON body reader; anything else is a 400 with the reader's message."""
    message = {413: "Payload too large", 408: "Request body timeout"}.get(status)
    if message is None:
        return invalid_request("Invalid request body")
    return error(status, message, "invalid_request_error")
