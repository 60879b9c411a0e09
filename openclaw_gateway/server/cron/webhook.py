"""Cron webhook delivery: an HTTP POST of the finished-run record (httpx).

The URL is http(s) without embedded credentials (checked when the job is saved, again
here). The strict outbound policy, as the official `cron.webhookSsrfPolicy`: a host that is
or resolves to a loopback/private address is refused unless `allowedHostnames` names it or
`dangerouslyAllowPrivateNetwork` is true. `cron.webhookToken` (a string or an env SecretRef)
goes as `Authorization: Bearer …`. Each attempt has WEBHOOK_TIMEOUT_S; transport errors, 429
and 5xx are retried (RETRY_DELAYS_S), other answers are final. Errors never carry the token.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import trio

from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.netaddr import is_private_or_loopback_host, normalize_ip
from openclaw_gateway.core.secrets import resolve_secret

if TYPE_CHECKING:  # httpx is imported when a webhook is first sent (start-up time)
    import httpx

WEBHOOK_TIMEOUT_S = 10.0
RETRY_DELAYS_S = (1.0, 4.0)
ERROR_BODY_CHARS = 200
CLOSE_TIMEOUT_S = 2.0


class WebhookRefused(ValueError):
    """A URL this gateway will not POST to (the message says why)."""


def check_url(url: str) -> tuple[str, str]:
    """(scheme, host) of an acceptable webhook URL, else WebhookRefused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("cron webhook delivery requires an http(s) URL")
    if parts.username or parts.password:
        raise WebhookRefused("cron webhook URLs must not embed credentials; use cron.webhookToken")
    return parts.scheme, parts.hostname


@attrs.frozen
class WebhookPolicy:
    token: str | None = attrs.field(default=None, repr=False)
    allowed_hosts: frozenset[str] = frozenset()
    allow_private: bool = False

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> WebhookPolicy:
        cron = raw.get("cron") if isinstance(raw.get("cron"), Mapping) else {}
        assert isinstance(cron, Mapping)
        try:
            token = resolve_secret(cron.get("webhookToken"), "cron.webhookToken", os.environ)
        except ConfigError:
            token = None  # an unresolvable reference sends no token (the POST may then fail)
        ssrf = cron.get("webhookSsrfPolicy")
        ssrf = ssrf if isinstance(ssrf, Mapping) else {}
        hosts = ssrf.get("allowedHostnames")
        allowed = (
            frozenset(h.strip().lower() for h in hosts if isinstance(h, str) and h.strip())
            if isinstance(hosts, list)
            else frozenset()
        )
        return cls(token or None, allowed, ssrf.get("dangerouslyAllowPrivateNetwork") is True)

    async def check_host(self, host: str) -> None:
        name = host.strip().lower().rstrip(".")
        if self.allow_private or name in self.allowed_hosts:
            return
        if is_private_or_loopback_host(name):
            raise WebhookRefused(f"cron webhook to a private or loopback host is refused: {host}")
        if normalize_ip(name) is not None:
            return
        try:
            infos = await trio.socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise WebhookRefused(f"cannot resolve webhook host {host}: {exc}") from None
        for info in infos:
            if is_private_or_loopback_host(str(info[4][0])):
                raise WebhookRefused(
                    f"cron webhook host {host} resolves to a private or loopback address"
                )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


async def post_record(
    url: str,
    record: dict[str, Any],
    policy: WebhookPolicy,
    *,
    client: httpx.AsyncClient | None = None,
) -> str | None:
    """POST the record; None when the receiver answered 2xx, else the error."""
    try:
        _scheme, host = check_url(url)
        await policy.check_host(host)
    except WebhookRefused as exc:
        return str(exc)
    headers = {"content-type": "application/json"}
    if policy.token:
        headers["authorization"] = f"Bearer {policy.token}"
    import httpx  # lazy: see the module's imports

    owned = client is None
    http = client or httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False)
    error = "cron webhook was not attempted"
    try:
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            if attempt:
                await trio.sleep(RETRY_DELAYS_S[attempt - 1])
            try:
                answer = await http.post(url, json=record, headers=headers)
            except httpx.HTTPError as exc:
                error = f"cron webhook failed: {type(exc).__name__}: {exc}"
                continue
            if 200 <= answer.status_code < 300:
                return None
            body = answer.text[:ERROR_BODY_CHARS].strip()
            error = f"cron webhook answered HTTP {answer.status_code}" + (
                f": {body}" if body else ""
            )
            if not _retryable(answer.status_code):
                return error
        return error
    finally:
        if owned:  # closed even when the run is cancelled (shutdown): no socket left behind
            with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                await http.aclose()
