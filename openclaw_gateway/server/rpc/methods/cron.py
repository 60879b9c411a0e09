"""cron.status, cron.list, cron.get, cron.add, cron.update, cron.remove, cron.run, cron.runs.

Jobs live in the state database (store.py); every change is one transaction committed before
the answer, then the scheduler is woken (`state.cron.wake()`) and a `cron` event goes out.
Definitions are normalized by cron/jobs.py; runs are started by cron/scheduler.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from openclaw_gateway.core.errors import RpcError
from openclaw_gateway.protocol.schema import (
    NON_EMPTY,
    AnyOf,
    AnyValue,
    Arr,
    Bool,
    Enum,
    Int,
    Schema,
    Str,
    obj,
    req,
)
from openclaw_gateway.security import scopes as S
from openclaw_gateway.server.cron import jobs as J
from openclaw_gateway.server.cron import views as V
from openclaw_gateway.server.rpc.context import CallContext, GatewayState
from openclaw_gateway.server.rpc.methods import registry
from openclaw_gateway.server.rpc.methods._params import check
from openclaw_gateway.state.store import Store

NOT_FOUND_TAIL = (
    " List automations and retry with a current job id. For cross-session management, use a "
    "fresh authenticated configured channel owner or Control UI administrator turn or the "
    "Automations page."
)
CHANGED = (
    "cron job definition no longer matches the loaded version; review the latest version "
    "before retrying"
)
RUN_ID = Str(min_length=1)


def _id_or_job_id(**extra: Any) -> Schema:
    return AnyOf((obj(id=req(NON_EMPTY), **extra), obj(jobId=req(NON_EMPTY), **extra)))


STATUS_SCHEMA = obj()
GET_SCHEMA = _id_or_job_id()
REMOVE_SCHEMA = _id_or_job_id()
RUN_SCHEMA = _id_or_job_id(
    mode=Enum(("due", "force", "if-enabled")), expectedProcessInstanceId=NON_EMPTY
)
UPDATE_SCHEMA = _id_or_job_id(patch=req(AnyValue()), expectedConfigRevision=Str())
LIST_SCHEMA = obj(
    sessionKey=NON_EMPTY,
    sessionAgentId=NON_EMPTY,
    includeDisabled=Bool(),
    limit=Int(1, 200),
    offset=Int(0),
    query=Str(),
    enabled=Enum(("all", "enabled", "disabled")),
    scheduleKind=Enum(("all", "at", "every", "cron", "on-exit", "stream")),
    lastRunStatus=Enum(("all", "ok", "error", "skipped", "unknown")),
    trigger=Enum(("all", "conditional", "unconditional")),
    sortBy=Enum(("nextRunAtMs", "updatedAtMs", "name")),
    sortDir=Enum(("asc", "desc")),
    agentId=NON_EMPTY,
    compact=Bool(),
    includeDeliveryPreviews=Bool(),
)
_RUN_STATUS = Enum(("ok", "error", "skipped"))
_DELIVERY_STATUS = Enum(("delivered", "not-delivered", "unknown", "not-requested"))
RUNS_SCHEMA = obj(
    agentId=NON_EMPTY,
    scope=Enum(("job", "all")),
    id=NON_EMPTY,
    jobId=NON_EMPTY,
    runId=NON_EMPTY,
    limit=Int(1, 200),
    offset=Int(0),
    statuses=Arr(_RUN_STATUS, min_items=1),
    status=Enum(("all", "ok", "error", "skipped")),
    deliveryStatuses=Arr(_DELIVERY_STATUS, min_items=1),
    deliveryStatus=_DELIVERY_STATUS,
    query=Str(),
    sortDir=Enum(("asc", "desc")),
)
PROCESS_INSTANCE_ID = str(uuid.uuid4())


def _invalid(method: str, reason: str) -> RpcError:
    return RpcError("INVALID_REQUEST", f"invalid {method} params: {reason}")


def _job_error(method: str, exc: J.JobError) -> RpcError:
    return RpcError("INVALID_REQUEST", str(exc)) if exc.bare else _invalid(method, str(exc))


def not_found(job_id: str, *, get_wording: bool = False) -> RpcError:
    head = "cron job not found" if get_wording else "Automation not found"
    return RpcError(
        "INVALID_REQUEST",
        f"{head}: {job_id}.{NOT_FOUND_TAIL}",
        details={"code": "CRON_JOB_NOT_FOUND", "jobId": job_id},
    )


def _store(state: GatewayState) -> Store:
    if state.store is None:
        raise RpcError("UNAVAILABLE", "cron store unavailable")
    return state.store


def _job_id(p: dict[str, Any]) -> str:
    value = p.get("id", p.get("jobId"))
    return value.strip() if isinstance(value, str) else ""


def _wake(state: GatewayState) -> None:
    if state.cron is not None:
        state.cron.wake()


def _view(job: J.Job, st: dict[str, Any], *, admin: bool = True) -> J.Job:
    return V.read_view(job, st, admin=admin)


def _job_event(state: GatewayState, action: str, job: J.Job, st: dict[str, Any]) -> None:
    """The `cron` event carrying the job: admins get the real view, readers the redacted one
    (hub.broadcast encodes each once)."""

    def event(view: J.Job) -> dict[str, Any]:
        out: dict[str, Any] = {"jobId": view["id"], "action": action, "job": view}
        if "nextRunAtMs" in view:
            out["nextRunAtMs"] = view["nextRunAtMs"]
        return out

    state.broadcast("cron", event(_view(job, st)), redacted=event(_view(job, st, admin=False)))


# --- read ---------------------------------------------------------------------------------------


@registry.method("cron.status", scope=S.READ)
def cron_status(ctx: CallContext, params: Any) -> dict[str, Any]:
    check("cron.status", STATUS_SCHEMA, params)
    state = ctx.state
    store = _store(state)
    path = str(store.path)
    jobs = store.cron_jobs()
    slots = [
        st["nextRunAtMs"]
        for job, st in jobs
        if job.get("enabled") and isinstance(st.get("nextRunAtMs"), int)
    ]
    enabled = state.cron is not None
    return {
        "enabled": enabled,
        "triggersEnabled": False,  # no condition-script runtime here (cron/jobs.py)
        "storePath": path,
        "storage": "sqlite",
        "sqlitePath": path,
        "jobs": len(jobs),
        "nextWakeAtMs": (min(slots) if slots else None) if enabled else None,
    }


@registry.method("cron.list", scope=S.READ)
def cron_list(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("cron.list", LIST_SCHEMA, params)
    rows = [(job, st) for job, st in _store(ctx.state).cron_jobs() if V.matches(job, st, p)]
    rows = V.sort_rows(rows, p.get("sortBy", "nextRunAtMs"), p.get("sortDir") == "desc")
    total = len(rows)
    offset = max(0, min(total, int(p.get("offset", 0))))
    limit = max(1, min(200, int(p.get("limit", total or 50))))
    page = rows[offset : offset + limit]
    next_offset = offset + len(page)
    jobs = []
    admin = ctx.is_admin
    for job, st in page:
        view = _view(job, st, admin=admin)
        view["effectiveAgentId"] = job.get("agentId") or "main"
        jobs.append(view)
    result: dict[str, Any] = {
        "jobs": jobs,
        "snapshotRevision": V.snapshot_revision([_view(j, s, admin=admin) for j, s in rows]),
        "total": total,
        "offset": offset,
        "limit": limit,
        "hasMore": next_offset < total,
        "nextOffset": next_offset if next_offset < total else None,
    }
    if p.get("compact") is not True and p.get("includeDeliveryPreviews") is not False:
        result["deliveryPreviews"] = {job["id"]: V.delivery_preview(job) for job, _ in page}
    return result


@registry.method("cron.get", scope=S.READ)
def cron_get(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("cron.get", GET_SCHEMA, params)
    job_id = _job_id(p)
    if not job_id:
        raise _invalid("cron.get", "missing id")
    found = _store(ctx.state).cron_job(job_id)
    if found is None:
        raise not_found(job_id, get_wording=True)
    return _view(*found, admin=ctx.is_admin)


# --- write --------------------------------------------------------------------------------------


def _declarative(job: J.Job, include_enabled: bool) -> J.Job:
    skip = {"id", "createdAtMs", "updatedAtMs"} | (set() if include_enabled else {"enabled"})
    return {k: v for k, v in job.items() if k not in skip}


@registry.method("cron.add", scope=S.ADMIN, control_plane_write=True)
def cron_add(ctx: CallContext, params: Any) -> dict[str, Any]:
    state = ctx.state
    store = _store(state)
    if not isinstance(params, dict):
        raise _invalid("cron.add", "must be object")
    for key in ("declarationKey", "displayName"):
        value = params.get(key)
        if isinstance(value, str) and not value.strip():
            raise _invalid("cron.add", f"{key} must not be blank")
    enabled_explicit = "enabled" in params
    if enabled_explicit and J.parse_bool(params["enabled"]) is None:
        raise _invalid("cron.add", "enabled must be a boolean")
    now = state.now_ms()
    try:
        job = J.normalize_create(
            params, job_id=str(uuid.uuid4()), now_ms=now, host_tz=state.host_tz
        )
    except J.JobError as exc:
        raise _job_error("cron.add", exc) from None
    decl_key = job.get("declarationKey")
    with store.transaction():
        existing = store.cron_job_by_declaration(decl_key) if decl_key else None
        if existing is not None:
            old, old_state = existing
            new = {**job, "id": old["id"], "createdAtMs": old["createdAtMs"]}
            raw_schedule = params.get("schedule")
            if (
                new["schedule"].get("kind") == "every"
                and isinstance(raw_schedule, dict)
                and "anchorMs" not in raw_schedule
            ):
                new["schedule"] = {**new["schedule"], "anchorMs": old["createdAtMs"]}
            if not enabled_explicit:
                new["enabled"] = old.get("enabled", True)
            if _declarative(old, enabled_explicit) == _declarative(new, enabled_explicit):
                return {
                    "created": False,
                    "updated": False,
                    "job": _view(old, old_state),
                    "deliveryPreview": V.delivery_preview(old),
                }
            new_state = dict(old_state)
            if J.schedule_changed(old, new) or new.get("enabled") != old.get("enabled"):
                new_state.pop("nextRunAtMs", None)
                new_state.update(J.initial_state(new, now, state.host_tz))
            store.cron_put_job(new, new_state)
            saved = (new, new_state)
            view = _view(new, new_state)
            result = {
                "created": False,
                "updated": True,
                "job": view,
                "deliveryPreview": V.delivery_preview(new),
            }
            action = "updated"
        else:
            st = J.initial_state(job, now, state.host_tz)
            store.cron_put_job(job, st)
            saved = (job, st)
            view = _view(job, st)
            preview = V.delivery_preview(job)
            result = (
                {"created": True, "job": view, "deliveryPreview": preview}
                if decl_key
                else {**view, "deliveryPreview": preview}
            )
            action = "added"
    state.logger.info("cron", f"cron: job {action} {view['id']}")
    _wake(state)
    _job_event(state, action, *saved)
    return result


@registry.method("cron.update", scope=S.ADMIN, control_plane_write=True)
def cron_update(ctx: CallContext, params: Any) -> dict[str, Any]:
    state = ctx.state
    store = _store(state)
    raw_patch = params.get("patch") if isinstance(params, dict) else None
    if isinstance(raw_patch, dict):
        name = raw_patch.get("displayName")
        if isinstance(name, str) and not name.strip():
            raise _invalid("cron.update", "displayName must not be blank")
    p = check("cron.update", UPDATE_SCHEMA, params)
    if not isinstance(p["patch"], dict):
        raise _invalid("cron.update", "patch did not normalize")
    job_id = _job_id(p)
    if not job_id:
        raise _invalid("cron.update", "missing id")
    now = state.now_ms()
    with store.transaction():
        found = store.cron_job(job_id)
        if found is None:
            raise not_found(job_id)
        job, st = found
        expected = p.get("expectedConfigRevision")
        if expected is not None:
            actual = V.config_revision(job)
            if actual != expected:
                raise RpcError(
                    "INVALID_REQUEST",
                    CHANGED,
                    details={
                        "code": "CRON_JOB_CHANGED",
                        "expectedConfigRevision": expected,
                        "actualConfigRevision": actual,
                    },
                )
        try:
            new = J.apply_patch(job, p["patch"], now_ms=now, host_tz=state.host_tz)
        except J.JobError as exc:
            raise _job_error("cron.update", exc) from None
        new_state = dict(st)
        if J.schedule_changed(job, new) or new.get("enabled") != job.get("enabled"):
            new_state.pop("nextRunAtMs", None)
            new_state.update(J.initial_state(new, now, state.host_tz))
        if not new.get("enabled"):
            new_state.pop("nextRunAtMs", None)
        store.cron_put_job(new, new_state)
    state.logger.info("cron", f"cron: job updated {job_id}")
    _wake(state)
    _job_event(state, "updated", new, new_state)
    return _view(new, new_state)


@registry.method("cron.remove", scope=S.ADMIN, control_plane_write=True)
def cron_remove(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("cron.remove", REMOVE_SCHEMA, params)
    job_id = _job_id(p)
    if not job_id:
        raise _invalid("cron.remove", "missing id")
    state = ctx.state
    store = _store(state)
    with store.transaction():
        removed = store.cron_delete_job(job_id)
    if not removed:
        raise not_found(job_id)
    state.logger.info("cron", f"cron: job removed {job_id}")
    _wake(state)
    state.broadcast("cron", {"jobId": job_id, "action": "removed"})
    return {"ok": True, "removed": True}


@registry.method("cron.run", scope=S.ADMIN, control_plane_write=True)
def cron_run(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("cron.run", RUN_SCHEMA, params)
    job_id = _job_id(p)
    if not job_id:
        raise _invalid("cron.run", "missing id")
    state = ctx.state
    found = _store(state).cron_job(job_id)
    if found is None:
        raise not_found(job_id)
    expected_instance = p.get("expectedProcessInstanceId")
    if expected_instance and expected_instance != PROCESS_INSTANCE_ID:
        raise _invalid("cron.run", "Gateway process changed after preflight")
    job, st = found
    mode = p.get("mode", "force")

    def not_ran(reason: str) -> dict[str, Any]:
        return {
            "ok": True,
            "ran": False,
            "reason": reason,
            "processInstanceId": PROCESS_INSTANCE_ID,
        }

    cron = state.cron
    if cron is None:
        return not_ran("stopped")
    if cron.is_running(job_id):
        return not_ran("already-running")
    if mode in ("if-enabled", "due") and not job.get("enabled"):
        return not_ran("disabled")
    if mode == "due":
        nxt = st.get("nextRunAtMs")
        if not isinstance(nxt, int) or nxt > state.now_ms():
            return not_ran("not-due")
    run_id = cron.run_now(job_id, manual=mode != "due")
    return {"ok": True, "enqueued": True, "runId": run_id, "processInstanceId": PROCESS_INSTANCE_ID}


@registry.method("cron.runs", scope=S.READ)
def cron_runs(ctx: CallContext, params: Any) -> dict[str, Any]:
    p = check("cron.runs", RUNS_SCHEMA, params)
    store = _store(ctx.state)
    has_selector = "id" in p or "jobId" in p
    scope = p.get("scope", "job" if has_selector else "all")
    job_id: str | None = None
    names: dict[str, str] = {job["id"]: job.get("name", "") for job, _ in store.cron_jobs()}
    if scope == "job":
        job_id = _job_id(p)
        if not job_id:
            raise _invalid("cron.runs", "missing id")
        if "/" in job_id or "\\" in job_id:
            raise _invalid("cron.runs", "invalid id")
        if job_id not in names and store.cron_run_count(job_id) == 0:
            raise not_found(job_id)
    entries = [entry for _, entry in store.cron_runs(job_id)]
    if p.get("agentId") and p["agentId"].strip().lower() != "main":
        entries = []
    statuses = set(p.get("statuses") or ())
    if p.get("status") and p["status"] != "all":
        statuses = {p["status"]}
    if statuses:
        entries = [e for e in entries if e.get("status") in statuses]
    deliveries = set(p.get("deliveryStatuses") or ())
    if p.get("deliveryStatus"):
        deliveries = {p["deliveryStatus"]}
    if deliveries:
        entries = [e for e in entries if e.get("deliveryStatus") in deliveries]
    if p.get("runId"):
        entries = [e for e in entries if e.get("runId") == p["runId"]]
    query = (p.get("query") or "").strip().lower()
    if query:
        entries = [
            e
            for e in entries
            if query
            in " ".join(
                str(e.get(k) or "") for k in ("jobId", "jobName", "summary", "error", "runId")
            ).lower()
        ]
    if p.get("sortDir", "desc") == "desc":
        entries.reverse()
    total = len(entries)
    offset = max(0, min(total, int(p.get("offset", 0))))
    limit = int(p.get("limit", 50))
    page = entries[offset : offset + limit]
    for entry in page:
        if not entry.get("jobName") and entry.get("jobId") in names:
            entry["jobName"] = names[entry["jobId"]]
        if entry.get("jobName") is None:
            entry.pop("jobName", None)
    next_offset = offset + len(page)
    return {
        "entries": page,
        "total": total,
        "offset": offset,
        "limit": limit,
        "hasMore": next_offset < total,
        "nextOffset": next_offset if next_offset < total else None,
    }
