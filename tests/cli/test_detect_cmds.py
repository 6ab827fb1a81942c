"""`idwatch detect`: runs the suite, shows where the time went, and a second run is incremental."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.store import Store


@pytest.fixture
def store_dir(tmp_path: Path, daily_signins) -> Path:
    Store(tmp_path).append_events(daily_signins(range(10)))
    return tmp_path


def test_detect_json_reports_seconds_per_stage_and_detection_and_the_state_used(store_dir, daily_signins):
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
    Store(store_dir).append_events(daily_signins(range(10, 12)))
    second = json.loads(runner.invoke(app, ["detect", "--store", str(store_dir), "--json"]).stdout)
    assert second["state"] == {"known": "incremental", "risk_model": "incremental"}
    assert second["events_scanned"] < first["events_scanned"] + 4


def test_detect_table_shows_stage_times(store_dir):
    out = CliRunner().invoke(app, ["detect", "--store", str(store_dir)]).stdout
    assert "stages: stage_events" in out and "risk_model" in out and "CPU" in out
