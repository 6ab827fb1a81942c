"""Every SigmaHQ identity rule either converts and fires on a vendor record made to match it
(and not on a near miss: one value off, or the rule's own exclusion met), or is listed with why
it does not convert. The records go through the real ingest and the real detection engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sigma_records import build, load

from idwatch.detections.engine import run_detections
from idwatch.ingest import ingest_paths
from idwatch.sigma.convert import convert_paths
from idwatch.sigma.pipelines import VENDOR
from idwatch.sigma.registry import import_rules, set_min_level
from idwatch.store import Store

RULES = Path(__file__).resolve().parents[3] / "shared" / "data" / "sigma"
if not RULES.is_dir():  # the rules travel with the team's shared data, not the repository
    pytest.skip("shared samples not available (SigmaHQ rules)", allow_module_level=True)

CONVERSIONS = {Path(c.path).name: c for c in convert_paths([RULES])}
CONVERTED = sorted(n for n, c in CONVERSIONS.items() if c.converted)
#: Values no generic builder can derive: a rule whose exclusion is a regular expression needs
#: the phenomenon itself (a password typed into the username field).
EXTRA = {"okta_password_in_alternateid_field.yml": {"actor.alternateId": "Summer2026!"}}
MISS = {"okta_password_in_alternateid_field.yml": {"actor.alternateId": "alice@example.org"}}


@pytest.fixture(scope="module")
def fired(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[str]]]:
    """detection id -> the event ids of each of its alerts, over a store of every rule's records."""
    root = tmp_path_factory.mktemp("sigma")
    by_vendor: dict[str, list[dict]] = {}
    for name in CONVERTED:
        conv = CONVERSIONS[name]
        hit, miss = build(
            load(Path(conv.path)), conv.source, Path(name).stem, EXTRA.get(name), MISS.get(name)
        )
        by_vendor.setdefault(VENDOR[conv.source], []).extend([hit, miss])
    store = Store(root / "store")
    for vendor, recs in by_vendor.items():
        f = root / f"{vendor}.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in recs))
        summary = ingest_paths(store, [str(f)], fmt=vendor)
        assert summary.quarantined == 0, summary.to_dict()
    import_rules(store, [RULES])
    set_min_level(store, "informational")  # every rule, the enrichment-only one too
    run_detections(store)
    con = store.connect()
    rows = con.execute(
        "SELECT detection_id, list(event_ids) FROM alerts WHERE detection_id LIKE 'sigma_%' GROUP BY 1"
    ).fetchall()
    marks = dict(
        con.execute(
            "SELECT event_id, raw FROM events "
            "UNION ALL SELECT event_id, CAST(raw AS VARCHAR) FROM other_events"
        ).fetchall()
    )
    return {d: [[marks[e] for e in ids] for ids in alerts] for d, alerts in rows}


def _raws(fired: dict[str, list[list[str]]], name: str) -> list[str]:
    return [raw for alert in fired.get(CONVERSIONS[name].detection_id, []) for raw in alert]


@pytest.mark.parametrize("name", CONVERTED)
def test_rule_fires_on_its_record_and_not_on_the_near_miss(fired: dict, name: str) -> None:
    stem = Path(name).stem
    raws = _raws(fired, name)
    assert any(f'"{stem}-hit"' in r for r in raws), f"{name} did not fire on its record"
    assert not any(f'"{stem}-miss"' in r for r in raws), f"{name} fired on the near miss"


def test_every_rule_is_converted_or_has_a_reason() -> None:
    for conv in CONVERSIONS.values():
        assert conv.converted or conv.reason, conv.path
        assert conv.converted != bool(conv.reason)
