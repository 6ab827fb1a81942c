"""The owner's baseline rests on evidence from before the takeover began.

The failure this guards against: an operator that keeps its browser (or replays a stolen
session cookie, which carries the victim's device id) signs in on two days and its device or
address became "the owner's", so the campaign's counts dropped its events.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from idwatch.correlate.chain import revoke_familiarity

ATTACK = datetime(2020, 10, 1, tzinfo=UTC)


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ok_signins (account VARCHAR, src_ip VARCHAR, device_id VARCHAR, time TIMESTAMPTZ)"
    )
    con.execute("CREATE TABLE familiar (account VARCHAR, src_ip VARCHAR)")
    con.execute("CREATE TABLE familiar_device (account VARCHAR, device_id VARCHAR)")
    con.execute("CREATE TABLE chain_events (account VARCHAR, t_try TIMESTAMPTZ)")
    rows = [  # the owner at home with her laptop for months; the operator on two days after the attack
        ("ana@x.example", "10.0.0.9", "laptop", datetime(2020, 6, 1, tzinfo=UTC)),
        ("ana@x.example", "10.0.0.9", "laptop", datetime(2020, 9, 1, tzinfo=UTC)),
        ("ana@x.example", "192.0.2.5", "op-dev", datetime(2020, 10, 3, tzinfo=UTC)),
        ("ana@x.example", "192.0.2.5", "op-dev", datetime(2020, 10, 4, tzinfo=UTC)),
        ("bo@x.example", "10.0.0.7", "phone", datetime(2020, 10, 5, tzinfo=UTC)),
    ]
    con.executemany("INSERT INTO ok_signins VALUES (?, ?, ?, ?)", rows)
    con.execute(
        "INSERT INTO familiar VALUES ('ana@x.example', '10.0.0.9'), ('ana@x.example', '192.0.2.5'),"
        " ('bo@x.example', '10.0.0.7')"
    )
    con.execute(
        "INSERT INTO familiar_device VALUES ('ana@x.example', 'laptop'), ('ana@x.example', 'op-dev'),"
        " ('bo@x.example', 'phone')"
    )
    con.execute("INSERT INTO chain_events VALUES ('ana@x.example', ?)", [ATTACK])
    return con


def test_what_the_baseline_learned_after_the_attack_is_revoked():
    con = _con()
    assert revoke_familiarity(con) == 2
    assert con.execute("SELECT src_ip FROM familiar WHERE account = 'ana@x.example'").fetchall() == [
        ("10.0.0.9",)
    ]
    assert con.execute(
        "SELECT device_id FROM familiar_device WHERE account = 'ana@x.example'"
    ).fetchall() == [("laptop",)]


def test_accounts_without_a_takeover_chain_keep_their_baseline():
    con = _con()
    revoke_familiarity(con)
    assert con.execute("SELECT count(*) FROM familiar WHERE account = 'bo@x.example'").fetchone()[0] == 1
    assert (
        con.execute("SELECT count(*) FROM familiar_device WHERE account = 'bo@x.example'").fetchone()[0] == 1
    )
