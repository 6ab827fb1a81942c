"""The engine: alerts are stable, re-runs never duplicate, runs are incremental, config overrides."""

from __future__ import annotations

import pyarrow as pa
import pytest
from det_kit import UA_EVIL, ev, history

from idwatch.detections.engine import run_detections
from idwatch.detections.model import DetectionError, load_library
from idwatch.schema import ALERT_SCHEMA, STORED_EVENT_SCHEMA


def _brute(start: float, account: str = "alice@corp.org", n: int = 12) -> list[dict]:
    return [
        ev(start + k * 0.05, account, "sign_in", "failure", net="evil", ua=UA_EVIL, reason="bad_password")
        for k in range(n)
    ]


def test_rerun_does_not_duplicate_and_keeps_alert_ids(build):
    store = build(history("alice@corp.org") + _brute(500))
    first = run_detections(store)
    alerts1 = store.read_state_table("alerts")
    assert alerts1.schema.equals(ALERT_SCHEMA) and first.alerts_new == alerts1.num_rows > 0
    second = run_detections(store, since="2019-08-01T00:00:00Z")
    alerts2 = store.read_state_table("alerts")
    assert second.alerts_new == 0 and alerts2.num_rows == alerts1.num_rows
    assert sorted(alerts2["alert_id"].to_pylist()) == sorted(alerts1["alert_id"].to_pylist())


def test_second_run_scans_only_new_events_plus_lookback(build):
    store = build(history("alice@corp.org", days=30) + _brute(500))
    full = run_detections(store)
    n_alerts = store.read_state_table("alerts").num_rows
    later = _brute(30 * 24 + 5, "alice@corp.org")
    store.append_events(pa.Table.from_pylist(later, schema=STORED_EVENT_SCHEMA))
    inc = run_detections(store)
    assert inc.events_scanned < full.events_scanned
    assert inc.alerts_new >= 1
    assert store.read_state_table("alerts").num_rows == n_alerts + inc.alerts_new


def test_config_overrides_parameters_and_rejects_unknown_ones(build):
    store = build(history("alice@corp.org") + _brute(500, n=6))
    run_detections(store, only=["cred_brute_force"])
    assert store.read_state_table("alerts").num_rows == 0
    run_detections(
        store, only=["cred_brute_force"], config={"detections": {"cred_brute_force": {"min_failures": 5}}}
    )
    assert store.read_state_table("alerts").num_rows == 1
    with pytest.raises(DetectionError):
        run_detections(
            store, only=["cred_brute_force"], config={"detections": {"cred_brute_force": {"no_such": 1}}}
        )


def test_unknown_detection_id_is_an_error(build):
    store = build(history("alice@corp.org", days=2))
    with pytest.raises(ValueError, match="unknown detection"):
        run_detections(store, only=["nope"])


def test_risk_model_failure_degrades_with_a_warning(build, monkeypatch):
    import idwatch.detections.riskmodel as rm

    def boom(con, *, params=None):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(rm, "build_signin_risk", boom)
    store = build(history("alice@corp.org") + _brute(500))
    with pytest.warns(RuntimeWarning, match="login-risk model unavailable"):
        summary = run_detections(store)
    assert "signin_risk" in summary.skipped and summary.alerts_total >= 1
    assert len(summary.detections_run) == len(load_library())


def test_empty_store_writes_empty_alerts(tmp_path):
    from idwatch.store import Store

    store = Store(tmp_path / "empty")
    summary = run_detections(store)
    assert summary.alerts_total == 0 and store.read_state_table("alerts").num_rows == 0
