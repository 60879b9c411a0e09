"""The built-in dashboard in headless Chromium against a real gateway process (issue 16 §3-4):
login by fragment and by form, a wrong token, a real SDK node's capability request approved
from the page, a chat round trip with a streamed reply (and an abort), a cron job run from the
page. Every test also asserts the page logged no console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import TOKEN, Gateway, agent_node, running_gateway

HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("dashboard")) as gw:
        yield gw


def _logged_in(page: Any, gw: Gateway) -> None:
    page.goto(f"{gw.http}/#token={TOKEN}")
    page.wait_for_selector("#conn[data-state='ok']")


def test_login_by_fragment_keeps_the_token_out_of_urls(page: Any, gateway: Gateway) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    _logged_in(page, gateway)
    assert page.evaluate("location.hash") == ""  # dropped from the address bar at once
    assert TOKEN in page.evaluate("sessionStorage.getItem('openclaw.dashboard.secret')")
    assert all(TOKEN not in url for url in requested), requested
    status = page.inner_text("#status")
    assert "0.1.0" in status and "token" in status and "loopback" in status
    page.wait_for_function("document.querySelector('#logs').textContent.length > 0")
    assert page.is_visible("#presence li")
    assert page.errors == []


def test_login_by_form_survives_a_reload(page: Any, gateway: Gateway) -> None:
    page.goto(gateway.http + "/")
    page.wait_for_selector("#login:not([hidden])")
    assert not page.is_visible("#login-error")  # no secret yet is not an error
    page.fill("#login-secret", TOKEN)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#conn[data-state='ok']")
    page.reload()
    page.wait_for_selector("#conn[data-state='ok']")
    assert page.is_visible("#panes")
    assert page.errors == []


def test_a_wrong_token_says_so(page: Any, gateway: Gateway) -> None:
    page.goto(f"{gateway.http}/#token=not-the-token")
    error = page.wait_for_selector("#login-error:not([hidden])")
    text = error.inner_text()
    assert text.startswith("Login failed") and "token" in text, text
    assert page.is_visible("#login-form")
    assert page.evaluate("sessionStorage.getItem('openclaw.dashboard.secret')") is None
    assert page.errors == []


def test_node_approved_from_the_page_then_a_streamed_chat(page: Any, gateway: Gateway) -> None:
    _logged_in(page, gateway)
    with agent_node(gateway, "page-agent"):
        request = page.wait_for_selector("#node-requests li:has-text('page-agent')")
        assert "agent.turn" in request.inner_text()
        request.query_selector("button:text('Approve')").click()
        page.wait_for_selector("#nodes li:has-text('page-agent'):has-text('· approved')")
        page.wait_for_selector("#node-requests li:has-text('none pending')")
        approved = [
            n for n in gateway.call("node.list")["nodes"] if n["displayName"] == "page-agent"
        ]
        assert "agent.turn" in approved[0]["commands"]

        # Record every text the reply bubble shows, to prove it grew in steps (streamed).
        page.evaluate(
            """() => { window.__seen = [];
            new MutationObserver(() => {
              const t = document.querySelector('#history li.assistant:last-child .text');
              if (t && window.__seen.at(-1) !== t.textContent) window.__seen.push(t.textContent);
            }).observe(document.querySelector('#history'), {subtree: true, childList: true, characterData: true}); }"""
        )
        page.fill("#chat-input", "hello brave new world")
        page.click("#chat-send")
        page.wait_for_selector("#history li.assistant[data-state='final']")
        final = page.inner_text("#history li.assistant[data-state='final'] .text")
        assert final.strip() == "echo: hello brave new world"
        seen = page.evaluate("window.__seen")
        assert len([s for s in seen if s.strip()]) >= 3, seen  # several deltas, then final

        page.fill("#chat-input", " ".join(f"w{i}" for i in range(40)))
        page.click("#chat-send")
        page.wait_for_selector("#history li.assistant[data-state='delta']")
        page.click("#chat-abort")
        aborted = page.wait_for_selector("#history li.assistant[data-state='aborted']")
        assert aborted.inner_text().endswith("[aborted]")
        history = gateway.call("chat.history", {"sessionKey": "main"})["messages"]
        assert any("hello brave new world" in str(m) for m in history)
    assert page.errors == []


def test_cron_job_run_and_disabled_from_the_page(page: Any, gateway: Gateway) -> None:
    job = gateway.call(
        "cron.add",
        {
            "name": "page-job",
            "schedule": {"kind": "every", "everyMs": HOUR_MS},
            "payload": {"kind": "systemEvent", "text": "from the page"},
        },
    )
    _logged_in(page, gateway)
    row = f"#cron li[data-job-id='{job['id']}']"
    page.wait_for_selector(f"{row}:has-text('page-job')")
    page.click(f"{row} button:text('Run now')")
    page.wait_for_selector(f"{row} ol.runs li")
    runs = gateway.call("cron.runs", {"id": job["id"]})["entries"]
    assert runs, "the page's Run now left no run"
    page.click(f"{row} button:text('Disable')")
    page.wait_for_selector(f"{row}:has-text('disabled') button:text('Enable')")
    assert gateway.call("cron.get", {"id": job["id"]})["enabled"] is False
    assert page.errors == []


def test_page_weight(gateway: Gateway) -> None:
    from openclaw_gateway.server.web.control_ui import BUILTIN_ROOT

    files = sorted(p.name for p in Path(BUILTIN_ROOT).iterdir())
    assert files == ["app.css", "app.js", "index.html"]  # one module, no build output
    assert sum(p.stat().st_size for p in Path(BUILTIN_ROOT).iterdir()) < 150 * 1024
