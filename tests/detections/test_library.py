"""The library as a whole: every file loads, every query is portable, every query runs."""

from __future__ import annotations

import sqlglot
from det_kit import UA_EVIL, ev, history

from idwatch.detections.engine import run_detections
from idwatch.detections.model import OUTPUT_COLUMNS, load_library
from idwatch.schema import Stage


def test_library_covers_every_stage_with_metadata():
    lib = load_library()
    by_stage = {s.value: [d for d in lib if d.stage == s.value] for s in Stage}
    minimum = {"recon": 3, "credential": 4, "recovery": 6, "mfa": 3, "compromise": 3, "persistence": 2}
    for stage, n in minimum.items():
        assert len(by_stage[stage]) >= n, stage
    for det in lib:
        assert det.title and det.description and det.false_positives and det.triage
        assert "lookback_hours" in det.parameters


def test_every_query_transpiles_to_spark():
    for det in load_library():
        out = sqlglot.transpile(
            det.render(), read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
        )
        assert out and "SELECT" in out[0].upper(), det.id


def test_every_query_runs_and_returns_the_standard_columns(build):
    events = history("alice@corp.org") + [
        ev(500, "alice@corp.org", "sign_in", "failure", net="evil", ua=UA_EVIL, reason="bad_password"),
        ev(501, "alice@corp.org", "password_reset", net="evil", ua=UA_EVIL, step="start"),
    ]
    store = build(events)
    summary = run_detections(store)
    assert sorted(summary.detections_run) == sorted(d.id for d in load_library())
    con = store.connect()
    cols = [c[0] for c in con.execute("DESCRIBE alerts").fetchall()]
    assert "alert_id" in cols and "event_ids" in cols
    assert len(OUTPUT_COLUMNS) == 13
