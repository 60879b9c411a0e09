"""`openclaw doctor [--json] [--fix]`: the checks of cli/doctor, printed.

Human output: a header (config and state paths), one line per check (`[ok]`, `[warn]`,
`[fail]` + id + message), an indented `fix:` line under any check that is not ok, what
`--fix` changed, and a summary. `--json` prints one object:

    {"ok": bool, "configPath": str, "stateDir": str,
     "checks": [{"id", "status", "message", "fix"}],
     "changes": [{"id", "action", "applied"}],
     "summary": {"ok": n, "warn": n, "fail": n}}

Exit 1 when any check fails (after the fixes), else 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TextIO

from openclaw_gateway.cli.doctor.model import OK, Context
from openclaw_gateway.cli.doctor.runner import Report, run_doctor

_WIDTH = max(len(label) for label in ("[ok]", "[warn]", "[fail]"))


def render_human(report: Report, ctx: Context, *, fixed: bool) -> list[str]:
    lines = ["OpenClaw doctor", f"Config: {ctx.paths.config_path}", f"State: {ctx.paths.state_dir}"]
    lines.append("")
    for check in report.checks:
        lines.append(f"{f'[{check.status}]':<{_WIDTH}} {check.id}: {check.message}")
        if check.status != OK and check.fix:
            lines.append(f"{'':<{_WIDTH}} fix: {check.fix}")
    if fixed:
        lines.append("")
        if report.changes:
            lines.append("Changes:")
            lines += [
                f"- {c.id}: {c.action}" if c.applied else f"- {c.id}: not changed: {c.action}"
                for c in report.changes
            ]
        else:
            lines.append("Changes: none (nothing safe to fix)")
    counts = report.summary()
    lines.append("")
    lines.append(f"Summary: {counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail")
    return lines


def render_json(report: Report, ctx: Context) -> str:
    body = {
        "ok": report.ok,
        "configPath": str(ctx.paths.config_path),
        "stateDir": str(ctx.paths.state_dir),
        "checks": [c.as_json() for c in report.checks],
        "changes": [c.as_json() for c in report.changes],
        "summary": report.summary(),
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


def run_doctor_command(
    env: Mapping[str, str], *, as_json: bool, fix: bool, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    ctx = Context.from_env(env)
    report = run_doctor(ctx, fix=fix, refresh=lambda: Context.from_env(env))
    if as_json:
        print(render_json(report, ctx), file=out)
    else:
        print("\n".join(render_human(report, ctx, fixed=fix)), file=out)
    return 0 if report.ok else 1
