"""Vendor API pages as users save them: the envelope around the records is unwrapped."""

from __future__ import annotations

import json

from idwatch.ingest import ingest_paths
from idwatch.store import Store


def _ingest(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return ingest_paths(Store(tmp_path / f"store-{name}"), [str(path)])


def test_graph_page_on_one_line(vx, tmp_path):
    records = vx.fixture("entra", "graph_signins.json")
    page = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=x",
        "value": records,
    }
    summary = _ingest(tmp_path, "signins.json", json.dumps(page))
    assert (summary.formats, summary.stored) == ({"entra": len(records)}, len(records))


def test_event_hub_message_of_diagnostic_records(vx, tmp_path):
    records = vx.fixture("entra", "diagnostic.jsonl")
    summary = _ingest(tmp_path, "eventhub.json", json.dumps({"records": records}, indent=2))
    assert summary.formats == {"entra": len(records)}
    assert (summary.stored, summary.skipped) == (3, 2)


def test_reports_api_response_page(vx, tmp_path):
    items = vx.fixture("gworkspace", "activities.json")
    page = {"kind": "admin#reports#activities", "etag": '"x"', "items": items, "nextPageToken": "A1"}
    summary = _ingest(tmp_path, "login.json", json.dumps(page))
    assert summary.formats == {"gworkspace": len(items)}
    assert summary.records == len(items) and summary.quarantined == 0
