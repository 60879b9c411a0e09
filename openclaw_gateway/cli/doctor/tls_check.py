"""doctor's gateway.tls check: the pair the gateway would serve, read-only (never generated)."""

from __future__ import annotations

import datetime as dt

from openclaw_gateway.cli.doctor.facts import show
from openclaw_gateway.cli.doctor.model import FAIL, OK, WARN, Check, Context
from openclaw_gateway.cli.tls_info import describe
from openclaw_gateway.core.tls import tls_files
from openclaw_gateway.host.tls_material import TlsError, load_material

EXPIRY_WARNING = dt.timedelta(days=30)


def check_tls(ctx: Context) -> Check | None:
    """No line without gateway.tls; else whether the pair loads, its fingerprint and expiry."""
    if ctx.loaded is None or not ctx.loaded.config.gateway.tls.enabled:
        return None
    tls = ctx.loaded.config.gateway.tls
    files = tls_files(tls, ctx.paths.state_dir, ctx.env)
    if not files.cert.exists() and not files.key.exists():
        if tls.auto_generate:
            where = show(files.cert, ctx)
            return Check("tls", OK, f"no certificate yet: the gateway generates one at {where}")
        fix = "provide gateway.tls.certPath/keyPath, or set gateway.tls.autoGenerate true"
        return Check("tls", FAIL, "gateway.tls is on but the certificate pair is missing", fix)
    try:
        material = load_material(files)
    except TlsError as exc:
        return Check("tls", FAIL, str(exc), "replace the pair (or remove both to regenerate)")
    info = material.certificate
    now = dt.datetime.fromtimestamp(ctx.clock(), dt.UTC)
    renew = f"replace {show(files.cert, ctx)} and {show(files.key, ctx)}"
    if info.not_after <= now:
        return Check("tls", FAIL, f"certificate expired: {describe(info)}", renew)
    if files.key.stat().st_mode & 0o077:
        return Check(
            "tls", WARN, f"{show(files.key, ctx)} is readable by others", "chmod 600 the key"
        )
    if info.not_after - now < EXPIRY_WARNING:
        return Check("tls", WARN, f"certificate expires soon: {describe(info)}", renew)
    return Check("tls", OK, f"wss:// with {describe(info)}")
