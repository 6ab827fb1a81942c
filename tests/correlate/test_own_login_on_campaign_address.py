"""Typing one's own name on the sign-in page is a login, not a probe.

A person whose home router is also a bot (or who shares a line with one) looks up her own
identifier and signs in, in one session, from an address the botnet's campaign holds as its own.
The look-up begins her login: it is no attempt of the campaign's, so her sign-in is no
takeover. (Found on a development simulation: an account with no alert marked compromised.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import BOTNET_IPS, STATE_IPS, T0, build_world, intel_bundle

OWNER = "quinn.adair@mail.example"


@pytest.fixture(scope="module")
def correlated(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    w = build_world()
    w.directory.append(
        {
            **w.directory[0],
            "account": OWNER,
            "tenant": "mail.example",
            "display_name": OWNER,
            "contact_hash": None,
        }
    )
    t = T0 + timedelta(days=3, hours=18)
    for dt, activity in ((0, "account_lookup"), (3, "sign_in")):
        w.ev(
            t + timedelta(seconds=dt),
            OWNER,
            activity,
            "success",
            BOTNET_IPS[0],
            device_id="dev-quinn",
            session_id="quinn-1",
            method="password" if activity == "sign_in" else None,
            account_exists=True,
        )
    store = w.write(tmp_path_factory.mktemp("own-login"), [intel_bundle(state_ips=[STATE_IPS[1]])])
    correlate(store)
    return store.read_state_json("campaigns"), store.read_state_json("accounts")


def test_the_bots_address_is_still_the_campaigns(correlated):
    campaigns, _accounts = correlated
    assert any(BOTNET_IPS[0] in c["infrastructure"]["ips"] for c in campaigns)


def test_her_own_look_up_and_sign_in_are_no_attempt_and_no_takeover(correlated):
    campaigns, accounts = correlated
    for camp in campaigns:
        assert OWNER not in {a["account"] for a in camp["accounts"]}, camp["id"]
    assert all(a["status"] != "compromised" for a in accounts if a["account"] == OWNER)
