"""A success the account's own history explains is the owner's, not the operator's.

The failures this guards against: a person on a commercial VPN gets a new exit address at every
connection. The state operator rents exits of the same provider, so some of hers are addresses of
the campaign; she mistypes her password on one, types it right twenty seconds later, and a week
later signs in through another - and the campaign counted her as attacked and compromised,
because the browser it linked by is the common one she and half the world use. Likewise a target
of a password spray who signs in from a data centre with her new laptop (which then signs in from
her office): a takeover alert on it is a false alarm, not a takeover. A real takeover (the
operator's own device, carried to several victims, from its exit) still counts, and so does one
where the logs show no attempt before it (the password was phished): the device is the attacker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from correlate_scenario import STATE_IPS, T0, build_world, intel_bundle, sha, stages_of

VPN_BLOCK = "198.51.100"  # a commercial VPN provider's block: the operator's exits and hers
OPERATOR_EXITS = [f"{VPN_BLOCK}.30", f"{VPN_BLOCK}.31", f"{VPN_BLOCK}.32"]
OPERATOR_DEVICE = "dev-op-91c2"
VPN_USER = "nora.vance@quiet-corp.example"
NEW_LAPTOP_USER = "ines.hart@quiet-corp.example"
DATA_CENTRE_IP = "192.0.2.150"  # her VPN's data-centre exit, new to her
OFFICE_IP = "10.77.0.9"


def _person(w, account: str, n: int) -> None:
    w.directory.append(
        {
            "account": account,
            "tenant": account.split("@")[1],
            "display_name": account,
            "category": "journalist",
            "watchlist": True,
            "home_country": "US",
            "contact_hash": sha(f"+1555888{n:04d}"),
            "notify": "soc@quiet-corp.example",
        }
    )


def build_owner_world():
    w = build_world()
    kw = {"account_exists": True, "method": "password"}
    vpn = {"network_type": "vpn", "asn": 64700}
    targets = sorted(w.truth["attacked"] - w.truth["compromised"])
    taken = targets[0]
    _person(w, VPN_USER, 1)
    _person(w, NEW_LAPTOP_USER, 2)
    # her own history: every sign-in through a fresh exit of her VPN provider, her usual browser
    for day in range(0, 30, 2):
        w.ev(
            T0 - timedelta(days=35 - day),
            VPN_USER,
            "sign_in",
            "success",
            f"{VPN_BLOCK}.{60 + day}",
            **vpn,
            **kw,
        )
    for day in range(0, 30, 3):  # the other one signs in from her office with her phone
        w.ev(
            T0 - timedelta(days=35 - day),
            NEW_LAPTOP_USER,
            "sign_in",
            "success",
            OFFICE_IP,
            device_id="phone",
            **kw,
        )
    # the operator, through exits of the same provider, with a common browser and its own device:
    # a lookup of her, three guesses on each of several targets (her colleague among them)
    t = T0 + timedelta(days=9, hours=6)
    eids = [
        w.ev(
            t,
            VPN_USER,
            "account_lookup",
            "success",
            OPERATOR_EXITS[0],
            device_id=OPERATOR_DEVICE,
            **vpn,
            **kw,
        )
    ]
    for k, acc in enumerate([*targets[1:5], NEW_LAPTOP_USER, taken]):
        for guess in range(3):
            eids.append(
                w.ev(
                    t + timedelta(minutes=10 * k + guess),
                    acc,
                    "sign_in",
                    "failure",
                    OPERATOR_EXITS[k % 3],
                    reason="bad_password",
                    device_id=OPERATOR_DEVICE,
                    **vpn,
                    **kw,
                )
            )
    w.alert("credential.password_spray", "credential", ["T1110.003"], eids, 60)
    # ... and gets into one target from its exit, with its device
    got = w.ev(
        t + timedelta(days=1),
        taken,
        "sign_in",
        "success",
        OPERATOR_EXITS[2],
        device_id=OPERATOR_DEVICE,
        **vpn,
        **kw,
    )
    w.alert("compromise.signin_after_attack", "compromise", ["T1078"], [got], 75)
    w.taken = taken
    # ... and, with its device, into an account it never tried in these logs (a phished password),
    # from a residential proxy address used once
    phished = "omid.rad@quiet-corp.example"
    _person(w, phished, 3)
    for day in range(0, 30, 3):
        w.ev(
            T0 - timedelta(days=35 - day),
            phished,
            "sign_in",
            "success",
            "10.78.0.9",
            device_id="his-pc",
            **kw,
        )
    w.ev(t + timedelta(days=2), phished, "sign_in", "success", "100.73.8.8", device_id=OPERATOR_DEVICE, **kw)
    w.phished = phished
    # she mistypes her password on one of the operator's exits, then types it right, then a week
    # later signs in through another of them: her network, her browser
    t = T0 + timedelta(days=11, hours=20)
    w.ev(
        t,
        VPN_USER,
        "sign_in",
        "failure",
        OPERATOR_EXITS[1],
        reason="bad_password",
        session_id="s1",
        **vpn,
        **kw,
    )
    w.ev(
        t + timedelta(seconds=20),
        VPN_USER,
        "sign_in",
        "success",
        OPERATOR_EXITS[1],
        session_id="s1",
        **vpn,
        **kw,
    )
    w.ev(t + timedelta(days=7), VPN_USER, "sign_in", "success", OPERATOR_EXITS[0], **vpn, **kw)
    # the sprayed colleague signs in with a new laptop through a data centre, then from her office
    t = T0 + timedelta(days=12, hours=15)
    own = w.ev(t, NEW_LAPTOP_USER, "sign_in", "success", DATA_CENTRE_IP, device_id="laptop-new",
               network_type="hosting", asn=65100, **kw)  # fmt: skip
    w.alert("compromise.signin_after_attack", "compromise", ["T1078"], [own], 70)
    w.ev(
        t + timedelta(days=2), NEW_LAPTOP_USER, "sign_in", "success", OFFICE_IP, device_id="laptop-new", **kw
    )
    return w


@pytest.fixture(scope="module")
def owner_world(tmp_path_factory):
    from idwatch.correlate.pipeline import correlate

    world = build_owner_world()
    store = world.write(tmp_path_factory.mktemp("owner"), [intel_bundle(state_ips=[STATE_IPS[1]])])
    correlate(store)
    return world, store.read_state_json("campaigns"), store.read_state_json("accounts")


def _status(accounts, account: str) -> set[str]:
    return {a["status"] for a in accounts if a["account"] == account}


def test_the_operators_exits_and_device_are_one_campaign_with_its_takeover(owner_world):
    world, campaigns, _accounts = owner_world
    holding = [c for c in campaigns if OPERATOR_EXITS[2] in c["infrastructure"]["ips"]]
    assert len(holding) == 1
    assert "compromised" in stages_of(holding[0], world.taken)


def test_the_operators_device_getting_in_without_an_attempt_in_the_logs_is_its_takeover(owner_world):
    world, campaigns, _accounts = owner_world
    holding = next(c for c in campaigns if OPERATOR_EXITS[2] in c["infrastructure"]["ips"])
    assert "compromised" in stages_of(holding, world.phished)
    assert "100.73.8.8" not in holding["infrastructure"]["ips"]


def test_a_vpn_user_mistyping_on_the_operators_exit_is_not_attacked_nor_taken_over(owner_world):
    _world, campaigns, accounts = owner_world
    for camp in campaigns:
        assert stages_of(camp, VPN_USER) <= {"probed"}, camp["id"]  # the operator did look her up
    assert _status(accounts, VPN_USER) <= {"probed"}


def test_a_new_laptop_through_a_data_centre_after_a_spray_is_no_takeover(owner_world):
    _world, campaigns, accounts = owner_world
    for camp in campaigns:
        assert "compromised" not in stages_of(camp, NEW_LAPTOP_USER), camp["id"]
    assert _status(accounts, NEW_LAPTOP_USER) == {"attacked"}
