"""The fast staging statements build the very tables of the plain ones (``sql_reference``).

Each test stages one small hand-made store and compares a shared table built the fast way with
the same table built by the plain statement, row for row (a multiset comparison), plus the
values a detection relies on.
"""

from __future__ import annotations

import duckdb
from det_kit import UA_EVIL, ev, history, wrong_passwords

from idwatch.detections import sql, sql_reference
from idwatch.detections.engine import stage_store
from idwatch.store import Store


def _staged(store: Store) -> duckdb.DuckDBPyConnection:
    con = store.connect()
    stage_store(con, store)
    return con


def _same(con: duckdb.DuckDBPyConnection, a: str, b: str) -> None:
    """Tables ``a`` and ``b`` hold the same rows (with multiplicity) and column types."""
    assert con.execute(f"DESCRIBE {a}").fetchall() == con.execute(f"DESCRIBE {b}").fetchall()
    for x, y in ((a, b), (b, a)):
        extra = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y})"
        ).fetchall()
        assert extra == [(0,)], f"{x} has rows {y} has not"


def _copy(con: duckdb.DuckDBPyConnection, table: str, into: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT * FROM {table}")


def test_ev_prefixes_ipv4_per_row_and_ipv6_per_distinct_address_as_the_expression_does(build):
    addresses = ["73.10.20.30", "2001:db8:0:12::5", "2001:DB8:0:12:ab::1", "2001:db8::7", "fe80::1"]
    events = [
        ev(float(i), "ann@acme.example", "sign_in", src_ip=ip, asn=None, asn_org=None)
        for i, ip in enumerate(addresses * 2)
    ]
    con = _staged(build(events))
    rows = con.execute("SELECT src_ip, ipnet, net FROM ev").fetchall()
    want = dict(
        con.execute(
            f"SELECT ip, {sql.ipnet_expr('ip')} FROM unnest(?::VARCHAR[]) t(ip)", [addresses]
        ).fetchall()
    )
    assert len(rows) == 2 * len(addresses)
    assert all(ipnet == want[ip] and net == ipnet for ip, ipnet, net in rows)
    assert want["73.10.20.30"] == "73.10.20.0/24"
    assert want["2001:DB8:0:12:ab::1"] == "2001:db8:0:12::/64"


def test_ev_network_is_the_asn_then_the_organisation_then_the_prefix(build):
    events = [
        ev(1.0, "ann@acme.example", "sign_in", src_ip="2001:db8:1:2::9", asn=7922),
        ev(2.0, "ann@acme.example", "sign_in", src_ip="2001:db8:1:2::9", asn=None, asn_org="COMCAST"),
        ev(3.0, "ann@acme.example", "sign_in", src_ip="2001:db8:1:2::9", asn=None, asn_org=None),
    ]
    con = _staged(build(events))
    nets = [n for (n,) in con.execute("SELECT net FROM ev ORDER BY time").fetchall()]
    assert nets == ["7922", "COMCAST", "2001:db8:1:2::/64"]


def test_known_from_sign_in_combinations_equals_the_plain_groupings(build):
    events = history("ann@acme.example", days=6) + history(
        "ann@acme.example", days=3, net="home2", device=None
    )
    events += history("bob@acme.example", days=4, net="office", device="dev-bob")
    events += [ev(200.0, "bob@acme.example", "mfa_challenge", net="hotel_fr", device="dev-bob")]
    events += [ev(201.0, "bob@acme.example", "sign_in", "failure", net="vps_us", ua=UA_EVIL)]
    con = _staged(build(events))
    _copy(con, "known", "known_fast")
    con.execute(sql_reference.stage_known_sql(None, None))
    _same(con, "known_fast", "known")
    n = con.execute(
        "SELECT n FROM known_fast WHERE account = 'ann@acme.example' AND kind = 'country'"
    ).fetchall()
    assert n == [(18,)]  # 12 sign-ins at home and 6 on the second line, one country


def test_source_and_client_reputation_from_one_pass_equal_the_plain_statements(build):
    victims = [f"user{i}@acme.example" for i in range(6)]
    events = [e for v in victims for e in history(v, days=3, device=f"dev-{v}")]
    for k, v in enumerate(victims):  # one rented server sprays every account, one VPN exit too
        events += wrong_passwords(v, 2, start=80.0 + k, every=0.1, net="vps_us", ua=UA_EVIL, device=None)
        events += wrong_passwords(v, 1, start=90.0 + k, every=0.1, net="vpn_nl", ua=UA_EVIL, device=None)
    events += [ev(95.0, "user0@acme.example", "sign_in", net="vpn_nl", device="dev-user0@acme.example")]
    events += [ev(96.0, "nobody@acme.example", "account_lookup", "failure", net="vps_us", ua=UA_EVIL)]
    con = _staged(build(events))
    for name in ("src_rep", "client_rep"):
        _copy(con, name, f"{name}_fast")
    con.execute(sql_reference.SOURCE_REPUTATION_SQL)
    con.execute(sql_reference.CLIENT_REPUTATION_SQL)
    _same(con, "src_rep_fast", "src_rep")
    _same(con, "client_rep_fast", "client_rep")
    on_exit = dict(
        con.execute(
            "SELECT user_agent, (bad_accts, ok_accts) FROM client_rep_fast WHERE src_ip = '185.65.134.10'"
        ).fetchall()
    )
    assert on_exit[UA_EVIL] == (len(victims), 0)  # the sprayer's client on the VPN exit
    assert sorted(on_exit.values()) == [(0, 1), (len(victims), 0)]  # and the owner's, who signed in
