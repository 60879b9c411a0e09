"""The official package for the tests that run it (tests/interop, tests/browser): where it is,
and the loud skip when it (or another real part: Chromium, tmux) is missing.

Where the official package comes from, first match wins:
1. env OPENCLAW_REFERENCE_BIN: the PATH fragment printed by `scripts/reference-openclaw`;
2. the default cache ~/.cache/openclaw-ref, if `scripts/reference-openclaw` filled it earlier.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import NoReturn

import attrs
import pytest


def _node_pkg() -> str:
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
    return f"node-linux-{arch.get(platform.machine().lower(), platform.machine())}"


def reference_path() -> tuple[str | None, str]:
    """(PATH fragment holding `node` 24 and `openclaw`, or None; where it came from / why not)."""
    env_value = os.environ.get("OPENCLAW_REFERENCE_BIN", "").strip()
    if env_value:
        source = "OPENCLAW_REFERENCE_BIN"
        fragment = env_value
    else:
        cache = Path.home() / ".cache" / "openclaw-ref" / "node_modules"
        source = str(cache.parent)
        fragment = os.pathsep.join([str(cache / _node_pkg() / "bin"), str(cache / ".bin")])
    dirs = [Path(d) for d in fragment.split(os.pathsep) if d]
    has_node = any((d / "node").is_file() for d in dirs)
    has_cli = any((d / "openclaw").exists() for d in dirs)
    if has_node and has_cli:
        return fragment, source
    why = (
        f"official openclaw CLI not found (OPENCLAW_REFERENCE_BIN unset or incomplete, and "
        f"{source} has no node+openclaw); run scripts/reference-openclaw to install it"
        if not env_value
        else f"OPENCLAW_REFERENCE_BIN={env_value!r} holds no `node` and `openclaw`"
    )
    return None, why


def package_file(relative: str) -> Path | None:
    """`<node_modules>/openclaw/<relative>` of the official package, when it is installed."""
    fragment, _ = reference_path()
    for entry in (fragment or "").split(os.pathsep):
        if entry:
            candidate = Path(entry).parent / "openclaw" / relative
            if candidate.exists():
                return candidate
    return None


@attrs.define
class LoudSkips:
    """Skips that the end of the run repeats in red (from the folder's conftest
    `pytest_terminal_summary`), so a missing part never passes for a green run."""

    prefix: str  # "INTEROP SKIPPED": the skip's own reason line
    section: str  # "INTEROP TESTS SKIPPED": the heading at the end of the run
    unchecked: str  # what was therefore not checked, said last
    reasons: list[str] = attrs.field(factory=list)

    def skip(self, why: str) -> NoReturn:
        self.reasons.append(why)
        pytest.skip(f"{self.prefix}: {why}")

    def summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.reasons:
            return
        terminalreporter.section(self.section, sep="!", red=True, bold=True)
        for reason in dict.fromkeys(self.reasons):
            terminalreporter.write_line(f"WARNING: {reason}", red=True, bold=True)
        terminalreporter.write_line(self.unchecked, red=True, bold=True)
