"""The web scenario of scripts/bench: first paint of the built-in dashboard on loopback.

A real gateway process (bench_common.start_gateway) and Debian Chromium driven by Playwright
(`/usr/bin/chromium`, never a downloaded browser). Each round opens a fresh browser context
(cold page cache, no storage) at `/#token=…` and reads the browser's own Performance timeline:
`first-contentful-paint` (target < 200 ms on loopback), the document's response end, and the
moment the page shows "connected" (hello-ok over the page's own socket). Bounded: `rounds`
pages, each with a page timeout. Skipped, with the reason, when Chromium or Playwright is
missing.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from bench_common import (
    HOST,
    READY_TIMEOUT_S,
    BenchError,
    free_port,
    percentile,
    start_gateway,
    stop_gateway,
)
from bench_procs import CHROMIUM, CHROMIUM_ARGS, browser_missing, wait_listening

PAGE_TIMEOUT_MS = 15_000
FIRST_PAINT_TARGET_MS = 200.0
TIMING_JS = """() => {
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  return {fcp: paint['first-contentful-paint'] ?? null, fp: paint['first-paint'] ?? null,
          responseEnd: nav ? nav.responseEnd : null, connected: window.__connectedAt ?? null};
}"""
# Stamped when the connection pill turns "ok" (observed, not polled: the time is exact).
CONNECTED_WATCH_JS = """() => { const pill = document.getElementById('conn');
  new MutationObserver(() => { if (pill.dataset.state === 'ok' && !window.__connectedAt)
    window.__connectedAt = performance.now(); }).observe(pill, {attributes: true}); }"""


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "max_ms": round(max(values), 1),
    }


def _floor_paint(browser: Any, port: int) -> float:
    """The same browser painting a one-line page from a bare HTTP answer: what Chromium
    itself costs on this machine right now (the dashboard's figure minus this is ours)."""
    context = browser.new_context()
    page = context.new_page()
    page.route(
        "**/floor", lambda route: route.fulfill(body="<h1>floor</h1>", content_type="text/html")
    )
    page.goto(f"http://{HOST}:{port}/floor")
    page.wait_for_function("performance.getEntriesByType('paint').length > 0")
    value = float(page.evaluate(TIMING_JS)["fcp"])
    context.close()
    return value


def measure_web(rounds: int) -> dict[str, Any]:
    missing = browser_missing()
    if missing is not None:
        return {"skipped": missing}
    from playwright.sync_api import sync_playwright

    token = secrets.token_hex(16)
    port = free_port()
    fcp: list[float] = []
    doc: list[float] = []
    connected: list[float] = []
    floor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="openclaw-bench-web-") as tmp:
        proc, _t0 = start_gateway(Path(tmp), port, token)
        exit_code: int | None = None
        try:
            not_ready = wait_listening(proc, port, READY_TIMEOUT_S)
            if not_ready is not None:
                raise BenchError(not_ready)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for index in range(rounds + 1):  # round 0 warms the gateway's file cache
                        context = browser.new_context()
                        page = context.new_page()
                        page.set_default_timeout(PAGE_TIMEOUT_MS)
                        page.add_init_script(
                            f"document.addEventListener('DOMContentLoaded', ({CONNECTED_WATCH_JS}))"
                        )
                        page.goto(f"http://{HOST}:{port}/#token={token}")
                        page.wait_for_selector("#conn[data-state='ok']")
                        page.wait_for_function("window.__connectedAt !== undefined")
                        timing = page.evaluate(TIMING_JS)
                        context.close()
                        if index == 0:
                            continue
                        if timing["fcp"] is None:
                            raise BenchError("no first-contentful-paint entry")
                        fcp.append(timing["fcp"])
                        floor.append(_floor_paint(browser, port))
                        doc.append(timing["responseEnd"])
                        connected.append(timing["connected"])
                finally:
                    browser.close()
        except Exception as exc:
            exit_code = stop_gateway(proc)
            raise BenchError(f"web: {exc!r} (gateway exit {exit_code})") from exc
        finally:
            if exit_code is None:
                exit_code = stop_gateway(proc)
    return {
        "first_contentful_paint": _stats(fcp),
        "document_response_end": _stats(doc),
        "connected": _stats(connected),
        "floor_first_contentful_paint": _stats(floor),
        "target_ms": FIRST_PAINT_TARGET_MS,
        "exit_code": exit_code,
    }


def render_web(res: dict[str, Any]) -> str:
    if "skipped" in res:
        return f"web scenario skipped: {res['skipped']}"

    def row(label: str, s: dict[str, Any], extra: str = "") -> str:
        return f"{label:<44} p50 {s['p50_ms']:7.1f} ms  max {s['max_ms']:7.1f} ms  (n={s['count']}) {extra}"

    fcp = res["first_contentful_paint"]
    verdict = "ok" if fcp["p50_ms"] < res["target_ms"] else "OVER TARGET"
    return "\n".join(
        (
            "web scenario (built-in dashboard, fresh Chromium context per page, loopback)",
            row("document response end", res["document_response_end"]),
            row("first contentful paint", fcp, f"target < {res['target_ms']:.0f} ms: {verdict}"),
            row("connected (hello-ok shown)", res["connected"]),
            row("floor: Chromium painting a bare page", res["floor_first_contentful_paint"]),
        )
    )
