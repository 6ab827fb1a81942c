"""idwatch export stix: a valid STIX 2.1 bundle with the campaign's story and none of its victims."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import stix2
from stix2validator import ValidationOptions, validate_string

from idwatch.share.redact import LeakError
from idwatch.share.stix import TLP_CLEAR, build_bundle, tlp_marking

# ATT&CK objects in this example are (c) The MITRE Corporation, reproduced under the ATT&CK terms of use
INTEL = Path(__file__).parent / "data" / "example-attribution-bundle.json"
PHOS = "cmp-phos-1"


@pytest.fixture
def intel_store(store):
    shutil.copy(INTEL, store.intel_dir / "example.json")
    return store


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for o in bundle["objects"]:
        out.setdefault(o["type"], []).append(o)
    return out


@pytest.mark.parametrize("tlp", ["clear", "green", "amber", "red"])
def test_bundle_parses_and_passes_the_stix_validator(intel_store, tlp):
    text = json.dumps(build_bundle(intel_store, tlp=tlp))
    assert isinstance(stix2.parse(text), stix2.Bundle)
    result = validate_string(text, ValidationOptions(strict=False))
    assert result.is_valid, [str(e) for o in result.object_results for e in o.errors]


def test_campaign_is_attributed_to_the_intrusion_set_with_its_confidence(intel_store):
    objs = _by_type(build_bundle(intel_store, campaign_id=PHOS))
    (campaign,) = objs["campaign"]
    (iset,) = objs["intrusion-set"]
    assert iset["name"] == "Magic Hound"  # reused from the imported ATT&CK intel, with MITRE's id
    assert iset["id"] == "intrusion-set--f9d6633a-55e6-4adc-9263-6ae080421a13"
    assert not any(k.startswith("x_") for k in iset)
    (rel,) = [r for r in objs["relationship"] if r["relationship_type"] == "attributed-to"]
    assert (rel["source_ref"], rel["target_ref"], rel["confidence"]) == (campaign["id"], iset["id"], 85)
    assert campaign["first_seen"].startswith("2019-08-01T04:12") and campaign["last_seen"].startswith(
        "2019-09-28"
    )


def test_infrastructure_indicators_indicate_the_campaign(intel_store):
    objs = _by_type(build_bundle(intel_store, campaign_id=PHOS))
    patterns = {i["pattern"] for i in objs["indicator"]}
    assert "[ipv4-addr:value = '185.141.62.10']" in patterns
    assert "[ipv6-addr:value = '2a0b:7280:200::13']" in patterns
    assert "[autonomous-system:number = 44477]" in patterns
    indicates = {r["source_ref"] for r in objs["relationship"] if r["relationship_type"] == "indicates"}
    assert indicates == {i["id"] for i in objs["indicator"]}


def test_attack_patterns_by_attack_id(intel_store):
    objs = _by_type(build_bundle(intel_store, campaign_id=PHOS))
    ids = {
        ref["external_id"]
        for ap in objs["attack-pattern"]
        for ref in ap["external_references"]
        if ref["source_name"] == "mitre-attack"
    }
    assert ids == {"T1589.002", "T1110.003", "T1586.002"}
    uses = [r for r in objs["relationship"] if r["relationship_type"] == "uses"]
    assert len(uses) == 3


def test_sighting_note_and_report_with_tlp(intel_store):
    bundle = build_bundle(intel_store, campaign_id=PHOS, tlp="clear")
    objs = _by_type(bundle)
    (sighting,) = objs["sighting"]
    assert sighting["count"] == 120 + 3 and sighting["first_seen"].startswith("2019-08-01")
    (note,) = objs["note"]
    assert "indicator_match" in note["content"] and "85/100" in note["content"]
    (report,) = objs["report"]
    assert report["object_marking_refs"] == [TLP_CLEAR["id"]]
    assert set(report["object_refs"]) >= {objs["campaign"][0]["id"], note["id"], sighting["id"]}
    assert TLP_CLEAR in bundle["objects"]


def test_tlp_green_amber_red_use_the_stix_21_markings():
    assert tlp_marking("green")["id"] == stix2.TLP_GREEN.id
    assert tlp_marking("red")["definition"] == {"tlp": "red"}
    with pytest.raises(ValueError):
        tlp_marking("white")


def test_reexport_gives_the_same_objects(intel_store):
    first = {o["id"] for o in build_bundle(intel_store)["objects"] if o["type"] != "report"}
    second = {o["id"] for o in build_bundle(intel_store)["objects"] if o["type"] != "report"}
    assert first == second


def test_no_account_tenant_name_or_contact_leaves_in_the_bundle(intel_store, fixture_data):
    text = json.dumps(build_bundle(intel_store)).lower()
    for row in fixture_data["directory"]:
        for key in ("account", "tenant", "display_name", "notify"):
            assert row[key].lower() not in text, row[key]
    for contact in fixture_data["clear_contacts"]:
        assert contact.lower() not in text
    assert "nobody7@campaign.org" not in text  # probed identifiers outside the directory too


def test_export_refuses_rather_than_leak(make_store, fixture_data):
    campaigns = fixture_data["campaigns"]
    campaigns[0]["actor"]["name"] = "alice@campaign.org"  # a name we must never share
    with pytest.raises(LeakError):
        build_bundle(make_store("leaky", campaigns=campaigns))


def test_unknown_campaign_is_an_error(store):
    with pytest.raises(KeyError):
        build_bundle(store, campaign_id="cmp-nope")
