"""Hostile and wrongly typed vendor records never break a batch: each one maps, is skipped or is
an error on its own (the SQL must not raise for one bad record)."""

from __future__ import annotations

import json
import random

import pytest

from idwatch.sources import auth0, entra, gworkspace, m365, okta

MODULES = {m.NAME: m for m in (entra, okta, gworkspace, auth0, m365)}
FIXTURES = {
    "entra": ["graph_signins.json", "graph_directory_audits.json", "diagnostic.jsonl", "sentinel.jsonl"],
    "okta": ["system_log_page.json"],
    "gworkspace": ["activities.json"],
    "auth0": ["logs_api_page.json", "log_stream.jsonl"],
    "m365": ["management_activity.json", "sentinel_officeactivity.jsonl"],
}
WEIRD = [
    None,
    "",
    "not json {",
    "[1,2",
    0,
    -1,
    1e308,
    True,
    [],
    {},
    ["x"],
    {"a": None},
    "ø\u202e\x00",
    "9" * 40,
]


def _mutate(value, rng: random.Random):
    """Replace scalars, lists and objects at random depth with values of the wrong type."""
    if isinstance(value, dict):
        return {k: (rng.choice(WEIRD) if rng.random() < 0.25 else _mutate(v, rng)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, rng) for v in value] if rng.random() < 0.7 else rng.choice(WEIRD)
    return rng.choice(WEIRD) if rng.random() < 0.3 else value


@pytest.mark.parametrize("vendor", sorted(MODULES))
def test_mutated_records_map_row_by_row(vx, vendor):
    rng = random.Random(vendor)
    base = [r for name in FIXTURES[vendor] for r in vx.fixture(vendor, name)]
    records = [_mutate(base[i % len(base)], rng) for i in range(120)]
    records += [{}, {"data": None}, {"properties": "x"}, {"events": [None]}, {"target": {"type": 1}}]
    rows = vx.run(MODULES[vendor], records)
    assert len(rows) == len(records)
    for row in rows:
        json.dumps(row, default=str)  # every value is plain data
        # mapped (the driver validates it further), or skipped / broken with a reason
        assert row["activity"] is not None or row["_skip"] or row["_error"], row
