"""Incremental risk scoring gives exactly the scores of one pass over the whole store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from idwatch.detections.riskmodel import build_signin_risk
from idwatch.detections.riskmodel_state import update_signin_risk
from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.store import Store

T0 = datetime(2024, 3, 1, tzinfo=UTC)
NETS = [
    ("198.51.100.{}", 64500, "US"),
    ("203.0.113.{}", 64501, "US"),
    ("192.0.2.{}", 64666, "IR"),
    ("2001:db8:{}::1", 64502, "DE"),
]
AGENTS = [
    ("Mozilla/5.0 Chrome/120", "Chrome", "Windows"),
    ("Mozilla/5.0 Firefox/118", "Firefox", "Linux"),
    ("python-requests/2.31", "Python Requests", "Other"),
]


def events(days: int = 12, accounts: int = 15, seed: int = 7) -> list[dict[str, Any]]:
    """Accounts signing in a few times a day, mostly from their own network, some failures."""
    rng = random.Random(seed)
    rows = []
    for d in range(days):
        for a in range(accounts):
            for _ in range(rng.randint(0, 4)):
                home = rng.random() < 0.8
                ip, asn, country = NETS[a % 2] if home else rng.choice(NETS)
                ua, fam, os_ = AGENTS[a % 2] if home else rng.choice(AGENTS)
                rows.append(
                    {
                        "time": T0 + timedelta(days=d, seconds=rng.randrange(86_400)),
                        "event_id": f"e{len(rows)}",
                        "source": "native",
                        "tenant": "t.org",
                        "account": f"u{a}@t.org",
                        "activity": "sign_in",
                        "outcome": "success" if rng.random() < 0.85 else "failure",
                        "src_ip": ip.format(rng.randint(1, 3) if home else rng.randint(1, 200)),
                        "asn": asn,
                        "country": country,
                        "user_agent": ua,
                        "ua_family": fam,
                        "ua_os": os_,
                        "raw": "{}",
                    }
                )
    # a few sign-ins sharing one instant, across the later cut
    for a in range(3):
        rows.append({**rows[-1], "event_id": f"tie{a}", "account": f"u{a}@t.org", "outcome": "success"})
    return rows


def append(store: Store, rows: list[dict[str, Any]]) -> None:
    full = [{name: r.get(name) for name in STORED_EVENT_SCHEMA.names} for r in rows]
    store.append_events(pa.Table.from_pylist(full, schema=STORED_EVENT_SCHEMA))


def scores(con) -> dict[str, float]:
    return dict(con.execute("SELECT event_id, risk FROM signin_risk").fetchall())


def full_scores(tmp_path: Path, rows: list[dict[str, Any]], params: dict | None = None) -> dict[str, float]:
    store = Store(tmp_path / "full")
    append(store, rows)
    con = store.connect()
    build_signin_risk(con, params=params)
    return scores(con)


@pytest.mark.parametrize("params", [None, {"reputation_weight": 0.0, "settle_hours": 0.0}])
def test_runs_on_a_growing_store_score_like_one_pass_over_everything(tmp_path, params):
    rows = sorted(events(), key=lambda r: r["time"])
    expected = full_scores(tmp_path, rows, params)
    store, state = Store(tmp_path / "inc"), tmp_path / "inc" / "state" / "riskmodel"
    need = T0
    for part in (rows[: len(rows) // 2], rows[len(rows) // 2 : -40], rows[-40:]):
        append(store, part)
        con = store.connect()
        update = update_signin_risk(con, state, params=params, need_from=need, keep_from=T0)
        got = scores(con)
        assert got == pytest.approx({k: expected[k] for k in got}, abs=1e-9)
    assert update.mode == "incremental" and update.scored < len(rows) // 4
    assert set(got) == {r["event_id"] for r in rows if r["outcome"] == "success"}


def test_only_scores_from_need_from_are_loaded_and_old_files_are_pruned(tmp_path):
    rows = sorted(events(days=20), key=lambda r: r["time"])
    store, state = Store(tmp_path / "inc"), tmp_path / "st"
    half = len(rows) // 2
    append(store, rows[:half])
    update_signin_risk(store.connect(), state, need_from=None, keep_from=T0 + timedelta(days=5))
    append(store, rows[half:])
    con = store.connect()
    need = T0 + timedelta(days=8)
    update = update_signin_risk(con, state, need_from=need, keep_from=T0 + timedelta(days=15))
    assert update.mode == "incremental"
    assert con.execute("SELECT min(time) >= ? FROM signin_risk", [need]).fetchall()[0][0]
    expected = full_scores(tmp_path, rows)
    assert scores(con) == pytest.approx({k: expected[k] for k in scores(con)}, abs=1e-9)


def test_a_late_event_or_changed_parameters_rebuild_from_scratch(tmp_path):
    rows = sorted(events(), key=lambda r: r["time"])
    store, state = Store(tmp_path / "inc"), tmp_path / "st"
    append(store, rows[:-30])
    update_signin_risk(store.connect(), state, need_from=None, keep_from=T0)
    late = {**rows[5], "event_id": "late", "outcome": "success"}
    append(store, [*rows[-30:], late])
    con = store.connect()
    update = update_signin_risk(con, state, need_from=T0, keep_from=T0)
    assert update.mode == "full" and "late" in update.reason
    expected = full_scores(tmp_path, [*rows, late])
    assert scores(con) == pytest.approx(expected, abs=1e-9)
    again = update_signin_risk(store.connect(), state, params={"alpha": 2.0}, need_from=T0, keep_from=T0)
    assert again.mode == "full" and "parameters" in again.reason
