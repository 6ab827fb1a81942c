"""Auto-detection across the vendor formats on the real samples: each record is claimed by the
right connector and by no other, and records of other products are claimed by none."""

from __future__ import annotations

import json

import pytest

from idwatch.sources import auth0, entra, gworkspace, m365, okta

SNIFFERS = {m.NAME: m for m in (entra, okta, gworkspace, auth0, m365)}
#: Panther log type -> connector.
OURS = {
    "Okta.SystemLog": "okta",
    "Azure.Audit": "entra",
    "GSuite.ActivityEvent": "gworkspace",
    "Auth0.Events": "auth0",
    "Microsoft365.Audit.AzureActiveDirectory": "m365",
    "Microsoft365.Audit.Exchange": "m365",
    "Microsoft365.Audit.SharePoint": "m365",
}


def _claims(record: dict) -> set[str]:
    return {name for name, module in SNIFFERS.items() if module.sniff(record)}


def _is_stub(record: dict) -> bool:
    """Panther enrichment-only test stubs: no vendor field at all, nothing to ingest."""
    return all(k.startswith("p_") for k in record)


@pytest.fixture
def panther_cases():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2].parent / "shared/data/samples/panther-analysis"
    path = path / "panther_labeled_test_events.jsonl"
    if not path.exists():
        pytest.skip("shared samples not available")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_panther_records_are_claimed_by_their_connector_and_no_other(panther_cases):
    wrong = []
    for case in panther_cases:
        record, types = case["event"], case.get("log_types") or []
        claims = _claims(record)
        assert len(claims) <= 1, (claims, case["test_name"])
        if len(types) == 1 and types[0] in OURS and not _is_stub(record):
            if claims != {OURS[types[0]]}:
                wrong.append((types[0], case["test_name"], sorted(record)[:6]))
        elif not (set(types) & set(OURS)):
            assert not claims, (types, case["test_name"])
    assert wrong == []


def test_other_products_are_not_claimed(vx):
    for record in vx.sample("otrf-security-datasets/Microsoft365DefenderEvents.json"):
        assert not _claims(record)
    native = {
        "time": "2024-01-01T00:00:00Z",
        "event_id": "x",
        "account": "a@b.c",
        "activity": "sign_in",
        "outcome": "success",
        "src_ip": "192.0.2.1",
    }
    assert not _claims(native)
