"""The truth file says exactly what the events show, with the definitions of EVENTS.md section 5.

The counts are recomputed here independently, in plain Python over the events as written to disk
and the per-event labels, and compared with truth.json.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import duckdb

RESET_LIKE = {"sign_in", "password_reset", "account_recovery"}
ATTEMPTS = {"sign_in", "password_reset", "account_recovery", "mfa_challenge"}


def _recompute(rows: list[tuple]) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(
        lambda: {"probes": 0, "probed": set(), "attacked": set(), "won": set()}
    )
    # outcomes per session: where a second factor was asked, the password step alone is no sign-in
    gated = {(r[0], r[1], r[6]) for r in rows if r[3] == "mfa_challenge" and r[6] is not None}
    for campaign, account, exists, activity, step, outcome, session in rows:
        c = out[campaign]
        if activity == "account_lookup" or (activity in RESET_LIKE and exists is False):
            c["probes"] += 1
            c["probed"].add(account)
        if exists and activity in ATTEMPTS:
            c["attacked"].add(account)
        signed_in = activity == "sign_in" and (campaign, account, session) not in gated
        complete = (
            signed_in
            or activity == "mfa_challenge"
            or (activity in ("password_reset", "account_recovery") and step == "complete")
        )
        if exists and outcome == "success" and complete:
            c["won"].add(account)
    return out


def test_truth_counts_match_the_events_and_labels(
    tiny_run: tuple[Path, dict], tiny_db: duckdb.DuckDBPyConnection
) -> None:
    out, _ = tiny_run
    truth = json.loads((out / "truth.json").read_text())
    rows = tiny_db.execute(
        "SELECT campaign, account, account_exists, activity, step, outcome, session_id FROM ev"
        " WHERE campaign IS NOT NULL"
    ).fetchall()
    mine = _recompute(rows)
    assert {c["id"] for c in truth["campaigns"]} == set(mine)
    for c in truth["campaigns"]:
        m = mine[c["id"]]
        assert c["counts"] == {
            "probes": m["probes"],
            "accounts_probed": len(m["probed"]),
            "accounts_attacked": len(m["attacked"]),
            "accounts_compromised": len(m["won"]),
        }, c["id"]
        # accounts by furthest stage, each once
        assert set(c["accounts"]["compromised"]) == m["won"]
        assert set(c["accounts"]["attacked"]) == m["attacked"] - m["won"]
        assert set(c["accounts"]["probed"]) == m["probed"] - m["attacked"] - m["won"]


def test_state_actor_numbers_are_exactly_the_scenario_numbers(tiny_run: tuple[Path, dict]) -> None:
    _, truth = tiny_run
    counts = {c["id"]: c["counts"] for c in truth["campaigns"]}
    assert counts["cmp-kitten"]["probes"] == 150
    assert counts["cmp-kitten"]["accounts_attacked"] == 24
    assert counts["cmp-kitten"]["accounts_compromised"] == 2
    assert counts["cmp-bear"]["probes"] == 40
    assert counts["cmp-bear"]["accounts_attacked"] == 12
    assert counts["cmp-bear"]["accounts_compromised"] == 1


def test_actors_are_named_by_their_real_intrusion_sets(tiny_run: tuple[Path, dict]) -> None:
    _, truth = tiny_run
    actors = {a["id"]: a for a in truth["actors"]}
    kitten = actors["act-kitten"]
    assert kitten["name"] == "Magic Hound"
    assert {"Phosphorus", "APT35", "Charming Kitten"} <= set(kitten["aliases"])
    assert kitten["stix_id"] == "intrusion-set--f9d6633a-55e6-4adc-9263-6ae080421a13"
    assert "STRONTIUM" in actors["act-bear"]["aliases"]
    assert actors["crim-stuffing"]["kind"] == "criminal" and actors["crim-stuffing"]["stix_id"] is None


def test_labels_cover_every_event_once(tiny_db: duckdb.DuckDBPyConnection) -> None:
    n_events, n_labels, n_ids, n_joined = tiny_db.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM labels),"
        " (SELECT count(DISTINCT event_id) FROM events), (SELECT count(*) FROM ev)"
    ).fetchone()
    assert n_events == n_labels == n_ids == n_joined
    kinds = dict(tiny_db.execute("SELECT kind, count(*) FROM labels GROUP BY kind").fetchall())
    assert set(kinds) == {"benign", "criminal", "state"}
    assert kinds["benign"] > 5 * (kinds["criminal"] + kinds["state"])
    bad = tiny_db.execute(
        "SELECT count(*) FROM labels"
        " WHERE (kind = 'benign') <> (actor IS NULL) OR (actor IS NULL) <> (campaign IS NULL)"
    ).fetchone()[0]
    assert bad == 0
