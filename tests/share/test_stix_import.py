"""Indicators that arrive as MISP events or on a TAXII server end up as ordinary STIX intel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stix2
from stix2validator import ValidationOptions, validate_string
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.detections.indicators import PatternWarning
from idwatch.share.misp import build_events
from idwatch.share.stix import build_bundle
from idwatch.share.stix_import import import_bundle, misp_to_stix, taxii_objects, unmatched_patterns
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


def test_a_misp_network_attribute_becomes_an_issubset_indicator():
    event = {
        "Event": {
            "uuid": "5f0c6d2e-0000-4000-8000-000000000001",
            "info": "partner block",
            "date": "2019-09-01",
            "Attribute": [
                {"type": "ip-src", "value": "198.51.100.0/24"},
                {"type": "ip-dst", "value": "2001:db8::5"},
            ],
        }
    }
    converted = misp_to_stix(event)
    patterns = sorted(o["pattern"] for o in converted.bundle["objects"] if o["type"] == "indicator")
    assert patterns == ["[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "[ipv6-addr:value = '2001:db8::5']"]
    assert converted.skipped == {}
    assert unmatched_patterns(converted.bundle) == 0


def test_importing_a_bundle_reports_the_indicators_idwatch_cannot_match(make_store):
    def indicator(n: int, pattern: str) -> dict:
        return json.loads(
            stix2.Indicator(
                id=f"indicator--00000000-0000-4000-8000-{n:012d}",
                pattern=pattern,
                pattern_type="stix",
                valid_from="2019-09-01T00:00:00Z",
                created="2019-09-01T00:00:00Z",
                modified="2019-09-01T00:00:00Z",
            ).serialize()
        )

    bundle = {
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000009",
        "objects": [
            indicator(1, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            indicator(2, "[file:name = 'dropper.exe']"),
            indicator(3, "[url:value = 'https://x.example/a'] OR [ipv4-addr:value = '203.0.113.7']"),
        ],
    }
    store = make_store("unmatched")
    with pytest.warns(
        PatternWarning, match=r"^2 indicator pattern\(s\) .*\(1 match nothing at all\).*file:name"
    ):
        assert import_bundle(store, bundle) == 3
    assert len(store.intel_bundles()) == 1  # reported, not dropped: the partner's bundle is kept whole
