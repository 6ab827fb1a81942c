"""Recon detections: enumeration fires on probing, stays quiet on an office full of users."""

from __future__ import annotations

from det_kit import UA_EVIL, alerted_accounts, alerts_of, ev, history


def test_single_source_enumeration_fires_on_many_missing_identifiers(build):
    events = history("alice@corp.org") + history("bob@corp.org", net="office")
    probes = [f"user{i}@corp.org" for i in range(12)] + ["alice@corp.org", "bob@corp.org"]
    for i, ident in enumerate(probes):
        exists = ident in ("alice@corp.org", "bob@corp.org")
        events.append(ev(100 + i * 0.1, ident, "account_lookup", "success" if exists else "failure",
                         net="evil", ua=UA_EVIL, account_exists=exists,
                         reason=None if exists else "unknown_account"))
    store = build(events)
    alerts = alerts_of(store, "recon_enum_single_source")
    assert len(alerts) == 1
    a = alerts[0]
    assert set(a["accounts"]) == set(probes)
    assert a["src_ips"] == ["5.160.1.10"] and a["asns"] == [12880] and a["user_agents"] == [UA_EVIL]
    assert len(a["event_ids"]) == len(probes) and 0 < a["score"] <= 100


def test_single_source_enumeration_quiet_on_office_nat(build):
    users = [f"emp{i}@corp.org" for i in range(30)]
    events = [e for u in users for e in history(u, net="office", days=5)]
    # every morning each user's login-name step is an account lookup from the office NAT,
    # plus a couple of typos of non-existent names
    for d in range(5):
        for i, u in enumerate(users):
            events.append(ev(d * 24 + 7.9 + i * 0.001, u, "account_lookup", net="office",
                             account_exists=True))
        for t in range(2):
            events.append(ev(d * 24 + 9 + t, f"emp{t}x@corp.org", "account_lookup", "failure", net="office",
                             reason="unknown_account", account_exists=False))
    store = build(events)
    assert alerted_accounts(store, "recon_enum_single_source") == set()
