"""Recon detections: enumeration fires on probing, stays quiet on an office full of users."""

from __future__ import annotations

from det_kit import UA_EVIL, UA_PHONE, alerted_accounts, alerts_of, ev, history


def test_single_source_enumeration_fires_on_many_missing_identifiers(build):
    events = history("alice@corp.org") + history("bob@corp.org", net="office")
    probes = [f"user{i}@corp.org" for i in range(12)] + ["alice@corp.org", "bob@corp.org"]
    for i, ident in enumerate(probes):
        exists = ident in ("alice@corp.org", "bob@corp.org")
        events.append(
            ev(
                100 + i * 0.1,
                ident,
                "account_lookup",
                "success" if exists else "failure",
                net="evil",
                ua=UA_EVIL,
                account_exists=exists,
                reason=None if exists else "unknown_account",
            )
        )
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
            events.append(
                ev(d * 24 + 7.9 + i * 0.001, u, "account_lookup", net="office", account_exists=True)
            )
        for t in range(2):
            events.append(
                ev(
                    d * 24 + 9 + t,
                    f"emp{t}x@corp.org",
                    "account_lookup",
                    "failure",
                    net="office",
                    reason="unknown_account",
                    account_exists=False,
                )
            )
    store = build(events)
    assert alerted_accounts(store, "recon_enum_single_source") == set()


def test_distributed_enumeration_fires_on_many_ips_sharing_one_asn(build):
    events = history("alice@corp.org")
    for i in range(20):  # 20 IPs of one hosting ASN, one identifier each
        events.append(
            ev(
                100 + i * 0.2,
                f"guess{i}@corp.org",
                "account_lookup",
                "failure",
                net="evil",
                ua=UA_EVIL,
                src_ip=f"5.160.{i}.7",
                account_exists=False,
                reason="unknown_account",
            )
        )
    store = build(events)
    alerts = alerts_of(store, "recon_enum_distributed")
    assert alerts, "distributed enumeration missed"
    assert {f"guess{i}@corp.org" for i in range(20)} <= set(alerts[0]["accounts"])
    assert len(alerts[0]["src_ips"]) == 20 and 12880 in alerts[0]["asns"]
    # the single-source rule cannot see it: one identifier per IP
    assert alerted_accounts(store, "recon_enum_single_source") == set()


def test_distributed_enumeration_quiet_on_carrier_users_looking_up_themselves(build):
    users = [f"u{i}@mail.com" for i in range(40)]
    events = [
        e for i, u in enumerate(users) for e in history(u, net="mobile", days=3, src_ip=f"172.56.{i}.2")
    ]
    for i, u in enumerate(users):
        events.append(
            ev(80 + i * 0.1, u, "account_lookup", net="mobile", src_ip=f"172.56.{i}.9", account_exists=True)
        )
    for i in range(3):  # a few typos
        events.append(
            ev(
                81 + i,
                f"typo{i}@mail.com",
                "account_lookup",
                "failure",
                net="mobile",
                src_ip=f"172.56.{i}.9",
                account_exists=False,
                reason="unknown_account",
            )
        )
    store = build(events)
    assert alerted_accounts(store, "recon_enum_distributed") == set()


DIRECTORY = [
    {
        "account": "jane.doe@campaign.org",
        "tenant": "campaign.org",
        "display_name": "Jane Doe",
        "category": "political_campaign",
        "watchlist": True,
    },
    {
        "account": "omar.haddad@news.org",
        "tenant": "news.org",
        "display_name": "Omar Haddad",
        "category": "journalist",
        "watchlist": False,
    },
    {
        "account": "bob.smith@shop.com",
        "tenant": "shop.com",
        "display_name": "Bob Smith",
        "category": "consumer",
        "watchlist": False,
    },
]


def test_highrisk_enumeration_fires_on_name_variants_at_other_domains(build):
    events = history("jane.doe@campaign.org") + history("omar.haddad@news.org")
    for i, ident in enumerate(
        [
            "janedoe@gmail.com",
            "jane_doe1980@yahoo.com",
            "jdoe@outlook.com",
            "omarhaddad@gmail.com",
            "haddad.omar@mail.com",
        ]
    ):
        events.append(
            ev(
                200 + i,
                ident,
                "account_lookup",
                "failure",
                net="evil",
                ua=UA_EVIL,
                account_exists=False,
                reason="unknown_account",
            )
        )
    store = build(events, directory=DIRECTORY)
    alerts = alerts_of(store, "recon_enum_highrisk_targets")
    assert len(alerts) == 1
    assert set(alerts[0]["accounts"]) >= {
        "janedoe@gmail.com",
        "jane_doe1980@yahoo.com",
        "omarhaddad@gmail.com",
        "haddad.omar@mail.com",
    }
    assert "jane.doe@campaign.org" in alerts[0]["detail"]


def test_highrisk_enumeration_quiet_on_the_person_and_on_non_high_risk_names(build):
    # Jane looks up her own personal account from home; somebody probes a consumer's variants.
    events = history("jane.doe@campaign.org") + history("janedoe@gmail.com")
    events.append(ev(200, "janedoe@gmail.com", "account_lookup", account_exists=True))
    for i, ident in enumerate(["bobsmith@gmail.com", "smith.bob@yahoo.com"]):
        events.append(
            ev(
                210 + i,
                ident,
                "account_lookup",
                "failure",
                net="evil",
                account_exists=False,
                reason="unknown_account",
            )
        )
    store = build(events, directory=DIRECTORY)
    assert alerts_of(store, "recon_enum_highrisk_targets") == []


def test_distributed_enumeration_quiet_on_vpn_user_sharing_the_attackers_exit(build):
    """A VPN user who looks up their own account on the attackers' exit address, then signs in
    from their usual device, is the owner, not a target; so is one whose own reset there ends
    signed in: only the probed identifiers are listed."""
    events = history("alice@corp.org", device="dev-alice") + history("carol@corp.org", device="dev-carol")
    for i in range(20):  # 20 exit addresses of one VPN network, three identifiers each
        for k, ident in enumerate((f"guess{i}@corp.org", f"nope{i}@corp.org", "carol@corp.org")):
            missing = ident != "carol@corp.org"
            events.append(
                ev(
                    500 + i * 0.2 + k * 0.01,
                    ident,
                    "account_lookup",
                    "failure" if missing else "success",
                    net="vpn_nl",
                    ua=UA_EVIL,
                    src_ip=f"185.65.{i}.10",
                    account_exists=not missing,
                    reason="unknown_account" if missing else None,
                )
            )
    # alice on the same exit as attacker source 3: lookup, then her usual laptop signs in
    exit3 = {"net": "vpn_nl", "src_ip": "185.65.3.10"}
    events.append(ev(500.7, "alice@corp.org", "account_lookup", account_exists=True, **exit3))
    events.append(ev(500.71, "alice@corp.org", "sign_in", device="dev-alice", **exit3))
    # dana, on a new laptop whose browser string the enumerator also sends, resets her forgotten
    # password through the same exit and ends signed in
    events += history("dana@corp.org", device="dev-dana")
    dana = {"net": "vpn_nl", "src_ip": "185.65.3.10", "ua": UA_EVIL}
    events.append(ev(500.8, "dana@corp.org", "account_lookup", account_exists=True, **dana))
    events.append(ev(500.81, "dana@corp.org", "password_reset", "pending", step="start", **dana))
    events.append(ev(500.85, "dana@corp.org", "password_reset", step="complete", **dana))
    events.append(ev(500.86, "dana@corp.org", "sign_in", **dana))
    store = build(events)
    accounts = alerted_accounts(store, "recon_enum_distributed")
    assert {f"guess{i}@corp.org" for i in range(20)} <= accounts
    assert "carol@corp.org" in accounts  # the real target, probed and never signed in
    assert "alice@corp.org" not in accounts and "dana@corp.org" not in accounts


def _missing(hours: float, ident: str, **kw) -> dict:
    """A lookup of an identifier that does not exist."""
    return ev(hours, ident, "account_lookup", "failure", account_exists=False, reason="unknown_account", **kw)


def test_enumeration_lists_the_probes_but_not_a_typo_its_typist_corrected(build):
    """On a VPN exit an enumerator also uses, a user mistypes her address, then signs in with the
    right one from the same phone minutes later: her typo is not a probed identifier."""
    events = history("alice.jones@corp.org", device="dev-alice")
    events += [_missing(100 + i * 0.05, f"user{i}@corp.org", net="vpn_nl", ua=UA_EVIL) for i in range(12)]
    phone = {"net": "vpn_nl", "ua": UA_PHONE, "device": "dev-alice"}
    events.append(_missing(100.3, "alice.jnoes@corp.org", **phone))
    events.append(ev(100.35, "alice.jones@corp.org", "sign_in", **phone))
    # the enumerator's own near miss, followed by a sign-in from another client, stays a probe
    events.append(_missing(100.4, "alice.jone@corp.org", net="vpn_nl", ua=UA_EVIL))
    store = build(events)
    accounts = alerted_accounts(store, "recon_enum_single_source")
    assert {f"user{i}@corp.org" for i in range(12)} | {"alice.jone@corp.org"} <= accounts
    assert "alice.jnoes@corp.org" not in accounts


def test_highrisk_enumeration_quiet_on_colleagues_looking_up_their_own_other_addresses(build):
    """Two people on an office line each look up a personal address that does not exist and happens
    to be a watch-listed person's name variant: their own phones, not one prober. The actor's probes
    from its server still fire."""
    events = history("jane.doe@campaign.org") + history("omar.haddad@news.org")
    events += history("pat@corp.org", net="office", device="dev-pat")
    events += history("sam@corp.org", net="office", device="dev-sam")
    events.append(_missing(200, "janedoe@gmail.com", net="office", ua=UA_PHONE, device="dev-pat"))
    events.append(_missing(205, "omarhaddad@gmail.com", net="office", ua=UA_PHONE, device="dev-sam"))
    events.append(_missing(206, "haddad.omar@mail.com", net="office", ua=UA_PHONE, device=None))
    events += [
        _missing(300 + i, ident, net="evil", ua=UA_EVIL)
        for i, ident in enumerate(["jane_doe@yahoo.com", "janedoe1980@outlook.com", "omar.haddad@gmail.com"])
    ]
    alerts = alerts_of(build(events, directory=DIRECTORY), "recon_enum_highrisk_targets")
    assert [a["src_ips"] for a in alerts] == [["5.160.1.10"]]
    assert set(alerts[0]["accounts"]) == {
        "jane_doe@yahoo.com",
        "janedoe1980@outlook.com",
        "omar.haddad@gmail.com",
    }


def test_attempts_naming_no_identifier_are_no_account_in_any_alert(build):
    # Auth0 logs failures whose client named no identifier; they are stored as events of the
    # reserved account NO_ACCOUNT, but no alert may name it as a probed or attacked account
    from idwatch.sources.vendor_sql import NO_ACCOUNT

    events = history("alice@corp.org")
    probes = [f"user{i}@corp.org" for i in range(12)]
    for i, ident in enumerate(probes + [NO_ACCOUNT] * 20):
        events.append(
            ev(
                100 + i * 0.1,
                ident,
                "account_lookup",
                "failure",
                net="evil",
                ua=UA_EVIL,
                account_exists=False,
                reason="unknown_account",
            )
        )
    store = build(events)
    alerts = alerts_of(store, "recon_enum_single_source")
    assert alerts, "the probing of real identifiers still alerts"
    assert all(NO_ACCOUNT not in a["accounts"] for a in alerts)
    stored = store.connect().execute(f"SELECT count(*) FROM events WHERE account = '{NO_ACCOUNT}'")
    assert stored.fetchone()[0] == 20  # kept and counted, only not an account
