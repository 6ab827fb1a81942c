"""The console in headless Chromium against the real server (`idwatch serve` on a free port).

Log in with a token, read the headline, open a campaign, mark an alert on the live alerts page
and see the mark (also after a reload), at 700 and 1400 px; no page logs a console error.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(store, tokens, tmp_path):
    """`idwatch serve` as a subprocess, as a user starts it; stopped (and waited for) afterwards."""
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "idwatch.cli.main", "serve", "--store", str(store.root), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("server did not start: " + (tmp_path / "server.log").read_text())
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed (apt-get install -y chromium) - cannot drive the console")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _watch(page, errors: list[str]) -> None:
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))


def _fits(page) -> None:
    """Nothing wider than the window: tables scroll inside their box, the page does not."""
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def _images_loaded(page) -> int:
    return page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")


@pytest.mark.parametrize("width", [700, 1400])
def test_an_analyst_logs_in_reads_the_headline_opens_a_campaign_and_marks_an_alert(
    browser, server, tokens, tmp_path, width
):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    _watch(page, errors)
    shots = tmp_path / "shots"
    shots.mkdir()

    page.goto(server + "/")  # no session: the login page
    assert page.url.endswith("/login")
    page.fill("#token", "idw_not-a-token")
    page.click("button[type=submit]")
    assert page.locator("p.error").inner_text() == "That token is not valid."
    page.fill("#token", tokens["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")

    # the headline comes first: per actor, attempts / attacked / compromised, confidence, evidence
    first = page.locator("article.card").first
    assert page.locator("h1").first.inner_text() == "Headline"
    assert first.locator("h2 a").inner_text() == "Phosphorus"
    card = first.inner_text()
    assert "attempts to identify accounts" in card
    shown = re.search(r"confidence\s+(\d+)/100", card)  # the attribution's confidence, on the card
    assert shown and int(shown.group(1)) >= 85, card
    assert first.bounding_box()["y"] < 250
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    assert _images_loaded(page) == 2
    _fits(page)
    page.screenshot(path=str(shots / f"headline-{width}.png"), full_page=True)

    first.locator("h2 a").click()
    page.wait_for_url("**/campaigns/cmp-*")
    assert page.locator("#hypotheses tbody tr").count() >= 1
    assert "Phosphorus" in page.locator("#hypotheses tbody tr").first.inner_text()
    chain = page.locator("#accounts tbody tr").first.locator("ol.chain li")
    assert chain.count() >= 2  # the compromised account's steps, in order
    funnel = page.locator("ol.funnel li span").all_inner_texts()
    assert funnel == ["probes", "accounts attacked", "accounts compromised"]
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    assert _images_loaded(page) == 2
    _fits(page)
    page.screenshot(path=str(shots / f"campaign-{width}.png"), full_page=True)

    page.click("nav >> text=Campaigns")
    assert page.locator("#campaigns tbody tr").count() == 2
    _fits(page)
    page.screenshot(path=str(shots / f"campaigns-{width}.png"), full_page=True)

    page.click("nav >> text=Live alerts")
    row = page.locator("#alerts tbody tr").first
    row.wait_for()
    alert_id = row.get_attribute("data-alert-id")
    row.locator("select.verdict").select_option("true_positive")
    row.locator("input.comment").fill("confirmed with the tenant")
    row.locator("button.do-mark").click()
    page.wait_for_function(
        "id => document.querySelector(`tr[data-alert-id='${id}'] .mark-true_positive`) !== null", arg=alert_id
    )
    assert "marked " + alert_id in page.locator("#status").inner_text()
    page.reload()
    page.locator(f"tr[data-alert-id='{alert_id}'] .mark-true_positive").wait_for()
    _fits(page)
    page.screenshot(path=str(shots / f"alerts-{width}.png"), full_page=True)

    assert errors == []
    assert all(
        (shots / f"{name}-{width}.png").stat().st_size > 10_000 for name in ("headline", "campaign", "alerts")
    )
    context.close()


def test_a_viewer_sees_marks_but_no_mark_controls(browser, server, tokens, store):
    from idwatch.analyst_marks import add_mark

    cid = store.read_state_json("campaigns")[0]["id"]
    add_mark(store, "campaign", cid, "false_positive", "a red-team exercise", "ana")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    _watch(page, errors)
    page.goto(server + "/login")
    page.fill("#token", tokens["viewer"])
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")
    assert page.locator("article.card").first.locator(".mark-false_positive").count() == 1
    page.goto(f"{server}/campaigns/{cid}")
    assert "a red-team exercise" in page.locator("#mark").inner_text()
    assert page.locator("form.markform").count() == 0
    page.goto(server + "/alerts")
    page.locator("#alerts tbody tr").first.wait_for()
    assert page.locator("button.do-mark").count() == 0
    assert errors == []
    context.close()
