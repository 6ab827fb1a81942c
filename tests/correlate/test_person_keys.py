"""A person key links two addresses as strongly as it is rare among every identifier the store knows.

The failure this guards against: a state operator's single-use relay server, with one victim, was
tied to a credential-stuffing botnet because a bot had tried a leaked-list identifier with the
victim's name (``r.edwards``, ``sabine.becker9261@``): the key's specificity was counted over the
directory alone, so a surname a dozen identifiers in the events carry looked like one person.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
from correlate_scenario import T0, build_world

from idwatch.correlate import entities, incidents
from idwatch.correlate.campaigns import build_graph

HUNTER, BOT = "198.18.60.1", "198.18.61.1"


def _graph_weight(tmp_path, *, namesakes: int, one_as: bool = True, named: bool = True) -> float:
    """The link weight between an address that went after quentin.abara@ and one that tried
    quentinabara@ elsewhere (``named``; else two unrelated people), in a store whose events also
    hold ``namesakes`` other ``quentin.abara<n>@`` identifiers (people of that name signing in as
    usual). ``one_as``: both addresses are in one AS (a weak link of their own)."""
    w = build_world()
    base = w.directory[-1]
    w.directory.append({**base, "account": "quentin.abara@mail.example", "tenant": "mail.example"})
    others = [r["account"] for r in w.directory[:4]]
    for n in range(namesakes):
        w.ev(
            T0 - timedelta(days=3, hours=n),
            f"quentin.abara{n}@webmail.example",
            "sign_in",
            "success",
            f"10.77.0.{n + 1}",
        )
    for ip, accounts in (
        (HUNTER, ["quentin.abara@mail.example", others[0]]),
        (BOT, ["quentinabara@webmail.example" if named else "zed.olum@webmail.example", others[1]]),
    ):
        eids = [
            w.ev(
                T0 + timedelta(days=1, hours=k),
                acc,
                "sign_in",
                "failure",
                ip,
                reason="bad_password",
                network_type="hosting",
                asn=65111 if ip == HUNTER or one_as else 65222,
            )
            for k, acc in enumerate(accounts)
        ]
        w.alert("credential.password_guessing", "credential", ["T1110.001"], eids, 50)  # one each
    store = w.write(tmp_path)
    con: duckdb.DuckDBPyConnection = store.connect()
    incidents.create_alert_accounts(con)
    entities.create_suspicious_events(con)
    entities.create_popularity(con)
    graph = build_graph(con)
    names = graph.vs["name"]
    a, b = names.index(f"ip:{HUNTER}"), names.index(f"ip:{BOT}")
    eid = graph.get_eid(a, b, error=False)
    return graph.es[eid]["weight"] if eid >= 0 else 0.0


def test_a_rare_name_strengthens_a_link_the_addresses_already_have(tmp_path):
    without = _graph_weight(tmp_path / "unnamed", namesakes=0, named=False)
    assert _graph_weight(tmp_path / "named", namesakes=0) > without + 0.1


def test_a_name_many_identifiers_in_the_store_carry_strengthens_it_far_less(tmp_path):
    without = _graph_weight(tmp_path / "unnamed", namesakes=0, named=False)
    rare = _graph_weight(tmp_path / "rare", namesakes=0) - without
    common = _graph_weight(tmp_path / "common", namesakes=12) - without
    # 14 identifiers carry the key instead of 2: its specificity 1 / (1 + n / 3) falls from 0.6 to 0.18
    assert 0 < common < rare / 3


def test_a_name_alone_links_nothing(tmp_path):
    # two addresses that share nothing but having gone after namesakes: a coincidence of names
    assert _graph_weight(tmp_path, namesakes=0, one_as=False) == 0.0
