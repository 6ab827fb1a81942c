"""The connector mapping tables: valid canonical values, and docs generated from them."""

from __future__ import annotations

import importlib

import pytest

from idwatch.schema import Activity, Method, Outcome, Reason, Step
from idwatch.sources import connector_docs, get_format
from idwatch.sources.vendor_sql import Rule

VENDORS = connector_docs.VENDORS
ENUMS = {"activity": Activity, "step": Step, "method": Method, "outcome": Outcome, "reason": Reason}


def test_docs_are_generated_from_the_mapping_tables():
    stale = connector_docs.stale_pages(connector_docs.DEFAULT_DIR)
    assert stale == [], "run: python -m idwatch.sources.connector_docs"


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_rule_uses_canonical_values(vendor):
    mapping = importlib.import_module(f"idwatch.sources.{vendor}_map")
    rules = [
        v for value in vars(mapping).values() if isinstance(value, list) for v in value if isinstance(v, Rule)
    ]
    assert rules
    for rule in rules:
        for column, enum in ENUMS.items():
            value = getattr(rule, column)
            assert value is None or value in {e.value for e in enum}, (vendor, rule.key, column, value)


@pytest.mark.parametrize("vendor", VENDORS)
def test_pair_tables_map_to_canonical_values(vendor):
    mapping = importlib.import_module(f"idwatch.sources.{vendor}_map")
    allowed = {e.value for enum in ENUMS.values() for e in enum} | {"true", "false"}
    for table in mapping.doc_tables():
        if len(table.headers) in (2, 3) and table.headers[1] in ("method", "reason", "outcome", "activity"):
            for row in table.rows:
                assert row[1] in allowed, (vendor, table.title, row)


@pytest.mark.parametrize("vendor", VENDORS)
def test_vendor_formats_are_registered(vendor):
    module = get_format(vendor)
    assert vendor == module.NAME
    assert "SELECT" in module.select_sql("v")


def test_check_mode_reports_missing_pages(tmp_path):
    assert connector_docs.main(["--check", str(tmp_path)]) == 1
    assert connector_docs.main([str(tmp_path)]) == 0
    assert connector_docs.main(["--check", str(tmp_path)]) == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_mapped_kind_and_shape_is_a_row_of_the_page(vendor):
    """The page is the code's table: each rule is one row (key, activity, outcome as mapped)."""
    mapping = importlib.import_module(f"idwatch.sources.{vendor}_map")
    page = (connector_docs.DEFAULT_DIR / f"{vendor}.md").read_text(encoding="utf-8")
    lines = page.splitlines()
    rules = [
        v for value in vars(mapping).values() if isinstance(value, list) for v in value if isinstance(v, Rule)
    ]
    for rule in rules:
        key = rule.key.replace("|", "\\|")
        activity = rule.activity or "*(skipped)*"
        assert any(line.startswith(f"| {key} | {activity} |") for line in lines), (vendor, rule.key)
    assert "## Accepted export shapes" in page
    for shape, _ in mapping.SHAPES:
        assert any(line.startswith(f"| {shape} |") for line in lines), (vendor, shape)


#: One fixture per accepted export shape, in the order of ``<vendor>_map.SHAPES``.
SHAPE_FIXTURES = {
    "entra": [
        "graph_signins.json",
        "graph_beta_signins.json",
        "eventhub_messages.jsonl",
        "graph_risk.json",
        "sentinel.jsonl",
    ],
    "okta": ["system_log_page.json", "event_hook.json", "forwarders.jsonl", "forwarders.jsonl"],
    "gworkspace": ["activities.json", "activities.json", "cloud_logging.jsonl"],
    "auth0": ["logs_api_page.json", "log_stream.jsonl", "eventbridge.jsonl"],
    "m365": ["management_activity.json", "sentinel_officeactivity.jsonl"],
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_documented_shape_has_a_fixture_that_is_sniffed_and_read(vendor, vx):
    from idwatch.sources import sniff_format

    mapping = importlib.import_module(f"idwatch.sources.{vendor}_map")
    names = SHAPE_FIXTURES[vendor]
    assert len(names) == len(mapping.SHAPES)
    module = get_format(vendor)
    for name in names:
        records = vx.fixture(vendor, name)
        assert sniff_format(records) is module, (vendor, name)
        rows = vx.run(module, records)
        assert rows and all(r["_error"] is None for r in rows), (vendor, name)
