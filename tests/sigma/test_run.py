"""Imported Sigma rules run in ``detect`` / ``analyze`` beside the built-in detections: their
alerts carry the rule's id, title, level, ATT&CK techniques, author and licence, feed the
incidents, and every rule that does not convert is listed with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.correlate.pipeline import correlate
from idwatch.detections.engine import run_detections
from idwatch.ingest import ingest_paths
from idwatch.sigma.registry import import_rules, load_rules
from idwatch.store import Store

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "sources" / "fixtures"
SIGMAHQ = Path(__file__).resolve().parents[3] / "shared" / "data" / "sigma"
GOV_WARNING_RULE = SIGMAHQ / "cloud" / "gcp" / "gworkspace" / "login" / "gcp_gworkspace_govattack.yml"

KEYWORD_RULE = """title: Okta record naming a suspicious tool
id: 0b3e7f0a-1111-4222-8333-444455556666
status: experimental
author: idwatch tests
license: Apache-2.0
tags: [attack.credential-access, attack.t1110.003]
logsource: {product: okta, service: okta}
detection:
  keywords: ['Max sign in attempts']
  condition: keywords
level: high
"""
WINDOWS_RULE = """title: Not an identity log
id: 0b3e7f0a-1111-4222-8333-444455557777
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
level: low
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "okta_keyword.yml").write_text(KEYWORD_RULE)
    (d / "windows.yml").write_text(WINDOWS_RULE)
    return d


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_import_and_list_report_every_rule(tmp_path: Path, rules_dir: Path) -> None:
    store = str(tmp_path / "store")
    out = _cli("sigma", "import", str(rules_dir), "--store", store)
    assert "2 rules: 1 converted, 1 not converted" in out
    listed = {r["title"]: r for r in json.loads(_cli("sigma", "list", "--json", "--store", store))}
    assert listed["Okta record naming a suspicious tool"]["converted"] is True
    assert listed["Not an identity log"]["converted"] is False
    assert listed["Not an identity log"]["reason"] == "logsource windows/security is no source idwatch stores"
    assert "1 x logsource windows/security is no source idwatch stores" in _cli(
        "sigma", "list", "--store", store
    )


def test_import_of_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sigma", "import", str(tmp_path / "nope"), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "no such rule file or folder" in result.output


def test_alerts_carry_rule_metadata_and_rerun_does_not_duplicate(tmp_path: Path, rules_dir: Path) -> None:
    store = Store(tmp_path / "store")
    ingest_paths(store, [str(FIXTURES / "okta")], fmt="okta")
    import_rules(store, [rules_dir])
    summary = run_detections(store)
    det_id = "sigma_0b3e7f0a_1111_4222_8333_444455556666"
    assert summary.alerts_by_detection[det_id] == 1
    assert (
        "Sigma rule not converted: logsource windows/security"
        in summary.skipped["sigma_0b3e7f0a_1111_4222_8333_444455557777"]
    )
    con = store.connect()
    row = con.execute(
        "SELECT title, severity, stage, techniques, accounts, detail FROM alerts WHERE detection_id = ?",
        [det_id],
    ).fetchone()
    assert row[:4] == ("Okta record naming a suspicious tool", "high", "credential", ["T1110.003"])
    assert row[4] == ["alice@example.org"]
    assert "author: idwatch tests; licence: Apache-2.0" in row[5]
    run_detections(store, since="2000-01-01T00:00:00Z")
    n = con.execute("SELECT count(*) FROM alerts WHERE detection_id = ?", [det_id]).fetchone()[0]
    assert n == 1


def test_only_runs_the_named_sigma_rule(tmp_path: Path, rules_dir: Path) -> None:
    store = Store(tmp_path / "store")
    ingest_paths(store, [str(FIXTURES / "okta")], fmt="okta")
    import_rules(store, [rules_dir])
    det_id = "sigma_0b3e7f0a_1111_4222_8333_444455556666"
    summary = run_detections(store, only=[det_id])
    assert summary.detections_run == [det_id]


@pytest.mark.skipif(not GOV_WARNING_RULE.is_file(), reason="shared samples not available (SigmaHQ rules)")
def test_google_government_attack_warning_fires_from_the_kept_records_and_feeds_incidents(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "store")
    ingest_paths(store, [str(FIXTURES / "gworkspace")], fmt="gworkspace")
    (conv,) = import_rules(store, [GOV_WARNING_RULE])
    assert conv.license == "DRL-1.1" and conv.author == "Tom Kluter"
    run_detections(store)
    con = store.connect()
    warned = {
        a
        for (a,) in con.execute(
            "SELECT unnest(accounts) FROM alerts WHERE detection_id = ?", [conv.detection_id]
        ).fetchall()
    }
    kept = {
        a
        for (a,) in con.execute(
            "SELECT account FROM other_events WHERE kind = 'gov_attack_warning'"
        ).fetchall()
    }
    assert warned == kept and warned  # every warning, nothing else (they are not canonical events)
    detail = con.execute(
        "SELECT any_value(detail) FROM alerts WHERE detection_id = ?", [conv.detection_id]
    ).fetchone()
    assert "Google Workspace Government Attack Warning - author: Tom Kluter; licence: DRL-1.1" in detail[0]
    correlate(store)
    incidents = (
        store.connect()
        .execute("SELECT account FROM incidents WHERE list_contains(detection_ids, ?)", [conv.detection_id])
        .fetchall()
    )
    assert {a for (a,) in incidents} == warned


@pytest.mark.skipif(not SIGMAHQ.is_dir(), reason="shared samples not available (SigmaHQ rules)")
def test_the_sigmahq_rules_that_do_not_convert_are_listed_with_reasons(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    import_rules(store, [SIGMAHQ])
    rules = load_rules(store)
    assert len(rules) == len(list(SIGMAHQ.rglob("*.yml")))
    assert all(r.license == "DRL-1.1" and r.author for r in rules)
    assert all(r.converted or r.reason for r in rules)


INFO_RULE = """title: Okta sign-in (enrichment)
id: 0b3e7f0a-1111-4222-8333-444455558888
author: idwatch tests
logsource: {product: okta, service: okta}
detection:
  sel: {eventType: user.session.start}
  condition: sel
level: informational
"""


def test_rules_below_medium_do_not_alert_unless_the_store_asks(tmp_path: Path) -> None:
    """Sigma: informational rules are for enrichment, low ones rarely an incident: by default they
    do not alert (a Sigma alert marks its account attacked); a store can ask for them."""
    (tmp_path / "info.yml").write_text(INFO_RULE)
    store_dir = str(tmp_path / "store")
    store = Store(store_dir)
    ingest_paths(store, [str(FIXTURES / "okta")], fmt="okta")
    _cli("sigma", "import", str(tmp_path / "info.yml"), "--store", store_dir)
    det_id = "sigma_0b3e7f0a_1111_4222_8333_444455558888"
    listed = json.loads(_cli("sigma", "list", "--json", "--store", store_dir))
    assert [(r["converted"], r["runs"]) for r in listed] == [(True, False)]
    summary = run_detections(store)
    assert "below the store's minimum medium" in summary.skipped[det_id]
    _cli("sigma", "import", str(tmp_path / "info.yml"), "--min-level", "informational", "--store", store_dir)
    rerun = run_detections(store, since="2000-01-01T00:00:00Z", only=[det_id])
    assert rerun.alerts_by_detection[det_id] > 0


def test_an_unknown_min_level_is_a_clear_error(tmp_path: Path, rules_dir: Path) -> None:
    result = runner.invoke(
        app, ["sigma", "import", str(rules_dir), "--min-level", "urgent", "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    assert "unknown Sigma level 'urgent'" in result.output
