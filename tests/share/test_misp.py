"""idwatch export misp: a MISP event PyMISP loads, with the same content as the STIX export."""

from __future__ import annotations

import json

from pymisp import MISPEvent
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.share.misp import actor_clusters, build_events, likelihood


def _load(event: dict) -> MISPEvent:
    ev = MISPEvent()
    ev.load(json.dumps(event))
    return ev


def test_events_load_in_pymisp_with_attributes_tags_and_evidence(store):
    (event,) = build_events(store, campaign_id="cmp-phos-1", tlp="amber")
    ev = _load(event)
    assert "Phosphorus" in ev.info
    values = {(a.type, a.value) for a in ev.attributes}
    assert ("ip-src", "185.141.62.10") in values and ("ip-src", "2a0b:7280:200::13") in values
    assert ("AS", "AS44477") in values
    tags = {t.name for t in ev.tags}
    assert "tlp:amber" in tags
    assert 'misp-galaxy:threat-actor="APT35"' in tags and 'misp-galaxy:threat-actor="Charming Kitten"' in tags
    assert 'estimative-language:likelihood-probability="very-likely"' in tags
    (annotation,) = ev.objects
    assert annotation.name == "annotation"
    assert "indicator_match" in annotation.get_attributes_by_relation("text")[0].value


def test_every_campaign_becomes_an_event_and_tlp_sets_distribution(store):
    events = build_events(store, tlp="red")
    assert len(events) == 2
    assert all(_load(e).distribution == 0 for e in events)
    assert {t["name"] for e in events for t in e["Event"]["Tag"]} >= {"tlp:red"}


def test_no_account_tenant_or_contact_in_the_event(store, fixture_data):
    text = json.dumps(build_events(store)).lower()
    for row in fixture_data["directory"]:
        for key in ("account", "tenant", "display_name", "notify"):
            assert row[key].lower() not in text, row[key]
    for contact in fixture_data["clear_contacts"]:
        assert contact.lower() not in text


def test_actor_names_map_to_misp_galaxy_clusters_and_confidence_to_words():
    assert actor_clusters("Phosphorus", []) == ["APT35"]
    assert actor_clusters("Nobody Known", []) == []
    assert (
        likelihood(85) == "very-likely"
        and likelihood(50) == "roughly-even-chance"
        and likelihood(99) == "almost-certain"
    )


def test_export_to_a_json_file_writes_that_file_with_every_campaigns_event(store, tmp_path):
    out = tmp_path / "event.json"
    result = CliRunner().invoke(app, ["export", "misp", "--out", str(out), "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    events = json.loads(out.read_text())
    assert len(events) == 2 and all(_load(e).info for e in events)
    folder = tmp_path / "events"
    assert (
        CliRunner()
        .invoke(app, ["export", "misp", "--out", str(folder), "--store", str(store.root)])
        .exit_code
        == 0
    )
    assert len(list(folder.glob("*.json"))) == 2  # no .json suffix: a folder of one file per event
