"""The simulated population looks like people, and the attackers hide among their look-alikes."""

from __future__ import annotations

import duckdb


def _one(db: duckdb.DuckDBPyConnection, sql: str) -> object:
    return db.execute(sql).fetchone()[0]


def test_benign_users_make_the_mistakes_that_look_like_attacks(tiny_db: duckdb.DuckDBPyConnection) -> None:
    benign = "FROM ev WHERE kind = 'benign'"
    assert (
        _one(tiny_db, f"SELECT count(*) {benign} AND activity = 'password_reset' AND outcome = 'failure'") > 0
    )
    assert (
        _one(tiny_db, f"SELECT count(*) {benign} AND activity = 'password_reset' AND step = 'complete'") > 0
    )
    assert _one(tiny_db, f"SELECT count(*) {benign} AND activity = 'account_lock'") > 0
    assert _one(tiny_db, f"SELECT count(*) {benign} AND reason = 'unknown_account'") > 0
    assert _one(tiny_db, f"SELECT count(*) {benign} AND reason = 'unknown_account' AND tenant IS NULL") > 0
    assert (
        _one(
            tiny_db,
            f"SELECT count(*) {benign} AND account_exists = false AND account IN "
            "(SELECT account FROM directory)",
        )
        == 0
    )
    assert _one(tiny_db, f"SELECT count(*) {benign} AND reason = 'bad_password'") > 0
    assert _one(tiny_db, f"SELECT count(*) {benign} AND activity = 'mfa_method_change'") > 0
    assert _one(tiny_db, f"SELECT count(*) {benign} AND activity = 'recovery_info_change'") > 0
    assert (
        _one(tiny_db, f"SELECT count(*) {benign} AND activity = 'mailbox_rule' AND detail LIKE '%forward%'")
        > 0
    )


def test_benign_networks_include_vpn_tor_hosting_mobile_and_ipv6(tiny_db: duckdb.DuckDBPyConnection) -> None:
    kinds = {
        r[0] for r in tiny_db.execute("SELECT DISTINCT network_type FROM ev WHERE kind = 'benign'").fetchall()
    }
    assert {"residential", "mobile", "business", "vpn", "hosting", "tor"} <= kinds
    v6 = _one(tiny_db, "SELECT avg((src_ip LIKE '%:%')::INT) FROM ev WHERE kind = 'benign'")
    assert 0.03 < v6 < 0.5
    # shared NAT: office and carrier addresses serve many people
    assert (
        _one(
            tiny_db,
            "SELECT max(n) FROM (SELECT count(DISTINCT account) n FROM ev WHERE kind = 'benign'"
            " GROUP BY src_ip)",
        )
        > 20
    )


def test_people_travel_and_use_several_devices(tiny_db: duckdb.DuckDBPyConnection) -> None:
    travellers = _one(
        tiny_db,
        "SELECT count(*) FROM (SELECT account FROM ev WHERE kind = 'benign'"
        " AND country IS NOT NULL AND network_type IN ('residential', 'mobile', 'business')"
        " GROUP BY account HAVING count(DISTINCT country) > 1)",
    )
    assert travellers > 5
    multi = _one(
        tiny_db,
        "SELECT avg((n > 1)::INT) FROM (SELECT count(DISTINCT device_id) n FROM ev"
        " WHERE kind = 'benign' GROUP BY account HAVING count(*) > 10)",
    )
    assert multi > 0.5


def test_activity_is_heavy_tailed_and_follows_the_day(tiny_db: duckdb.DuckDBPyConnection) -> None:
    top_share = _one(
        tiny_db,
        """
        WITH per AS (SELECT account, count(*) n FROM ev WHERE kind = 'benign' AND account_exists
                     GROUP BY account),
             ranked AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS decile FROM per)
        SELECT sum(n) FILTER (WHERE decile = 1) / sum(n) FROM ranked""",
    )
    assert top_share > 0.3
    # US users: far more sign-ins in their afternoon than in their night
    day, night = tiny_db.execute("""
        SELECT count(*) FILTER (WHERE hour(time AT TIME ZONE 'America/New_York') BETWEEN 13 AND 15),
               count(*) FILTER (WHERE hour(time AT TIME ZONE 'America/New_York') BETWEEN 2 AND 4)
        FROM ev JOIN directory d USING (account)
        WHERE kind = 'benign' AND d.home_country = 'US' AND d.category = 'government'""").fetchone()
    assert day > 4 * max(night, 1)


def test_actors_work_office_hours_in_their_own_time_zone(tiny_db: duckdb.DuckDBPyConnection) -> None:
    for actor, tz, days, (h0, h1) in (
        ("act-kitten", "Asia/Tehran", (6, 0, 1, 2, 3), (8, 16)),
        ("act-bear", "Europe/Moscow", (1, 2, 3, 4, 5), (9, 18)),
    ):
        share = _one(
            tiny_db,
            f"""
            SELECT avg((dayofweek(time AT TIME ZONE '{tz}') IN {days}
                        AND hour(time AT TIME ZONE '{tz}') >= {h0}
                        AND hour(time AT TIME ZONE '{tz}') < {h1 + 1})::INT)
            FROM ev WHERE actor = '{actor}'""",
        )
        assert share > 0.85, actor


def test_recovery_abuse_uses_the_victims_real_contact(tiny_db: duckdb.DuckDBPyConnection) -> None:
    right = _one(
        tiny_db,
        """
        SELECT avg((e.contact_hash = d.contact_hash)::INT) FROM ev e JOIN directory d USING (account)
        WHERE e.actor = 'act-kitten' AND e.activity IN ('password_reset', 'account_recovery')
          AND e.step = 'start' AND e.contact_hash IS NOT NULL""",
    )
    assert 0.6 < right < 1.0


def test_probes_come_before_attacks_and_most_probed_identifiers_do_not_exist(
    tiny_db: duckdb.DuckDBPyConnection,
) -> None:
    late = _one(
        tiny_db,
        """
        WITH p AS (SELECT account, min(time) t FROM ev
                   WHERE actor = 'act-kitten' AND activity = 'account_lookup' GROUP BY account),
             a AS (SELECT account, min(time) t FROM ev WHERE actor = 'act-kitten' AND account_exists
                   AND activity IN ('sign_in', 'password_reset', 'account_recovery', 'mfa_challenge')
                   GROUP BY account)
        SELECT count(*) FROM a LEFT JOIN p USING (account) WHERE p.t IS NULL OR p.t >= a.t""",
    )
    assert late == 0
    missing = _one(
        tiny_db,
        "SELECT avg((NOT account_exists)::INT) FROM (SELECT DISTINCT account, account_exists"
        " FROM ev WHERE actor = 'act-kitten' AND activity = 'account_lookup')",
    )
    assert missing > 0.5


def test_compromise_is_followed_by_persistence(tiny_run, tiny_db: duckdb.DuckDBPyConnection) -> None:  # noqa: ANN001
    _, truth = tiny_run
    kitten = next(c for c in truth["campaigns"] if c["id"] == "cmp-kitten")
    for account in kitten["accounts"]["compromised"]:
        after = {
            r[0]: r[1]
            for r in tiny_db.execute(
                "SELECT activity, any_value(detail) FROM ev WHERE actor = 'act-kitten' AND account = ?"
                " AND activity IN ('mailbox_rule', 'mfa_method_change', 'recovery_info_change')"
                " GROUP BY activity",
                [account],
            ).fetchall()
        }
        assert set(after) == {"mailbox_rule", "mfa_method_change", "recovery_info_change"}
        assert "forward" in after["mailbox_rule"]
    cats = {
        r[0]
        for r in tiny_db.execute(
            "SELECT DISTINCT category FROM directory WHERE account IN (SELECT unnest(?::VARCHAR[]))",
            [kitten["accounts"]["compromised"]],
        ).fetchall()
    }
    assert cats <= {"journalist", "diaspora"}


def test_infrastructure_rotates_and_slips_once(tiny_db: duckdb.DuckDBPyConnection) -> None:
    ips, asns = tiny_db.execute(
        "SELECT count(DISTINCT src_ip), count(DISTINCT asn) FROM ev WHERE actor = 'act-kitten'"
    ).fetchone()
    assert ips >= 8 and asns >= 3
    slips = _one(tiny_db, "SELECT count(*) FROM ev WHERE actor = 'act-kitten' AND src_ip LIKE '151.232.%'")
    assert slips == 1  # the operator forgot the VPN once: a home ISP address in Iran


def test_botnet_spreads_thin_over_many_addresses(tiny_db: duckdb.DuckDBPyConnection) -> None:
    per_ip = _one(
        tiny_db,
        "SELECT avg((n <= 3)::INT) FROM (SELECT count(*) n FROM ev WHERE actor = 'crim-stuffing'"
        " GROUP BY src_ip, time::DATE)",
    )
    assert per_ip > 0.9
    unknown = _one(tiny_db, "SELECT avg((NOT account_exists)::INT) FROM ev WHERE actor = 'crim-stuffing'")
    assert 0.4 < unknown < 0.9
