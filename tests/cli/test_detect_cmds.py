"""`idwatch detect`: runs the suite, shows where the time went, and a second run is incremental."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.store import Store

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _signins(days: range) -> list[dict]:
    rows = []
    for d in days:
        for who, ip in (("carol@example.org", "198.51.100.10"), ("dave@example.org", "198.51.100.11")):
            rows.append(
                {
                    "time": T0 + timedelta(days=d, minutes=len(rows)),
                    "event_id": f"ev-{d}-{who}",
                    "source": "native",
                    "tenant": "example.org",
                    "account": who,
                    "activity": "sign_in",
                    "outcome": "success",
                    "src_ip": ip,
                    "asn": 64500,
                    "country": "US",
                    "raw": "{}",
                    "user_agent": "Mozilla/5.0 (Macintosh) Safari/17",
                    "ua_family": "Safari",
                    "ua_os": "Mac OS X",
                }
            )
    return [{n: r.get(n) for n in STORED_EVENT_SCHEMA.names} for r in rows]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    Store(tmp_path).append_events(pa.Table.from_pylist(_signins(range(10)), schema=STORED_EVENT_SCHEMA))
    return tmp_path


def test_detect_json_reports_seconds_per_stage_and_detection_and_the_state_used(store_dir):
    runner = CliRunner()
    first = json.loads(runner.invoke(app, ["detect", "--store", str(store_dir), "--json"]).stdout)
    for step in (
        "stage_events",
        "stage_baseline",
        "risk_model",
        "stage_familiarity",
        *first["detections_run"],
    ):
        assert step in first["seconds_by_step"] and step in first["cpu_seconds_by_step"]
    assert first["state"]["risk_model"] == "no saved state"
    Store(store_dir).append_events(pa.Table.from_pylist(_signins(range(10, 12)), schema=STORED_EVENT_SCHEMA))
    second = json.loads(runner.invoke(app, ["detect", "--store", str(store_dir), "--json"]).stdout)
    assert second["state"] == {"known": "incremental", "risk_model": "incremental"}
    assert second["events_scanned"] < first["events_scanned"] + 4


def test_detect_table_shows_stage_times(store_dir):
    out = CliRunner().invoke(app, ["detect", "--store", str(store_dir)]).stdout
    assert "stages: stage_events" in out and "risk_model" in out and "CPU" in out
