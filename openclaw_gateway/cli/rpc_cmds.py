"""`gateway call <method>` and `gateway health`: one RPC, the official output contracts.

Human output goes to stdout (`Gateway call: <m>` + 2-space JSON); human errors to stderr.
With --json, results and errors both go to stdout as JSON, errors as
`{"ok":false,"error":{"type":…}}` with the official types. Exit 0 on success, 1 on failure.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from functools import partial
from importlib import resources
from typing import Any, TextIO

import attrs
import trio

from openclaw_gateway import __version__
from openclaw_gateway.cli.target import CliFailure, Target, resolve_target
from openclaw_gateway.cli.ws_url import is_loopback_url
from openclaw_gateway.client import (
    ClientIdentity,
    GatewayRequestError,
    GatewayTransportError,
    connect_params,
    open_session,
)
from openclaw_gateway.client.identity import IdentityStore
from openclaw_gateway.core import config as cfg
from openclaw_gateway.core.errors import ConfigError
from openclaw_gateway.core.paths import resolve_paths

DEFAULT_TIMEOUT_MS = 10_000
MAX_UPGRADE_BODY = 2048
CLI_DEFAULT_SCOPES = (
    "operator.admin",
    "operator.read",
    "operator.write",
    "operator.approvals",
    "operator.questions",
    "operator.pairing",
    "operator.talk.secrets",
)
_SCOPES: dict[str, str] | None = None


def method_scope(method: str) -> tuple[str, ...]:
    """The least-privilege scopes the official CLI requests for `method`."""
    global _SCOPES
    if _SCOPES is None:
        table: dict[str, str] = {}
        text = resources.files("openclaw_gateway.cli").joinpath("method-scopes.tsv").read_text()
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, scope, *_ = line.split("\t")
            table.setdefault(name, scope)
        _SCOPES = table
    required = _SCOPES.get(method)
    if required is None or not required.startswith("operator."):
        return CLI_DEFAULT_SCOPES
    return (required,)


def parse_timeout(raw: str | None, default_ms: int) -> int:
    if raw is None:
        return default_ms
    text = raw.strip()
    if not text.isdigit() or int(text) <= 0:
        raise CliFailure(
            "cli_error",
            "Invalid --timeout. Use a positive millisecond value, "
            f'e.g. --timeout 30000. Received: "{raw}".',
        )
    return int(text)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def device_store(paths: Any) -> IdentityStore:
    """This installation's device identity and device tokens (never created by the CLI)."""
    return IdentityStore(paths.state_dir / "identity")


def load_runtime_token(paths: Any) -> str | None:
    try:
        return str(paths.runtime_token_path.read_text(encoding="utf-8").strip()) or None
    except OSError:
        return None


async def call_once(
    target: Target,
    method: str,
    params: Any,
    timeout_ms: int,
    scopes: tuple[str, ...],
    mode: str = "cli",
    client_id: str = "cli",
    store: IdentityStore | None = None,
    expect_final: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Connect, call, close. Returns (hello, payload). Raises client errors (never a group).
    `expect_final` (--expect-final) waits past an `accepted` answer; the timeout bounds all."""
    identity = ClientIdentity(client_id=client_id, mode=mode, version=__version__)
    connect = connect_params(
        identity, role="operator", scopes=scopes, token=target.token, password=target.password
    )
    timeout = timeout_ms / 1000
    # As the official CLI: no device on loopback with a shared secret; otherwise the stored
    # identity (if any) signs, and its device token stands in for missing credentials.
    device = store.load() if store is not None else None
    loopback_secret = is_loopback_url(target.url) and bool(target.token or target.password)
    signer = device.device_block if device is not None and not loopback_secret else None
    if signer is not None and store is not None and not (target.token or target.password):
        stored = store.device_token(target.url, "operator")
        if stored:
            connect["auth"] = {"deviceToken": stored}
    outcome = _Outcome()
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(timeout):
                    session = await open_session(
                        nursery,
                        target.url,
                        connect,
                        timeout=timeout,
                        signer=signer,
                        tls_fingerprint=target.tls_fingerprint,
                    )
                    outcome.hello = session.hello
                    if store is not None:
                        store.remember_issued(target.url, "operator", session.hello)
                    try:
                        outcome.payload = await session.call(
                            method, params, timeout=timeout, expect_final=expect_final
                        )
                    finally:
                        await session.aclose()
            except trio.TooSlowError:
                outcome.failure = GatewayTransportError(
                    "timeout", f"gateway timeout after {timeout_ms}ms"
                )
            except (GatewayTransportError, GatewayRequestError) as exc:
                outcome.failure = exc
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # trio-websocket raises a rejected upgrade (e.g. HTTP 404 from a web server) from its
        # background reader task, so it arrives as a group at the nursery's exit.
        if group.subgroup(lambda e: not isinstance(e, Exception)) is not None:
            raise
        outcome.failure = GatewayTransportError("closed", background_failure_text(group))
    if outcome.failure is not None:
        raise outcome.failure
    return outcome.hello, outcome.payload


@attrs.define
class _Outcome:
    hello: dict[str, Any] = attrs.field(factory=dict)
    payload: Any = None
    failure: BaseException | None = None


def upgrade_rejection_text(exc: BaseException) -> str | None:
    """`gateway rejected websocket upgrade (HTTP 404): <body>` for a non-101 answer."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return None
    raw = getattr(exc, "body", None)
    body = raw[:MAX_UPGRADE_BODY].decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    body = " ".join(body.split())
    return f"gateway rejected websocket upgrade (HTTP {status})" + (f": {body}" if body else "")


def background_failure_text(exc: BaseException) -> str:
    """Text for an error the websocket library raised from its background reader task."""
    leaf = exc
    while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
        leaf = leaf.exceptions[0]
    return upgrade_rejection_text(leaf) or str(leaf) or type(leaf).__name__


def transport_failure(exc: GatewayTransportError, target: Target, timeout_ms: int) -> CliFailure:
    if exc.kind == "tls":  # the official reports TLS refusals as plain CLI errors
        return CliFailure("cli_error", str(exc))
    if exc.kind == "timeout":
        return CliFailure(
            "gateway_transport_error",
            f"gateway timeout after {timeout_ms}ms",
            extra={"kind": "timeout", "timeoutMs": timeout_ms, "gateway": target.gateway_block()},
        )
    host = target.url.split("://", 1)[-1].rstrip("/")
    if exc.kind == "refused":
        message = f"Gateway not reachable at {target.url} (ECONNREFUSED)."
        reason = f"connect ECONNREFUSED {host}"
    else:
        message = f"Gateway closed the connection: {exc}"
        reason = exc.reason or str(exc)
    return CliFailure(
        "gateway_transport_error",
        message,
        extra={
            "kind": "closed",
            "reason": reason,
            "gateway": target.gateway_block(),
            "hint": "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
        },
    )


def request_failure(exc: GatewayRequestError) -> CliFailure:
    extra: dict[str, object] = {"code": exc.code}
    if exc.details is not None:
        extra["details"] = exc.details
    extra["retryable"] = exc.retryable
    if exc.retry_after_ms is not None:
        extra["retryAfterMs"] = exc.retry_after_ms
    return CliFailure("gateway_request_error", exc.message, extra=extra)


def target_block_lines(target: Target) -> list[str]:
    """The official "Gateway target / Source / Config / Bind" block under a failure."""
    lines = [f"Gateway target: {target.url}", f"Source: {target.url_source}"]
    if target.config_path is not None:
        lines.append(f"Config: {target.config_path}")
    if target.bind_detail:
        lines.append(target.bind_detail)
    return lines


def report(
    failure: CliFailure,
    *,
    as_json: bool,
    prefix: str,
    target: Target | None,
    out: TextIO,
    err: TextIO,
) -> int:
    if as_json:
        error: dict[str, Any] = {"type": failure.error_type}
        gateway = None
        if failure.error_type == "gateway_transport_error":
            error["kind"] = failure.extra.get("kind")
            error["message"] = failure.message
            for key in ("reason", "timeoutMs"):
                if key in failure.extra:
                    error[key] = failure.extra[key]
            gateway = failure.extra.get("gateway")
        elif failure.error_type == "gateway_request_error":
            error["code"] = failure.extra.get("code")
            error["message"] = failure.message
            for key in ("details", "retryable", "retryAfterMs"):
                if key in failure.extra:
                    error[key] = failure.extra[key]
        else:
            error["message"] = failure.message
        body: dict[str, Any] = {"ok": False, "error": error}
        if gateway is not None:
            body["gateway"] = gateway
        print(_dump(body), file=out)
        return failure.exit_code
    if failure.error_type == "gateway_transport_error":
        lines = [failure.message]
        if "hint" in failure.extra:
            lines.append(str(failure.extra["hint"]))
        if target is not None:
            lines += target_block_lines(target)
        print("\n".join(lines), file=err)
    elif failure.error_type in ("gateway_credentials_required",):
        print(failure.message, file=err)
    else:
        print(f"{prefix}: {failure.message}", file=err)
    return failure.exit_code


def target_for(
    method: str,
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    has_device_token: Callable[[str], bool] | None = None,
) -> Target:
    paths = resolve_paths(env)
    try:
        loaded = cfg.load(paths.config_path)
    except ConfigError:
        if not opts.get("url"):
            raise
        loaded = cfg.LoadedConfig(paths.config_path, True, cfg.Config())
    return resolve_target(
        method=method,
        url_flag=opts.get("url"),
        port_flag=opts.get("port"),
        token_flag=opts.get("token"),
        password_flag=opts.get("password"),
        env=env,
        paths=paths,
        loaded=loaded,
        runtime_token=load_runtime_token(paths),
        has_device_token=has_device_token
        or (lambda url: device_store(paths).device_token(url, "operator") is not None),
    )


def run_rpc(
    method: str,
    params_text: str | None,
    opts: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    render: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Shared body of `call` and `health`. `render` is "call" or "health"."""
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = bool(opts.get("json"))
    prefix = "Gateway call failed" if render == "call" else "Gateway health failed"
    target: Target | None = None
    try:
        params: Any = {}
        if params_text is not None:
            try:
                params = json.loads(params_text)
            except ValueError:
                raise CliFailure("cli_error", "--params must be valid JSON.") from None
        timeout_ms = parse_timeout(opts.get("timeout"), DEFAULT_TIMEOUT_MS)
        target = target_for(method, opts, env)
        store = device_store(resolve_paths(env))
        try:
            _, payload = trio.run(
                partial(
                    call_once,
                    target,
                    method,
                    params,
                    timeout_ms,
                    method_scope(method),
                    store=store,
                    expect_final=bool(opts.get("expect_final")),
                )
            )
        except GatewayTransportError as exc:
            raise transport_failure(exc, target, timeout_ms) from None
        except GatewayRequestError as exc:
            raise request_failure(exc) from None
    except ConfigError as exc:
        return report(
            CliFailure("cli_error", str(exc), exit_code=exc.exit_code),
            as_json=as_json,
            prefix=prefix,
            target=target,
            out=out,
            err=err,
        )
    except CliFailure as failure:
        return report(failure, as_json=as_json, prefix=prefix, target=target, out=out, err=err)
    if as_json:
        print(_dump(payload), file=out)
    elif render == "health":
        print(format_health(payload), file=out)
    else:
        print(f"Gateway call: {method}", file=out)
        print(_dump(payload), file=out)
    return 0


def format_health(payload: Any) -> str:
    lines = ["Gateway Health"]
    duration = payload.get("durationMs", 0) if isinstance(payload, dict) else 0
    lines.append(f"OK ({duration}ms)")
    if isinstance(payload, dict) and isinstance(payload.get("channels"), dict):
        labels = payload.get("channelLabels") or {}
        order = payload.get("channelOrder") or list(payload["channels"])
        for channel in order:
            summary = payload["channels"].get(channel) or {}
            label = labels.get(channel, channel)
            state = (
                "linked"
                if summary.get("linked")
                else ("configured" if summary.get("configured") else "not configured")
            )
            lines.append(f"{label}: {state}")
    return "\n".join(lines)
