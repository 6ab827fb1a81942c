"""Incremental detection: runs over a growing store end with exactly the alerts of one run over
everything, never a duplicate, and later runs read only the new events plus the look-back."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest
from det_kit import NETS, T0, UA_EVIL, ev, history, make_store

from idwatch.detections.engine import run_detections
from idwatch.schema import STORED_EVENT_SCHEMA

USERS = [f"user{i}@corp.org" for i in range(12)]
VICTIM = USERS[0]
DAY = 24.0


def campaign() -> list[dict]:
    """Three weeks of owners signing in, then a takeover spread over days 18-20."""
    rows = [e for u in USERS for e in history(u, days=21, device=f"dev-{u}")]
    t = 18 * DAY + 2
    # enumeration from one source: real and made-up identifiers
    for k in range(30):
        who = USERS[k % len(USERS)] if k % 3 == 0 else f"ghost{k}@corp.org"
        rows.append(
            ev(
                t + k * 0.02,
                who,
                "account_lookup",
                "failure" if "ghost" in who else "success",
                net="evil",
                ua=UA_EVIL,
                account_exists="ghost" not in who,
            )
        )
    # password spray over every account, a few hours later, from two addresses of one network
    for k, u in enumerate(USERS * 2):
        rows.append(
            ev(
                t + 5 + k * 0.05,
                u,
                "sign_in",
                "failure",
                net="evil" if k % 2 else "evil2",
                ua=UA_EVIL,
                reason="bad_password",
            )
        )
    # brute force on the victim the next day, straddling the first cut
    for k in range(14):
        rows.append(
            ev(
                19 * DAY + 3 + k * 0.5,
                VICTIM,
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL,
                reason="bad_password",
            )
        )
    # reset from unfamiliar infrastructure, then sign-in and persistence
    t = 19 * DAY + 12
    rows += [
        ev(t, VICTIM, "password_reset", "pending", net="evil", ua=UA_EVIL, step="start"),
        ev(t + 0.1, VICTIM, "password_reset", "failure", net="evil", ua=UA_EVIL, step="verify"),
        ev(t + 0.2, VICTIM, "password_reset", "failure", net="evil", ua=UA_EVIL, step="verify"),
        ev(t + 0.3, VICTIM, "password_reset", "success", net="evil", ua=UA_EVIL, step="verify"),
        ev(t + 0.4, VICTIM, "password_reset", "success", net="evil", ua=UA_EVIL, step="complete"),
        ev(t + 0.6, VICTIM, "sign_in", "success", net="evil", ua=UA_EVIL),
        ev(t + 0.8, VICTIM, "mfa_method_change", "success", net="evil", ua=UA_EVIL),
        ev(
            t + 1.0,
            VICTIM,
            "mailbox_rule",
            "success",
            net="evil",
            ua=UA_EVIL,
            detail='{"forward_to": "drop@evil.example"}',
        ),
        ev(t + 1.2, VICTIM, "recovery_info_change", "success", net="evil", ua=UA_EVIL),
    ]
    return sorted(rows, key=lambda r: r["time"])


def _alerts(store) -> dict[str, dict]:
    table = store.read_state_table("alerts")
    ids = table["alert_id"].to_pylist()
    assert len(ids) == len(set(ids)), "an alert was written twice"
    return {r.pop("alert_id"): r for r in table.drop_columns(["created_at"]).to_pylist()}


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return campaign()


@pytest.fixture(scope="module")
def one_run(tmp_path_factory, events) -> dict[str, dict]:
    store = make_store(tmp_path_factory.mktemp("full"), events)
    run_detections(store)
    return _alerts(store)


def test_runs_over_a_growing_store_end_with_the_alerts_of_one_run(tmp_path, events, one_run):
    assert len({a["detection_id"] for a in one_run.values()}) >= 4  # the scenario exercises the suite
    bounds = [None, 18 * DAY + 4, 19 * DAY + 12.3, None]  # cuts inside the spray and the reset
    store = None
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        part = [r for r in events if (lo is None or _hours(r) >= lo) and (hi is None or _hours(r) < hi)]
        if store is None:
            store = make_store(tmp_path, part)
        else:
            store.append_events(pa.Table.from_pylist(part, schema=STORED_EVENT_SCHEMA))
        summary = run_detections(store)
    assert summary.state == {"known": "incremental", "risk_model": "incremental"}
    assert _alerts(store) == one_run
    # the last run read only the events of its look-back window before the new ones
    scan_start = datetime.fromisoformat(summary.scan_start)
    assert summary.events_scanned == sum(1 for r in events if r["time"] >= scan_start) < len(events) / 2
    rerun = run_detections(store)  # nothing new: nothing changes, nothing duplicates
    assert rerun.alerts_new == 0 and _alerts(store) == one_run


def test_a_late_event_still_gives_the_alerts_of_one_run(tmp_path, events, one_run):
    late = [
        r
        for r in events
        if r["activity"] == "mailbox_rule"
        or (
            r["activity"] == "sign_in" and r["outcome"] == "success" and r["src_ip"] == NETS["evil"]["src_ip"]
        )
    ]
    rest = [r for r in events if r not in late]
    store = make_store(tmp_path, rest)
    run_detections(store)
    store.append_events(pa.Table.from_pylist(late, schema=STORED_EVENT_SCHEMA))
    summary = run_detections(store)
    assert "incremental" not in (summary.state["known"], summary.state["risk_model"])
    assert _alerts(store) == one_run


def _hours(row: dict) -> float:
    return (row["time"] - T0).total_seconds() / 3600
