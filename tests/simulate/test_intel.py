"""intel.json: a valid STIX 2.1 bundle with real ATT&CK intrusion sets, partial indicators and noise."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import duckdb
import stix2


def _bundle(out: Path) -> dict:
    return json.loads((out / "intel.json").read_text())


def _ip_indicators(bundle: dict) -> dict[str, str]:
    """indicator value -> the intrusion set it indicates."""
    rels = {
        r["source_ref"]: r["target_ref"]
        for r in bundle["objects"]
        if r["type"] == "relationship" and r["relationship_type"] == "indicates"
    }
    out = {}
    for o in bundle["objects"]:
        if o["type"] == "indicator" and "addr:value" in o["pattern"]:
            value = o["pattern"].split("'")[1]
            ipaddress.ip_address(value)
            out[value] = rels[o["id"]]
    return out


def test_bundle_parses_as_stix_2_1(tiny_run: tuple[Path, dict]) -> None:
    out, _ = tiny_run
    parsed = stix2.parse((out / "intel.json").read_text(), allow_custom=True)
    assert parsed.type == "bundle"
    for obj in parsed.objects:
        assert obj.spec_version == "2.1"


def test_bundle_validates(tiny_run: tuple[Path, dict]) -> None:
    from stix2validator import ValidationOptions, validate_string

    out, _ = tiny_run
    result = validate_string((out / "intel.json").read_text(), ValidationOptions(strict=False))
    assert result.is_valid, [str(e) for e in result.errors]


def test_real_intrusion_sets_for_actors_and_decoys(tiny_run: tuple[Path, dict]) -> None:
    out, truth = tiny_run
    sets = {o["id"]: o for o in _bundle(out)["objects"] if o["type"] == "intrusion-set"}
    for actor in truth["actors"]:
        if actor["kind"] == "state":
            assert sets[actor["stix_id"]]["name"] == actor["name"]
    assert any(o["name"] == "APT42" for o in sets.values())  # the decoy


def test_indicators_cover_only_a_minority_of_actor_infrastructure(
    tiny_run: tuple[Path, dict], tiny_db: duckdb.DuckDBPyConnection
) -> None:
    out, truth = tiny_run
    indicated = _ip_indicators(_bundle(out))
    kitten = next(a for a in truth["actors"] if a["id"] == "act-kitten")
    used = {
        r[0] for r in tiny_db.execute("SELECT DISTINCT src_ip FROM ev WHERE actor = 'act-kitten'").fetchall()
    }
    covered = {ip for ip, target in indicated.items() if target == kitten["stix_id"]} & used
    assert 0 < len(covered) < 0.5 * len(used)


def test_some_indicators_are_noisy(tiny_run: tuple[Path, dict], tiny_db: duckdb.DuckDBPyConnection) -> None:
    out, _ = tiny_run
    bundle = _bundle(out)
    indicated = set(_ip_indicators(bundle))
    benign_ips = {
        r[0] for r in tiny_db.execute("SELECT DISTINCT src_ip FROM ev WHERE kind = 'benign'").fetchall()
    }
    assert indicated & benign_ips, "an indicator should be a VPN / Tor exit that benign users share"
    patterns = [o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"]
    assert any(p.startswith("[autonomous-system:number") for p in patterns)
    decoy_ips = {ip for ip, t in _ip_indicators(bundle).items() if "c0291346" in t}
    all_ips = {r[0] for r in tiny_db.execute("SELECT DISTINCT src_ip FROM events").fetchall()}
    assert decoy_ips and not decoy_ips & all_ips


def test_uses_and_targets_relationships(tiny_run: tuple[Path, dict]) -> None:
    out, truth = tiny_run
    bundle = _bundle(out)
    ids = {o["id"]: o for o in bundle["objects"]}
    kitten = next(a for a in truth["actors"] if a["id"] == "act-kitten")["stix_id"]
    rels = [o for o in bundle["objects"] if o["type"] == "relationship" and o["source_ref"] == kitten]
    techniques = {
        ref["external_id"]
        for r in rels
        if r["relationship_type"] == "uses"
        for ref in ids[r["target_ref"]]["external_references"]
        if ref["source_name"] == "mitre-attack"
    }
    assert {"T1589.002", "T1586.002", "T1114.003"} <= techniques
    sectors = {ids[r["target_ref"]]["name"] for r in rels if r["relationship_type"] == "targets"}
    assert {"Political campaigns", "Journalists and media", "Diaspora communities"} <= sectors
