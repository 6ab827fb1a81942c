"""Reports: the case in its own words, a public edition, and an HTML file a browser renders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from idwatch.report.model import SUPPRESSED, build_report
from idwatch.report.render import render


def _state(report):
    return next(c for c in report.campaigns if c.kind == "state")


def test_headline_tells_the_case(analysed_store):
    text = _state(build_report(analysed_store)).headline
    assert text.startswith("An Iran-based group tracked as Phosphorus")
    assert "made 48 attempts to identify accounts" in text
    assert "attacked 12 and compromised 2" in text
    assert "between 3 August 2019 and" in text
    assert "6 political campaign" in text and "6 journalist" in text


def test_attribution_sentence_uses_icd203_words(analysed_store):
    sentence = _state(build_report(analysed_store)).attribution
    assert "Phosphorus is behind this campaign" in sentence
    assert any(w in sentence for w in ("likely", "almost certain"))


def test_public_edition_names_no_customer_and_suppresses_small_groups(analysed_store):
    private = render(build_report(analysed_store), "json")
    public_report = build_report(analysed_store, public=True, k=5)
    public = render(public_report, "json") + render(public_report, "md") + render(public_report, "html")
    tenants = {a["tenant"] for a in analysed_store.read_state_json("accounts")}
    accounts = {a["account"] for a in analysed_store.read_state_json("accounts")}
    assert any(t in private for t in tenants)
    assert not any(t in public for t in tenants)
    assert not any(a in public for a in accounts)
    botnet = next(c for c in public_report.campaigns if c.kind == "criminal")
    assert "journalist" not in botnet.categories  # 1 journalist < k
    assert all(n >= 5 for n in botnet.categories.values())
    assert SUPPRESSED not in botnet.categories or botnet.categories[SUPPRESSED] >= 5


def test_markdown_and_json_carry_the_figures(analysed_store):
    model = build_report(analysed_store)
    md = render(model, "md")
    assert "| Accounts compromised | 2 |" in md and "### Competing hypotheses" in md
    data = json.loads(render(model, "json"))
    state = next(c for c in data["campaigns"] if c["kind"] == "state")
    assert state["counts"]["accounts_attacked"] == 12 and state["timeline"]
    assert "Phosphorus" in render(model, "terminal")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_html_report_renders_its_charts_in_a_browser(analysed_store, tmp_path):
    html = render(build_report(analysed_store), "html")
    assert "<script src" not in html and "<link" not in html  # self-contained
    assert html.count("<svg") >= 2
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium) - cannot check rendering")
    profile = tmp_path / "profile"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    dom = subprocess.run(
        [*cmd, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert 'data-charts-rendered="2"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*cmd, "--window-size=1100,1600", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000
    assert Path(shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
