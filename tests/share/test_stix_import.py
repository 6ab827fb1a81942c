"""Indicators that arrive as MISP events or on a TAXII server end up as ordinary STIX intel."""

from __future__ import annotations

import json
from pathlib import Path

import stix2
from stix2validator import ValidationOptions, validate_string
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.share.misp import build_events
from idwatch.share.stix import build_bundle
from idwatch.share.stix_import import import_bundle, misp_to_stix, taxii_objects
from idwatch.share.taxii import make_taxii_server

MISP_EVENT = Path(__file__).parent / "data" / "example-misp-event.json"


def test_misp_event_becomes_valid_stix_indicators_of_the_tagged_actor():
    converted = misp_to_stix(json.loads(MISP_EVENT.read_text()))
    text = json.dumps(converted.bundle)
    stix2.parse(text)
    assert validate_string(text, ValidationOptions(strict=False)).is_valid
    objs = converted.bundle["objects"]
    patterns = {o["pattern"] for o in objs if o["type"] == "indicator"}
    assert "[domain-name:value = 'yahoo-verification.org']" in patterns
    assert "[ipv4-addr:value = '51.91.200.147']" in patterns
    assert converted.indicators == 6 and converted.skipped == {"text": 2}
    actors = {o["id"]: o for o in objs if o["type"] == "intrusion-set"}
    assert {a["name"] for a in actors.values()} == {"APT35", "Charming Kitten"}
    assert "Phosphorus" in next(a for a in actors.values() if a["name"] == "APT35")["aliases"]
    indicates = [o for o in objs if o["type"] == "relationship" and o["relationship_type"] == "indicates"]
    assert len(indicates) == 6 * 2 and {r["target_ref"] for r in indicates} == set(actors)
    assert all(
        o.get("object_marking_refs") for o in objs if o["type"] != "marking-definition"
    )  # tlp:amber kept


def test_our_own_misp_export_reimports_with_its_infrastructure(store):
    (event,) = build_events(store, campaign_id="cmp-phos-1")
    patterns = {o["pattern"] for o in misp_to_stix(event).bundle["objects"] if o["type"] == "indicator"}
    assert (
        "[ipv4-addr:value = '185.141.62.10']" in patterns and "[autonomous-system:number = 44477]" in patterns
    )


def test_import_misp_command_stores_the_bundle_once(store):
    runner = CliRunner()
    args = ["intel", "import-misp", str(MISP_EVENT), "--json", "--store", str(store.root)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)[0]["indicators"] == 6
    assert runner.invoke(app, args).exit_code == 0
    assert len(list(store.intel_dir.glob("*.json"))) == 1  # same event, same bundle: stored once


def test_taxii_collection_is_pulled_into_the_intel(store, make_store):
    bundle = build_bundle(store, tlp="green")
    server = make_taxii_server({"shared": bundle["objects"]}, {"partner": "pw"}).start()
    try:
        pulled = taxii_objects(server.collection_url("shared"), user="partner", password="pw")
    finally:
        server.stop()
    assert {o["id"] for o in pulled["objects"]} == {o["id"] for o in bundle["objects"]}
    other = make_store("partner-side")
    assert import_bundle(other, pulled) == len(bundle["objects"])
    (stored,) = other.intel_bundles()
    assert any(o["type"] == "indicator" for o in stored["objects"])
