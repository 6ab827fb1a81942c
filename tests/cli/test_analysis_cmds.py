"""The analysis commands: JSON contracts of EVENTS.md section 5, the campaign story, reports."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from idwatch.cli.main import app

runner = CliRunner()
CAMPAIGN_KEYS = {
    "id",
    "actor",
    "first_seen",
    "last_seen",
    "counts",
    "infrastructure",
    "techniques",
    "accounts",
    "evidence",
}


def _run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_campaigns_json_is_exactly_the_contract(analysed_store):
    data = json.loads(_run("campaigns", "--json", "--store", str(analysed_store.root)))
    assert len(data) == 2
    for c in data:
        assert set(c) == CAMPAIGN_KEYS
        assert set(c["counts"]) == {"probes", "accounts_probed", "accounts_attacked", "accounts_compromised"}
        assert set(c["infrastructure"]) == {"ips", "asns"}
        assert all(set(a) == {"account", "tenant", "stage", "first_seen", "last_seen"} for a in c["accounts"])
        assert all(set(e) == {"kind", "detail", "weight"} for e in c["evidence"])
        assert c["actor"] is None or set(c["actor"]) == {"name", "aliases", "stix_id", "confidence"}
    assert sorted(c["actor"]["name"] if c["actor"] else "-" for c in data) == ["-", "Phosphorus"]


def test_accounts_json_is_exactly_the_contract(analysed_store):
    data = json.loads(_run("accounts", "--json", "--store", str(analysed_store.root)))
    assert data and all(
        set(a) == {"account", "tenant", "status", "risk", "campaigns", "alerts"} for a in data
    )
    assert sum(a["status"] == "compromised" for a in data) == 2


def test_campaign_command_tells_the_whole_story(analysed_store):
    campaigns = json.loads(_run("campaigns", "--json", "--store", str(analysed_store.root)))
    state = next(c for c in campaigns if c["actor"])
    out = _run("campaign", state["id"], "--store", str(analysed_store.root))
    for words in (
        "timeline",
        "targets by category",
        "infrastructure",
        "Phosphorus",
        "unknown actor",
        "indicator_match",
    ):
        assert words in out


def test_report_writes_an_html_file(analysed_store, tmp_path):
    out = tmp_path / "r.html"
    _run("report", "--format", "html", "--out", str(out), "--store", str(analysed_store.root))
    assert out.read_text().count("<svg") >= 2


def test_no_analysis_yet_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["campaigns", "--json", "--store", str(tmp_path / "empty")])
    assert result.exit_code == 1
