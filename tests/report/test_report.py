"""Reports: the case in its own words, a public edition, and an HTML file a browser renders."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import date
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


def test_unattributed_campaign_is_not_worded_as_a_likelihood_of_its_candidate(analysed_store):
    botnet = next(c for c in build_report(analysed_store).campaigns if c.kind == "criminal")
    assert botnet.actor is None
    sentence = botnet.attribution
    assert sentence.startswith("Unattributed")
    assert "closest candidate" in sentence and "scored" in sentence
    assert not re.search(r"is (almost no chance|very unlikely|unlikely)", sentence)


def test_state_actors_come_first_with_their_headline_figures(analysed_store):
    model = build_report(analysed_store)
    kinds = [c.kind for c in model.campaigns]
    assert kinds == sorted(kinds, key=lambda k: {"state": 0, "criminal": 1}.get(k, 2))
    state = model.campaigns[0]
    assert state.kind == "state" and state.top_evidence
    html = render(model, "html")
    assert html.index('id="headline"') < html.index('id="chart-timeline"') < html.index(f'id="{state.id}"')


def test_tenants_are_never_none(analysed_store, tmp_path):
    """Events without a tenant give accounts without one: the report names the domain instead."""
    from idwatch.store import Store

    root = tmp_path / "store"
    shutil.copytree(analysed_store.root, root)
    for name in ("campaigns", "accounts"):
        path = root / "state" / f"{name}.json"
        text = re.sub(r'"tenant": ?"[^"]*"', '"tenant":null', path.read_text())
        path.write_text(text)
    model = build_report(Store(root, create=False))
    accounts = [a for c in model.campaigns for a in c.accounts] + model.accounts
    assert accounts and all(a["tenant"] == a["account"].split("@")[1] for a in accounts)
    html = render(model, "html")
    assert "<td>None</td>" not in html


def test_the_accounts_list_says_what_it_leaves_out(analysed_store, monkeypatch):
    from idwatch.report import html as html_module

    monkeypatch.setattr(html_module, "MAX_ACCOUNTS", 1)
    model = build_report(analysed_store)
    page = render(model, "html")
    for c in model.campaigns:
        if len(c.accounts) > 1:
            assert f"{len(c.accounts) - 1:,} more, see <code>idwatch campaign {c.id} --json</code>" in page


def test_timeline_joins_only_consecutive_days():
    from idwatch.report.charts import runs

    days = [date(2019, 8, d) for d in (1, 2, 3, 7, 9, 10)]
    assert runs(days) == [(0, 3), (3, 4), (4, 6)]
    assert runs([]) == []


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


#: Injected into a copy of the report: the browser writes where things landed into the DOM, so
#: ``--dump-dom`` carries the layout out (no DevTools protocol needed).
LAYOUT_PROBE = """<script>
window.addEventListener("load", function () {
  function top(el) { return el.getBoundingClientRect().top + window.scrollY; }
  function mid(el) { var b = el.getBoundingClientRect(); return b.top + b.height / 2 + window.scrollY; }
  var out = {height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
             viewport: window.innerWidth};
  out.headline = top(document.getElementById("headline"));
  out.sections = Array.from(document.querySelectorAll("h2[id^='cmp-']")).map(function (h) {
    return [h.querySelector(".pill").textContent, top(h)]; });
  out.yticks = Array.from(document.querySelectorAll("#chart-timeline g[id^='ytick'] text")).map(function (t) {
    return [t.textContent, mid(t)]; });
  out.funnel = {};
  ["probes", "accounts_attacked", "accounts_compromised"].forEach(function (k) {
    var g = document.querySelector("#chart-funnel g[id='funnel-" + k + "-0']");
    if (g) { out.funnel[k] = mid(g); } });
  out.charts = Array.from(document.querySelectorAll(".chart svg")).filter(function (svg) {
    var b = svg.getBoundingClientRect(); return b.width > 50 && b.height > 50; }).length;
  document.body.setAttribute("data-layout", JSON.stringify(out));
});
</script>"""


def _layout(browser: str, page: Path, profile: Path, width: int) -> dict:
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},1600",
    ]
    dom = subprocess.run(
        [*cmd, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    match = re.search(r'data-layout="([^"]*)"', dom)
    assert match, dom[-2000:]
    layout = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    shot = page.with_name(f"shot-{width}.png")
    subprocess.run([*cmd, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    return layout


@pytest.mark.parametrize("width", [700, 1400])
def test_html_report_in_a_browser_opens_with_the_headline_on_log_scales(analysed_store, tmp_path, width):
    html = render(build_report(analysed_store), "html")
    assert "<script" not in html and "<link" not in html  # self-contained, no code
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium) - cannot check rendering")
    layout = _layout(browser, page, tmp_path / "profile", width)
    assert layout["charts"] == 2
    # the headline is the first thing on the page; state actors' sections before the others
    assert layout["headline"] < 0.1 * layout["height"] and layout["headline"] < 200
    kinds = [kind for kind, _top in sorted(layout["sections"], key=lambda s: s[1])]
    assert kinds[0] == "state" and kinds == sorted(kinds, key=lambda k: k != "state")
    # the timeline's y axis is logarithmic: decade labels, equally spaced on screen
    ticks = [(float(label.replace(",", "")), y) for label, y in layout["yticks"] if label.strip()]
    assert len(ticks) >= 2, layout["yticks"]
    for (v1, _y1), (v2, _y2) in zip(ticks, ticks[1:], strict=False):
        assert math.isclose(v2 / v1, 10.0)
    gaps = [y1 - y2 for (_v1, y1), (_v2, y2) in zip(ticks, ticks[1:], strict=False)]
    assert all(g > 0 for g in gaps) and max(gaps) - min(gaps) < 1.5
    # the funnel reads top-down: probes, attacked, compromised
    f = layout["funnel"]
    assert f["probes"] < f["accounts_attacked"] < f["accounts_compromised"]
