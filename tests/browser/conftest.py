"""One Chromium per test module; each test gets a fresh context (its own storage) and page.

A failing test leaves a screenshot in a fresh temporary directory and prints its path. Console
errors and uncaught page errors are collected on `page.errors` (tests assert it is empty).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.bench_procs import CHROMIUM, CHROMIUM_ARGS
from tests.browser.support import SKIPS, require_chromium

PAGE_TIMEOUT_MS = 15_000


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    SKIPS.summary(terminalreporter)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.errors = errors
    try:
        yield page
    finally:
        if request.node.stash.get(_FAILED, False):
            shot = Path(tempfile.mkdtemp(prefix="openclaw-browser-")) / f"{request.node.name}.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
                print(f"\nscreenshot of the failed page: {shot}")
            except Exception as exc:  # the page may be gone; the test's own error matters more
                print(f"\nno screenshot ({exc})")
        context.close()
