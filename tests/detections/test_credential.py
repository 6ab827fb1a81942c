"""Credential detections: spray, stuffing, brute force, and a success after any of them."""

from __future__ import annotations

import pytest
from det_kit import UA_EVIL, UA_PHONE, alerted_accounts, alerts_of, ev, history, wrong_passwords

USERS = [f"user{i}@corp.org" for i in range(15)]


def _population(net: str = "home") -> list[dict]:
    return [e for i, u in enumerate(USERS) for e in history(u, days=5, net=net, src_ip=f"73.10.{i}.30")]


def test_spray_single_source_fires_below_lockout(build):
    events = _population()
    for i, u in enumerate(USERS):
        for k in range(2):  # two guesses per account, paced
            events.append(
                ev(
                    150 + i * 0.5 + k * 6,
                    u,
                    "sign_in",
                    "failure",
                    net="evil",
                    ua=UA_EVIL,
                    reason="bad_password",
                )
            )
    store = build(events)
    accounts = alerted_accounts(store, "cred_password_spray")
    assert accounts == set(USERS)


def test_spray_does_not_list_an_owner_mistyping_on_own_device_behind_the_same_address(build):
    # a user of the sprayed VPN exit mistypes her password on her own laptop meanwhile
    events = _population() + history("carol@corp.org", device="dev-carol")
    for i, u in enumerate(USERS):
        events.append(
            ev(150 + i * 0.5, u, "sign_in", "failure", net="evil", ua=UA_EVIL, reason="bad_password")
        )
    events.append(
        ev(152, "carol@corp.org", "sign_in", "failure", net="evil", device="dev-carol", reason="bad_password")
    )
    assert alerted_accounts(build(events), "cred_password_spray") == set(USERS)


def _sprayed(isp: dict, prefix: str) -> list[dict]:
    """A botnet guessing once at every user from its own address in ``prefix`` on one carrier."""
    return [
        ev(
            30 + i * 0.3,
            u,
            "sign_in",
            "failure",
            ua=UA_EVIL,
            src_ip=f"{prefix}{i}.99",
            reason="bad_password",
            **isp,
        )
        for i, u in enumerate(USERS)
    ]


def test_spray_does_not_list_a_locked_out_owner_retrying_behind_a_sprayed_network(build):
    # a user on a new phone keeps retrying a forgotten password from her home address, in the
    # same residential network a botnet sprays through that day: far more tries than a spray paces
    events = _population() + history("carol@corp.org", device="dev-carol")
    for i, u in enumerate(USERS):
        events.append(
            ev(150 + i * 0.5, u, "sign_in", "failure", net="evil", ua=UA_EVIL, reason="bad_password")
        )
    for k in range(8):
        events.append(
            ev(
                150 + k * 0.3,
                "carol@corp.org",
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL,
                device="dev-new-phone",
                reason="bad_password",
            )
        )
    assert alerted_accounts(build(events), "cred_password_spray") == set(USERS)


def test_spray_does_not_list_an_owner_whose_retries_mostly_fall_outside_the_network_grouping(build):
    # a botnet sprays many accounts from many addresses of one residential ISP; the day before,
    # carol signed in from her home address at that ISP, so only her first retry on a new tablet
    # looks foreign in the ISP-wide grouping (the address settles as hers minutes later): her
    # eight retries from one address are still far more than a spray paces
    isp = {"net": "home", "asn": 701, "asn_org": "VERIZON"}
    events = _population()
    events.append(ev(10, "carol@corp.org", "sign_in", ua="Office/16.0", src_ip="108.20.7.7", **isp))
    events += _sprayed(isp, "108.20.")
    for k in range(8):
        events.append(
            ev(
                33.9 + k * 0.2,
                "carol@corp.org",
                "sign_in",
                "failure",
                device="dev-tablet",
                src_ip="108.20.7.7",
                reason="bad_password",
                **isp,
            )
        )
    accounts = alerted_accounts(build(events), "cred_password_spray")
    assert set(USERS) <= accounts and "carol@corp.org" not in accounts


def test_spray_does_not_list_an_owner_whose_later_sign_in_vouches_for_some_retries(build):
    # a botnet sprays through the office's carrier; a user's old laptop fails ten times there and
    # she gets in on another laptop from the same carrier later: her last tries are vouched for,
    # but the first ones still add up to more than a spray paces
    isp = {"net": "home", "asn": 3356, "asn_org": "LEVEL3"}
    events = _population()
    events += _sprayed(isp, "4.6.")
    events += wrong_passwords(
        "emily@corp.org", 10, start=30, every=0.2, device="dev-old", src_ip="4.6.41.54", **isp
    )
    events.append(ev(32.7, "emily@corp.org", "sign_in", device="dev-new", src_ip="4.7.42.103", **isp))
    accounts = alerted_accounts(build(events), "cred_password_spray")
    assert set(USERS) <= accounts and "emily@corp.org" not in accounts


def test_spray_multi_source_fires_on_shared_user_agent(build):
    events = _population()
    for i, u in enumerate(USERS):  # each account from a different residential-proxy IP, same tool UA
        events.append(
            ev(
                150 + i,
                u,
                "sign_in",
                "failure",
                net="hotel_fr",
                ua=UA_EVIL,
                src_ip=f"90.{i}.1.1",
                asn=3000 + i,
                reason="bad_password",
            )
        )
    store = build(events)
    alerts = alerts_of(store, "cred_password_spray")
    assert any(a["user_agents"] == [UA_EVIL] and len(a["src_ips"]) == 15 for a in alerts)


def test_spray_quiet_on_office_users_mistyping(build):
    events = [e for u in USERS for e in history(u, days=5, net="office")]
    for i, u in enumerate(USERS):
        events.append(ev(100 + i * 0.1, u, "sign_in", "failure", net="office", reason="bad_password"))
        events.append(ev(100 + i * 0.1 + 0.01, u, "sign_in", net="office"))
    store = build(events)
    assert alerted_accounts(store, "cred_password_spray") == set()


def test_stuffing_fires_on_breach_list(build):
    events = _population()
    idents = USERS + [f"nobody{i}@corp.org" for i in range(10)]
    for i, u in enumerate(idents):
        missing = u.startswith("nobody")
        events.append(
            ev(
                150 + i * 0.05,
                u,
                "sign_in",
                "failure",
                net="evil",
                ua=UA_EVIL,
                reason="unknown_account" if missing else "bad_password",
                account_exists=False if missing else None,
            )
        )
    store = build(events)
    alerts = alerts_of(store, "cred_stuffing")
    assert alerts and set(idents) <= set(alerts[0]["accounts"])
    assert "10 non-existent" in alerts[0]["detail"]


def test_stuffing_quiet_on_forgotten_passwords_at_home(build):
    events = _population()
    for i, u in enumerate(USERS):
        events.append(ev(150 + i, u, "sign_in", "failure", src_ip=f"73.10.{i}.30", reason="bad_password"))
    store = build(events)
    assert alerted_accounts(store, "cred_stuffing") == set()


def test_brute_force_fires_on_many_guesses_from_new_network(build):
    events = history("alice@corp.org")
    events += wrong_passwords("alice@corp.org", 12, start=500, every=0.05, net="evil", ua=UA_EVIL)
    store = build(events)
    assert alerted_accounts(store, "cred_brute_force") == {"alice@corp.org"}


def test_brute_force_watchlist_threshold_is_lower(build):
    events = history("jane@campaign.org")
    events += wrong_passwords("jane@campaign.org", 6, start=500, every=0.05, net="evil", ua=UA_EVIL)
    directory = [{"account": "jane@campaign.org", "tenant": "campaign.org", "watchlist": True}]
    assert alerted_accounts(build(events), "cred_brute_force") == set()
    assert alerted_accounts(build(events, directory=directory), "cred_brute_force") == {"jane@campaign.org"}


def test_brute_force_quiet_on_forgotten_password(build):
    events = history("alice@corp.org")
    events += wrong_passwords("alice@corp.org", 15, start=500, every=0.02)
    assert alerted_accounts(build(events), "cred_brute_force") == set()


def test_brute_force_fires_from_several_residential_sources(build):
    # guesses rotate through home connections (residential proxies): no rented network, but
    # two sources the account never used
    events = history("alice@corp.org")
    events += [
        ev(
            500 + k * 0.05,
            "alice@corp.org",
            "sign_in",
            "failure",
            net="hotel_fr" if k % 2 else "home2",
            src_ip="90.80.70.60" if k % 2 else "81.2.69.160",
            asn=3215 if k % 2 else 20712,
            ua=UA_EVIL,
            reason="bad_password",
        )
        for k in range(12)
    ]
    assert alerted_accounts(build(events), "cred_brute_force") == {"alice@corp.org"}


def test_brute_force_quiet_on_stale_password_in_a_new_phones_mail_app(build):
    # a new phone on the carrier network retries an old password all morning
    events = history("alice@corp.org")
    events += wrong_passwords(
        "alice@corp.org",
        14,
        start=500,
        every=0.25,
        net="mobile",
        src_ip="172.56.9.9",
        asn=310,
        ua="Outlook-Android/2.2.32",
        device="dev-newphone",
    )
    # and a stale password behind a VPN on an account the store has no history for
    events += wrong_passwords("bob@corp.org", 14, start=500, every=0.25, net="vpn_nl")
    assert alerted_accounts(build(events), "cred_brute_force") == set()


def test_brute_force_quiet_on_stale_password_in_a_new_phone_behind_the_owners_vpn(build):
    # a new phone's mail app retries an old password through one commercial VPN exit
    events = history("mark@corp.org")
    events += wrong_passwords(
        "mark@corp.org", 12, start=500, every=0.25, net="vpn_nl", ua="Mail-iOS/12.4", device="dev-newphone"
    )
    assert alerted_accounts(build(events), "cred_brute_force") == set()


def test_brute_force_fires_from_a_rented_server_that_a_provider_also_labels_hosting(build):
    # the same guesses from a server: one source is enough on rented infrastructure
    events = history("mark@corp.org")
    events += wrong_passwords("mark@corp.org", 12, start=500, every=0.05, net="evil_de", ua=UA_EVIL)
    assert alerted_accounts(build(events), "cred_brute_force") == {"mark@corp.org"}


def test_success_after_spray_fires_on_the_guessed_account(build):
    events = _population()
    for i, u in enumerate(USERS):
        events.append(
            ev(150 + i * 0.1, u, "sign_in", "failure", net="evil", ua=UA_EVIL, reason="bad_password")
        )
    events.append(ev(152, USERS[7], "sign_in", net="evil", ua=UA_EVIL))
    store = build(events)
    alerts = alerts_of(store, "cred_success_after_attack")
    assert [a["accounts"] for a in alerts] == [[USERS[7]]]
    assert alerts[0]["src_ips"] == ["5.160.1.10"] and alerts[0]["score"] >= 75


@pytest.mark.parametrize("net", ["vpn_nl", "office"])
def test_success_after_attack_quiet_on_someone_signing_in_through_a_sprayed_address(build, net):
    # a sprayer fails on many accounts through a VPN exit (or an office line its proxy runs
    # through); another person signs in to her own account there with her browser: the address
    # links strangers, her client failed nowhere
    events = _population() + history("yasmin@corp.org")
    for i, u in enumerate(USERS):
        events.append(ev(150 + i * 0.1, u, "sign_in", "failure", net=net, ua=UA_EVIL, reason="bad_password"))
    mac = {"net": net, "ua": "Safari/Mac", "device": "dev-mac"}
    events += [
        ev(151.99, "yasmin@corp.org", "account_lookup", **mac),
        ev(152, "yasmin@corp.org", "sign_in", **mac),
    ]
    # the sprayer's own success through the same exit is still found
    events.append(ev(152.5, USERS[3], "sign_in", net=net, ua=UA_EVIL))
    assert alerted_accounts(build(events), "cred_success_after_attack") == {USERS[3]}


def test_success_after_attack_quiet_on_a_device_that_got_in_before_the_failures(build):
    # her new phone signed in this morning; her old tablet's mail app then fails all afternoon from
    # home, and the phone signs in again from the same hosted mail proxy as in the morning
    events = history("laura@corp.org")
    proxy = {"net": "evil_de", "ua": "Outlook-Android/2.2.32", "device": "dev-phone"}
    events.append(ev(481, "laura@corp.org", "sign_in", **proxy))
    events += wrong_passwords(
        "laura@corp.org",
        8,
        start=494,
        every=0.3,
        net="mobile",
        ua="Outlook-Android/2.2.32",
        device="dev-phone",
    )
    events.append(ev(496.5, "laura@corp.org", "sign_in", **proxy))
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()


def test_success_after_attack_quiet_on_mistyped_password(build):
    events = history("alice@corp.org")
    events += [
        ev(500, "alice@corp.org", "sign_in", "failure", reason="bad_password"),
        ev(500.01, "alice@corp.org", "sign_in", "failure", reason="bad_password"),
        ev(500.02, "alice@corp.org", "sign_in"),
    ]
    # a traveller mistypes twice at the hotel, then gets in
    events += history("bob@corp.org") + [
        ev(600, "bob@corp.org", "sign_in", "failure", net="hotel_fr", reason="bad_password"),
        ev(600.01, "bob@corp.org", "sign_in", "failure", net="hotel_fr", reason="bad_password"),
        ev(600.02, "bob@corp.org", "sign_in", net="hotel_fr"),
    ]
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()


def test_stuffing_quiet_on_vpn_user_mistyping_on_the_attackers_network(build):
    """A VPN user whose own laptop fails once on the stuffers' network, then gets in, is not listed."""
    events = _population() + history("alice@corp.org", device="dev-alice")
    idents = USERS + [f"nobody{i}@corp.org" for i in range(10)]
    for i, u in enumerate(idents):  # the breach list, replayed through many exits of one VPN network
        missing = u.startswith("nobody")
        events.append(
            ev(
                150 + i * 0.05,
                u,
                "sign_in",
                "failure",
                net="vpn_nl",
                ua=UA_EVIL,
                src_ip=f"185.65.{i % 5}.10",
                reason="unknown_account" if missing else "bad_password",
                account_exists=False if missing else None,
            )
        )
    exit0 = {"net": "vpn_nl", "src_ip": "185.65.0.10"}
    events.append(ev(150.3, "alice@corp.org", "sign_in", "failure", reason="bad_password", **exit0))
    # after the 2 h recovery window, from her usual laptop (the failed web attempt carried no device)
    events.append(ev(153.0, "alice@corp.org", "sign_in", device="dev-alice", **exit0))
    store = build(events)
    accounts = alerted_accounts(store, "cred_stuffing")
    assert set(idents) <= accounts
    assert "alice@corp.org" not in accounts


def test_success_after_attack_quiet_on_owners_known_phone_with_stale_password_on_vpn(build):
    events = history("alice@corp.org", device="dev-phone")
    events += wrong_passwords("alice@corp.org", 7, start=500, every=0.1, net="vpn_nl", device="dev-phone")
    events.append(ev(501, "alice@corp.org", "sign_in", net="vpn_nl", device="dev-phone"))
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()


def test_success_after_attack_quiet_on_locked_out_traveller_who_reset_the_password(build):
    # on a new laptop at a hotel abroad she fails seven times, gets locked, resets, and gets in
    events = history("alice@corp.org", device="dev-phone")
    hotel = {"net": "hotel_fr", "device": "dev-new-laptop"}
    events += wrong_passwords("alice@corp.org", 7, start=500, every=0.05, **hotel)
    events.append(ev(500.5, "alice@corp.org", "password_reset", **hotel))
    events.append(ev(500.6, "alice@corp.org", "sign_in", **hotel))
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()


def _slow_actor(net: str, *, ua: str = UA_EVIL, days: int = 6) -> list[dict]:
    """One guess a day at each of six users, from one address, over ``days`` days: below every
    per-day spray or brute-force threshold."""
    return [
        ev(120 + d * 24 + i * 0.3, u, "sign_in", "failure", net=net, ua=ua, reason="bad_password")
        for d in range(days)
        for i, u in enumerate(USERS[:6])
    ]


def test_campaign_source_attempts_fire_on_a_slow_actor_below_spray_thresholds(build):
    # newbie's first sign-in attempt fails from the same source: with no history nothing is
    # unfamiliar to it, and six accounts are too thin a record on their own
    newbie = ev(130, "newbie@corp.org", "sign_in", "failure", net="evil", ua=UA_EVIL, reason="bad_password")
    store = build(_population() + _slow_actor("evil") + [newbie])
    assert alerted_accounts(store, "cred_password_spray") == set()
    assert alerted_accounts(store, "cred_campaign_source_attempts") == set(USERS[:6])


def test_campaign_source_attempts_quiet_on_vpn_user_mistyping_through_the_actors_exit(build):
    """The actor works from a VPN exit; a user of that exit mistypes his password there on a new
    laptop. Only the actor's own client has a record on the exit."""
    events = _population() + _slow_actor("vpn_nl")
    events += wrong_passwords(USERS[10], 2, start=200, every=0.01, net="vpn_nl", ua=UA_PHONE, device="d-new")
    events.append(ev(200.05, USERS[10], "sign_in", net="vpn_nl", ua=UA_PHONE, device="d-new"))
    assert alerted_accounts(build(events), "cred_campaign_source_attempts") == set(USERS[:6])


def test_campaign_source_attempts_quiet_on_owners_typos_and_an_office_line(build):
    # everyone mistypes now and then, at home and at the office; nobody works through accounts
    events = _population()
    events += [e for i, u in enumerate(USERS) for e in wrong_passwords(u, 2, start=100 + i, every=0.01)]
    events += [
        ev(150 + i, u, "sign_in", "failure", net="office", reason="bad_password") for i, u in enumerate(USERS)
    ]
    events += [ev(150.1 + i, u, "sign_in", net="office") for i, u in enumerate(USERS)]
    assert alerted_accounts(build(events), "cred_campaign_source_attempts") == set()


def test_campaign_source_attempts_fire_on_an_actor_rotating_browser_strings_on_a_vpn_exit(build):
    """Each guess sends another browser string, so no one client has a record on the exit; the
    guesses never end in their account's sign-in there, so the exit's record counts."""
    events = _population()
    events += [
        ev(
            120 + d * 24 + i * 0.3,
            u,
            "sign_in",
            "failure",
            net="vpn_nl",
            ua=f"Browser/{d}.{i}",
            reason="bad_password",
        )
        for d in range(6)
        for i, u in enumerate(USERS[:6])
    ]
    assert alerted_accounts(build(events), "cred_campaign_source_attempts") == set(USERS[:6])


def _cloud_proxy_day(n: int = 10, typos: int = 6) -> list[dict]:
    """An organisation's cloud proxy (a rented address) on the store's first day: its staff sign
    in through it, and ``typos`` of them mistype once first."""
    events = []
    for i in range(n):
        u, dev = f"staff{i}@corp.org", f"dev-staff{i}"
        if i < typos:
            events.append(
                ev(9 + i * 0.3, u, "sign_in", "failure", net="sso_cloud", device=dev, reason="bad_password")
            )
        events.append(ev(9 + i * 0.3 + 0.01, u, "sign_in", net="sso_cloud", device=dev))
    return events


def test_success_after_attack_quiet_on_the_organisations_cloud_proxy_with_colleagues_typos(build):
    """Six colleagues mistyped through the proxy this morning; another signs in through it on a new
    laptop: the address served more accounts than failed on it, it guessed nothing."""
    events = _cloud_proxy_day() + [ev(12, "jason@corp.org", "sign_in", net="sso_cloud", device="dev-new")]
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()


def test_success_after_attack_fires_on_a_rented_server_that_fails_more_than_it_serves(build):
    """A rented server failing on six accounts (and signing one other in), then guessing the
    sixth's password: a guesser's record."""
    events = _population()
    events += [
        ev(150 + i * 0.1, u, "sign_in", "failure", net="vps_us", ua=UA_EVIL, reason="bad_password")
        for i, u in enumerate(USERS[:6])
    ]
    events.append(ev(149, USERS[12], "sign_in", net="vps_us", ua=UA_EVIL))
    events.append(ev(152, USERS[5], "sign_in", net="vps_us", ua=UA_EVIL))
    assert alerted_accounts(build(events), "cred_success_after_attack") == {USERS[5]}


def test_success_after_attack_quiet_on_a_carrier_subscriber_with_the_bots_phone_model(build):
    """A bot names a common phone model's browser string while failing on accounts through a
    carrier's NAT (no device ids logged); a subscriber with that model signs in: the string is
    many people's, and the client served more accounts on the address than it failed on (she
    mistyped once too)."""
    events = _population()
    nat = {"net": "mobile", "src_ip": "172.56.8.8", "ua": UA_PHONE, "device": None}
    events += [
        ev(150 + i * 0.1, u, "sign_in", "failure", reason="bad_password", **nat)
        for i, u in enumerate(USERS[:4])
    ]
    events.append(ev(151.9, USERS[9], "sign_in", "failure", reason="bad_password", **nat))  # her own typo
    events += [ev(140 + i * 0.1, f"sub{i}@corp.org", "sign_in", **nat) for i in range(8)]
    events.append(ev(152, USERS[9], "sign_in", country="MX", **nat))
    assert alerted_accounts(build(events), "cred_success_after_attack") == set()
