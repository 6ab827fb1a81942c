"""The login-risk model (Freeman et al. 2016) scores sign-ins against each account's history."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from idwatch.detections.riskmodel import build_signin_risk, score_attempt
from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.store import Store

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
HOME = {"src_ip": "198.51.100.7", "asn": 64500, "country": "US"}
HOME_UA = {
    "user_agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120",
    "ua_family": "Chrome",
    "ua_os": "Windows",
}
_ids = itertools.count()


def signin(account: str, at: datetime, *, outcome: str = "success", **over: Any) -> dict[str, Any]:
    """One canonical sign-in; network and client default to the account's usual ones."""
    row = {
        "time": at,
        "event_id": f"ev-{next(_ids)}",
        "source": "native",
        "tenant": "example.org",
        "account": account,
        "activity": "sign_in",
        "outcome": outcome,
        "asn_org": None,
        **HOME,
        **HOME_UA,
        "raw": "{}",
    }
    row.update(over)
    return row


def make_store(tmp_path: Path, rows: list[dict[str, Any]]) -> Store:
    store = Store(tmp_path / "store")
    full = [{name: r.get(name) for name in STORED_EVENT_SCHEMA.names} for r in rows]
    store.append_events(pa.Table.from_pylist(full, schema=STORED_EVENT_SCHEMA))
    return store


def population(days: int = 30) -> list[dict[str, Any]]:
    """alice and a few colleagues sign in daily from their own IPs in the same ISP."""
    rows = []
    for d in range(days):
        day = T0 + timedelta(days=d)
        rows.append(signin("alice@example.org", day))
        for i in range(4):
            rows.append(
                signin(f"user{i}@example.org", day + timedelta(minutes=5 + i), src_ip=f"198.51.100.{20 + i}")
            )
    return rows


def risk_rows(store: Store) -> dict[str, dict[str, Any]]:
    con = store.connect()
    build_signin_risk(con)
    cur = con.execute("SELECT * FROM signin_risk")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


@pytest.fixture
def scored(tmp_path: Path) -> dict[str, dict[str, Any]]:
    later = T0 + timedelta(days=31)
    rows = population()
    rows += [
        signin("alice@example.org", later, event_id="usual"),
        signin(
            "alice@example.org",
            later + timedelta(hours=1),
            event_id="new-ip-same-asn",
            src_ip="198.51.100.99",
        ),
        signin(
            "alice@example.org",
            later + timedelta(hours=2),
            event_id="new-asn",
            src_ip="203.0.113.5",
            asn=64501,
        ),
        signin(
            "alice@example.org",
            later + timedelta(hours=3),
            event_id="attacker",
            src_ip="192.0.2.66",
            asn=64666,
            country="IR",
            user_agent="python-requests/2.31",
            ua_family="Python Requests",
            ua_os="Other",
        ),
    ]
    return risk_rows(make_store(tmp_path, rows))


def test_every_successful_signin_gets_a_risk_between_0_and_100(scored):
    assert len(scored) == 30 * 5 + 4
    assert all(0.0 <= r["risk"] <= 100.0 for r in scored.values())


def test_usual_ip_and_browser_score_low_and_new_country_and_client_score_high(scored):
    assert scored["usual"]["risk"] < 5
    assert scored["attacker"]["risk"] > 60
    assert scored["attacker"]["new_country"] and scored["attacker"]["new_ua"]
    assert not scored["usual"]["new_ip"]


def test_unseen_values_back_off_to_the_parent_level(scored):
    usual, new_ip, new_asn, attacker = (
        scored[k]["risk"] for k in ("usual", "new-ip-same-asn", "new-asn", "attacker")
    )
    assert usual < new_ip < new_asn < attacker
    # a new IP in a known network is explained by the IP level alone
    assert scored["new-ip-same-asn"]["lr_ip"] > 1 and scored["new-ip-same-asn"]["lr_asn"] <= 1


def test_network_ratios_multiply_along_the_hierarchy(scored):
    r = scored["attacker"]
    total = (
        r["lr_country"] * r["lr_asn"] * r["lr_ip"] * r["lr_os"] * r["lr_browser"] * r["lr_ua"] * r["lr_user"]
    )
    assert r["llr"] == pytest.approx(math.log(total))


def test_no_look_ahead_a_signin_is_scored_only_on_earlier_history(tmp_path):
    rows = population(10)
    first = signin(
        "alice@example.org",
        T0 + timedelta(days=10),
        event_id="first-trip",
        country="FR",
        asn=3215,
        src_ip="90.1.2.3",
    )
    rows.append(first)
    before = risk_rows(make_store(tmp_path / "a", rows))["first-trip"]
    # the same trip followed by a daily sign-in from France for two weeks must score the same
    rows += [
        signin(
            "alice@example.org",
            T0 + timedelta(days=11 + d),
            event_id=f"trip-{d}",
            country="FR",
            asn=3215,
            src_ip="90.1.2.3",
        )
        for d in range(14)
    ]
    after = risk_rows(make_store(tmp_path / "b", rows))
    assert after["first-trip"]["risk"] == pytest.approx(before["risk"])
    assert after["first-trip"]["new_country"]
    # ... while the trip itself becomes familiar once seen on a week of days (vouch_days)
    assert after["trip-0"]["risk"] >= before["risk"] * 0.9  # far outside alice's range: not learned
    assert max(after[f"trip-{d}"]["risk"] for d in range(8, 14)) < before["risk"]


def test_simultaneous_signins_do_not_see_each_other(tmp_path):
    at = T0 + timedelta(days=30)
    rows = population(30) + [
        signin("alice@example.org", at, event_id="twin-a", country="BR", asn=28573, src_ip="177.1.1.1"),
        signin("alice@example.org", at, event_id="twin-b", country="BR", asn=28573, src_ip="177.1.1.1"),
    ]
    got = risk_rows(make_store(tmp_path, rows))
    assert got["twin-a"]["new_country"] and got["twin-b"]["new_country"]
    assert got["twin-a"]["risk"] == pytest.approx(got["twin-b"]["risk"])


def spray_then_hit(network: dict[str, Any]) -> list[dict[str, Any]]:
    at = T0 + timedelta(days=30)
    spray = [
        signin("alice@example.org", at + timedelta(minutes=m), outcome="failure", **network)
        for m in range(20)
    ]
    return [*spray, signin("alice@example.org", at + timedelta(hours=1), event_id="hit", **network)]


ATTACKER_NET = {"country": "IR", "asn": 64666, "src_ip": "192.0.2.66"}


def test_failed_signins_are_not_history_but_give_the_network_a_bad_reputation(tmp_path):
    def hit_risk(where: str, rows: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        con = make_store(tmp_path / where, rows).connect()
        build_signin_risk(con, params=params)
        return dict(
            zip(
                ["n", "new_country", "risk"],
                con.execute(
                    "SELECT count(*) OVER (), new_country, risk FROM signin_risk WHERE event_id = 'hit'"
                ).fetchall()[0],
                strict=True,
            )
        )

    sprayed = population() + spray_then_hit(ATTACKER_NET)
    clean = population() + spray_then_hit(ATTACKER_NET)[-1:]
    with_spray, without = hit_risk("a", sprayed), hit_risk("b", clean)
    assert with_spray["new_country"] and with_spray["n"] == 1
    assert with_spray["risk"] > without["risk"] + 10
    # with the reputation term off, the failures change nothing: they are not history
    off = {"reputation_weight": 0.0}
    assert hit_risk("c", sprayed, **off)["risk"] == pytest.approx(hit_risk("d", clean, **off)["risk"])


def test_reputation_compares_a_network_with_its_parent(tmp_path):
    # the user's own typos from home do not make home look like an attacker's network
    typos = [
        signin("alice@example.org", T0 + timedelta(days=d, minutes=1), outcome="failure")
        for d in range(0, 30, 3)
    ]
    got = risk_rows(
        make_store(
            tmp_path,
            population() + typos + [signin("alice@example.org", T0 + timedelta(days=31), event_id="home")],
        )
    )
    assert got["home"]["risk"] < 5


def test_missing_asn_country_and_user_agent_still_score(tmp_path):
    at = T0 + timedelta(days=30)
    rows = population()
    # unknown ASN: keyed on the AS organization, else the /24 (IPv4) or /64 (IPv6)
    rows += [
        signin(
            "bob@example.org",
            T0 + timedelta(days=d),
            asn=None,
            asn_org="Example Telecom",
            country=None,
            user_agent=None,
            ua_family=None,
            ua_os=None,
            src_ip=f"2001:db8:1:2::{d + 1:x}",
        )
        for d in range(30)
    ]
    rows += [
        signin(
            "bob@example.org",
            at,
            event_id="bob-same-org",
            asn=None,
            asn_org="example telecom ",
            country=None,
            user_agent=None,
            ua_family=None,
            ua_os=None,
            src_ip="2001:db8:1:2::ff",
        ),
        signin(
            "bob@example.org",
            at + timedelta(hours=1),
            event_id="bob-v6-block",
            asn=None,
            asn_org=None,
            country=None,
            user_agent=None,
            ua_family=None,
            ua_os=None,
            src_ip="2001:db8:9::1",
        ),
    ]
    got = risk_rows(make_store(tmp_path, rows))
    assert not got["bob-same-org"]["new_asn"] and got["bob-same-org"]["new_ip"]
    assert got["bob-v6-block"]["new_asn"] and not got["bob-v6-block"]["new_country"]
    assert got["bob-same-org"]["risk"] < got["bob-v6-block"]["risk"]


def test_score_attempt_matches_the_batch_score_and_explains_it(tmp_path, scored):
    rows = population()
    store = make_store(tmp_path / "s", rows)
    out = score_attempt(
        store,
        {
            "account": "Alice@Example.org",
            "src_ip": "192.0.2.66",
            "country": "IR",
            "asn": 64666,
            "user_agent": "python-requests/2.31",
            "ua_family": "Python Requests",
            "ua_os": "Other",
            "time": (T0 + timedelta(days=31, hours=3)).isoformat(),
        },
    )
    assert out["account"] == "alice@example.org" and out["tenant"] == "example.org"
    assert out["history_signins"] == 30
    by_feature = {f["feature"]: f for f in out["features"]}
    assert set(by_feature) == {"country", "asn", "ip", "os", "browser", "ua"}
    assert by_feature["country"]["new_for_account"] and by_feature["country"]["likelihood_ratio"] > 1
    # the batch path scored the same attempt after three more sign-ins from home
    assert out["risk"] > 60
    assert out["features"][0]["log_lr"] >= out["features"][-1]["log_lr"]


def test_score_attempt_fills_network_and_client_from_the_store(tmp_path):
    store = make_store(tmp_path, population())
    out = score_attempt(
        store,
        {
            "account": "alice@example.org",
            "src_ip": HOME["src_ip"],
            "user_agent": HOME_UA["user_agent"],
            "time": (T0 + timedelta(days=40)).isoformat(),
        },
    )
    assert not any(f["new_for_account"] for f in out["features"])
    assert out["risk"] < 5


def test_score_attempt_rejects_an_attempt_without_account_or_ip(tmp_path):
    store = make_store(tmp_path, population(2))
    with pytest.raises(ValueError):
        score_attempt(store, {"src_ip": "192.0.2.1"})


def test_an_attackers_first_success_does_not_vouch_for_the_rest_of_the_session(tmp_path):
    at = T0 + timedelta(days=30)
    rows = population() + [
        signin("alice@example.org", at + timedelta(hours=h), event_id=f"session-{h}", **ATTACKER_NET)
        for h in range(3)
    ]
    store = make_store(tmp_path, rows)
    settled = risk_rows(store)
    assert min(settled[f"session-{h}"]["risk"] for h in range(3)) > 25
    con = store.connect()

    def session(**params) -> dict[str, float]:
        build_signin_risk(con, params=params)
        sql = "SELECT event_id, risk FROM signin_risk WHERE event_id LIKE 'session-%'"
        return dict(con.execute(sql).fetchall())

    # settling alone keeps it out: without it (and without the typical range) the first vouches
    unsettled = session(settle_hours=0, typical_min=10**9)
    assert unsettled["session-2"] < settled["session-2"]["risk"]
    # the account's typical range alone keeps it out too (a middling risk, far above alice's own)
    assert session(settle_hours=0)["session-2"] == pytest.approx(settled["session-2"]["risk"], abs=1.0)


def test_score_attempt_gives_exactly_the_batch_score_of_the_same_signin(tmp_path):
    at = T0 + timedelta(days=30, hours=5)
    spray = spray_then_hit(ATTACKER_NET)[:-1]
    hit = signin(
        "alice@example.org", at, event_id="hit", **ATTACKER_NET, user_agent="curl/8", ua_family="curl"
    )
    store = make_store(tmp_path, population() + spray + [hit])
    batch = risk_rows(store)["hit"]
    fields = ("account", "tenant", "src_ip", "asn", "country", "user_agent", "ua_family", "ua_os")
    point = score_attempt(store, {**{k: hit[k] for k in fields}, "time": at.isoformat()})
    assert point["log_likelihood_ratio"] == pytest.approx(batch["llr"])
    assert point["risk"] == pytest.approx(batch["risk"], abs=0.01)
    assert point["history_signins"] == batch["history"]
    by_feature = {f["feature"]: f for f in point["features"]}
    assert by_feature["ip"]["failed_before"] == 20 and by_feature["ip"]["likelihood_ratio"] == pytest.approx(
        batch["lr_ip"]
    )
