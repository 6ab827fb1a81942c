"""Incidents: one per account, chain in time order, furthest stage."""

from __future__ import annotations

import correlate_scenario as sc


def test_incident_chain_and_furthest_stage(analysed, world):
    store, _ = analysed
    rows = {r["account"]: r for r in store.read_state_table("incidents").to_pylist()}
    victim = sorted(world.truth["compromised"])[0]
    inc = rows[victim]
    assert inc["status"] == "compromised" and inc["furthest_stage"] == "persistence"
    assert inc["stages"][0] == "recon" and inc["stages"][-1] == "persistence"
    assert inc["n_alerts"] == len(inc["alert_ids"]) == 3
    probed_only = next(a for a in world.truth["probed"] if "@gmail.example" in a)
    assert rows[probed_only]["status"] == "probed"
    assert sc.STATE_IPS  # scenario module is importable from the tests
