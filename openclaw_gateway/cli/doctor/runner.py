"""Run the checks; with --fix, apply the safe repairs and run the checks again."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from openclaw_gateway.cli.doctor.checks import CHECKS
from openclaw_gateway.cli.doctor.fixes import FIXERS
from openclaw_gateway.cli.doctor.model import FAIL, OK, WARN, Change, Check, Context

CheckFn = Callable[[Context], Check | None]
FixFn = Callable[[Context], list[Change]]


@attrs.frozen
class Report:
    checks: tuple[Check, ...]
    changes: tuple[Change, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def summary(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in (OK, WARN, FAIL)}


def run_checks(ctx: Context, checks: Sequence[CheckFn] = CHECKS) -> list[Check]:
    found = []
    for check in checks:
        try:
            result = check(ctx)
        except OSError as exc:  # e.g. an unreadable file: report it, keep checking
            name = check.__name__.removeprefix("check_")
            result = Check(name, WARN, f"could not check: {exc.strerror or exc}")
        if result is not None:
            found.append(result)
    return found


def run_doctor(
    ctx: Context,
    *,
    fix: bool,
    refresh: Callable[[], Context] | None = None,
    checks: Sequence[CheckFn] = CHECKS,
    fixers: Mapping[str, FixFn] = FIXERS,
) -> Report:
    """`refresh` re-reads the context after fixing (the config and files may have changed)."""
    found = run_checks(ctx, checks)
    if not fix:
        return Report(tuple(found))
    changes: list[Change] = []
    for result in found:
        fixer = fixers.get(result.id)
        if result.status != OK and fixer is not None:
            try:
                changes += fixer(ctx)
            except OSError as exc:
                changes.append(Change(result.id, f"failed: {exc}", applied=False))
    after = refresh() if refresh is not None else ctx
    return Report(tuple(run_checks(after, checks)), tuple(changes))
