"""`POST <hooks.path>/wake`, `/agent` and mapped paths (official hooks-request handler).

Order of checks (official): a `token` query parameter -> 400; not POST -> 405; the hook token
(`Authorization: Bearer` first, else `x-openclaw-token`) -> 401, and after 20 failures in 60 s
from one client 429 + Retry-After (loopback not exempt; a valid token resets); then the body
(256 KiB, 30 s -> 413/408). Wake queues a system line in the main session (and with mode
"now" wakes the agent) through the main-session API; agent submits a turn there, replayed by
idempotency key (the run id is derived from it, so the run manager finds the first run).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.security.auth import safe_equal
from openclaw_gateway.security.ratelimit import AuthRateLimiter, AuthRateLimitPolicy
from openclaw_gateway.server.hooks import policy as P
from openclaw_gateway.server.hooks import templates as T
from openclaw_gateway.server.hooks.config import HookMapping, HooksConfig
from openclaw_gateway.server.http.messages import (
    HttpRequest,
    HttpResponse,
    Response,
    json_response,
    text,
)
from openclaw_gateway.server.http.reader import BodyError
from openclaw_gateway.server.http.router import RequestContext, Route
from openclaw_gateway.server.mainsession.api import AgentTurn, DeliveryTarget, StartedTurn
from openclaw_gateway.server.rpc.context import GatewayState
from openclaw_gateway.server.runs.run import DEFAULT_TURN_TIMEOUT_MS

MAX_BODY_BYTES = 256 * 1024
BODY_TIMEOUT = 30.0
AUTH_FAILURES = 20  # per client per window, official HOOK_AUTH_FAILURE_LIMIT
AUTH_WINDOW_MS = 60_000
HOOK_SCOPE = "hook-auth"
QUERY_TOKEN = (
    "Hook token must be provided via Authorization: Bearer <token> or X-OpenClaw-Token header "
    "(query parameters are not allowed)."
)
Record = dict[str, Any]


def hook_token(request: HttpRequest) -> str:
    return request.bearer_token() or request.headers.get("x-openclaw-token", "").strip()


def idempotency_key(request: HttpRequest) -> str | None:
    for name in ("idempotency-key", "x-openclaw-idempotency-key"):
        value = request.headers.get(name, "").strip()
        if value and len(value) <= 256:
            return value
    return None


def _failed(status: int, error: str) -> HttpResponse:
    return json_response(status, {"ok": False, "error": error})


class HooksRoute:
    def __init__(self, config: HooksConfig, state: GatewayState) -> None:
        self.config = config
        self.state = state
        self.limiter = AuthRateLimiter(
            AuthRateLimitPolicy(
                AUTH_FAILURES, AUTH_WINDOW_MS, AUTH_WINDOW_MS, exempt_loopback=False
            )
        )

    async def __call__(self, request: HttpRequest, ctx: RequestContext) -> Response | None:
        base = self.config.base_path
        if request.path != base and not request.path.startswith(base + "/"):
            return None
        if "token" in request.query:
            return text(400, QUERY_TOKEN)
        if request.method != "POST":
            return text(405, "Method Not Allowed", (("Allow", "POST"),))
        now = self.state.now_ms()
        if not safe_equal(hook_token(request), self.config.token):
            check = self.limiter.check(ctx.peer_ip, HOOK_SCOPE, now)
            if not check.allowed:
                retry = max(1, -(-check.retry_after_ms // 1000))
                return text(429, "Too Many Requests", (("Retry-After", str(retry)),))
            self.limiter.record_failure(ctx.peer_ip, HOOK_SCOPE, now)
            return text(401, "Unauthorized")
        self.limiter.reset(ctx.peer_ip, HOOK_SCOPE)
        sub_path = request.path[len(base) :].strip("/")
        if not sub_path:
            return text(404, "Not Found")
        try:
            raw = await ctx.read_body(MAX_BODY_BYTES, BODY_TIMEOUT)
        except BodyError as exc:
            reason = {413: "payload too large", 408: "request body timeout"}.get(exc.status)
            return _failed(exc.status if reason else 400, reason or str(exc))
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            return _failed(400, f"invalid JSON: {exc}")
        payload = payload if isinstance(payload, dict) else {}
        try:
            if sub_path == "wake":
                return self._wake(P.wake_payload(payload))
            if sub_path == "agent":
                wait = payload.get("waitForCompletion")
                if wait is not None and not isinstance(wait, bool):
                    return _failed(400, "waitForCompletion must be boolean")
                action = P.agent_payload(payload, idempotency_key(request))
                if action.session_mode == "persistent":
                    if not action.session_key:
                        raise P.HookRefusal("sessionKey is required when sessionMode is persistent")
                    if not self.config.allowed_prefixes:
                        raise P.HookRefusal(
                            "hooks.allowedSessionKeyPrefixes is required when direct hook "
                            "sessionMode is persistent"
                        )
                return await self._agent(action, "agent", wait is True)
            return await self._mapped(request, sub_path, payload)
        except P.HookRefusal as exc:
            return _failed(400, str(exc))

    # --- actions ---------------------------------------------------------------------------

    def _agent_of(self, requested: str | None) -> str:
        agents = self.state.require_conversations().agents
        return P.target_agent(self.config, requested, agents.ids(), agents.default_id)

    def _wake(self, action: P.WakeAction) -> HttpResponse:
        agent_id = self._agent_of(action.agent_id)
        key = None
        if action.session_key:
            logical = P.logical_session_key(
                self.config, action.session_key, action.session_key_source
            )
            key = P.dispatch_session_key(logical, agent_id)
        try:
            self.state.require_main_session().system_event(
                action.text,
                session_key=key,
                agent_id=agent_id,
                wake_mode=action.mode,
                source="hook",
            )
        except RpcError as exc:
            return _failed(400, exc.message)
        # The main session queues every event (it never coalesces), so: queued.
        return json_response(200, {"ok": True, "mode": action.mode, "eventOutcome": "queued"})

    async def _agent(self, action: P.AgentAction, path: str, wait: bool) -> HttpResponse:
        agent_id = self._agent_of(action.agent_id)
        logical = P.logical_session_key(self.config, action.session_key, action.session_key_source)
        key = P.dispatch_session_key(logical, agent_id)
        run_id = self._run_id(path, agent_id, key, action)
        if action.session_mode == "isolated" and not logical.startswith("hook:"):
            # Isolated: a fresh session under the logical key (no earlier context), as the
            # official runs isolated hooks in fresh run sessions even for a stable key.
            key = f"{key}:run:{run_id.removeprefix('hook_')[:12]}"
        deliver = None
        if action.deliver and action.channel:
            deliver = DeliveryTarget(action.channel, action.to, action.account_id)
        turn = AgentTurn(
            action.message,
            session_key=key,
            agent_id=agent_id,
            deliver=deliver,
            origin="hook",
            run_id=run_id,
            model=action.model,
            thinking=action.thinking,
            timeout_ms=action.timeout_seconds * 1000
            if action.timeout_seconds
            else DEFAULT_TURN_TIMEOUT_MS,
        )
        main = self.state.require_main_session()
        try:
            started = await main.start_agent_turn(turn)
        except RpcError as exc:
            status = 400 if exc.code == "INVALID_REQUEST" else 503
            return json_response(status, {"ok": False, "error": exc.message, "runId": run_id})
        out: Record = {"ok": True, "runId": started.run.run_id}
        if wait:
            await started.finished.wait()
            out["completion"] = completion(started, deliver is not None)
        return json_response(200, out)

    def _run_id(self, path: str, agent_id: str, key: str, action: P.AgentAction) -> str:
        """`hook_<uuid>`, or for an idempotency key a digest of the key and what it dispatches
        (official replay scope: same token, path and dispatch fields), so a retry finds its run."""
        if not action.idempotency_key:
            return f"hook_{uuid.uuid4()}"
        scope = json.dumps(
            [self.config.base_path, path, agent_id, key, action.message, action.name, action.model],
            ensure_ascii=False,
        )
        digest = hashlib.sha256(f"{scope}\0{action.idempotency_key}".encode()).hexdigest()
        return f"hook_{digest[:32]}"

    async def _mapped(self, request: HttpRequest, sub_path: str, payload: Record) -> HttpResponse:
        mapping = next(
            (m for m in self.config.mappings if P.mapping_matches(m, sub_path, payload)), None
        )
        if mapping is None:
            return text(404, "Not Found")
        ctx = T.TemplateContext(
            payload=payload,
            headers=request.headers,
            query=request.query,
            path=sub_path,
            now_iso=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        source = "mapping-templated" if T.is_templated(mapping.session_key) else "mapping-static"
        key = T.render(mapping.session_key, ctx) if mapping.session_key else None
        if mapping.session_key and not key:
            raise P.HookRefusal("hook mapping sessionKey rendered empty")
        if mapping.action == "wake":
            body = T.render(mapping.text_template, ctx).strip()
            if not body:
                raise P.HookRefusal("hook mapping requires text")
            return self._wake(P.WakeAction(body, mapping.wake_mode, mapping.agent_id, key, source))
        return await self._agent(_mapped_agent(mapping, ctx, key, source), sub_path, False)


def _mapped_agent(
    mapping: HookMapping, ctx: T.TemplateContext, key: str | None, source: str
) -> P.AgentAction:
    message = T.render(mapping.message_template, ctx).strip()
    if not message:
        raise P.HookRefusal("hook mapping requires message")
    if mapping.session_mode == "persistent" and not key:
        raise P.HookRefusal(
            "sessionKey or hooks.defaultSessionKey is required when mapped hook sessionMode is "
            "persistent"
        )
    to = T.render(mapping.to, ctx) or None if mapping.to else None
    return P.AgentAction(
        message=message,
        name=T.render(mapping.name, ctx) or "Hook" if mapping.name else "Hook",
        agent_id=mapping.agent_id,
        session_key=key,
        session_key_source=source,
        session_mode=mapping.session_mode,
        wake_mode=mapping.wake_mode,
        deliver=mapping.deliver,
        channel=mapping.channel if mapping.deliver else None,
        to=to,
        model=T.render(mapping.model, ctx) or None if mapping.model else None,
        thinking=T.render(mapping.thinking, ctx) or None if mapping.thinking else None,
        timeout_seconds=mapping.timeout_seconds,
    )


def completion(started: StartedTurn, delivery_requested: bool) -> Record:
    """The terminal facts (official): status, whether a reply existed; never its text."""
    run = started.run
    out: Record = {
        "status": "ok" if run.status == "ok" else "error",
        "replyDisposition": "visible" if run.text.strip() else "empty",
    }
    if delivery_requested:
        out["deliveryAttempted"] = run.status == "ok" and bool(run.text.strip())
        out["delivered"] = started.delivery_id is not None
        if started.delivery_error is not None:
            out["deliveryError"] = "delivery-failed"
    return out


def hooks_route(config: HooksConfig, state: GatewayState) -> Route:
    return HooksRoute(config, state)
