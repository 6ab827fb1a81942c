"""Pieces of one operation are reported as one campaign; pieces of different operators never are.

The failure this guards against: an operator that rents separate servers for separate target
lists leaves pieces the graph cannot link (no shared address, browser or target), each attributed
on its own, so the reader saw one intrusion set's operation as several campaigns with split
counts. Two pieces are folded only when the same intrusion set carries both verdicts, their
targets were picked by one policy and they keep the same hours; a different actor, a different
targeting policy or different working hours keep them apart.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from correlate_scenario import STATE_IPS, T0, World, build_world, intel_bundle, sha

from idwatch.correlate import operations
from idwatch.correlate.features import CampaignProfile

PIECE_IPS = ["198.19.7.1", "198.19.7.2"]
PIECE_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:68.0) Gecko/20100101 Firefox/68.0"


def _tehran_office(t: datetime) -> datetime:
    """Inside 05:00-13:00 UTC, Saturday..Wednesday (the first piece's hours, see scenario.py)."""
    while t.hour >= 13 or t.hour < 5 or t.isoweekday() in (4, 5):
        t = (t + timedelta(days=1)).replace(hour=5, minute=10)
    return t


def _night_shift(t: datetime) -> datetime:
    """Inside 18:00-23:00 UTC, every day: an operator in another time zone or on another shift."""
    while t.hour < 18 or t.hour >= 23:
        t = (t + timedelta(days=1) if t.hour >= 23 else t).replace(hour=18, minute=10)
    return t


def add_second_piece(w: World, *, night: bool = False) -> set[str]:
    """A second server pair of a state operator: its own targets (high-risk people the first
    piece never touched), its own browser, AS and network. Nothing links it to the first piece.

    Returns the accounts it attacked.
    """
    hours = _night_shift if night else _tehran_office
    listed = {a for a in w.truth["attacked"]}
    targets = [r for r in w.directory if r["category"] != "consumer" and r["account"] not in listed][:8]
    common = {"user_agent": PIECE_UA, "network_type": "hosting", "asn": 64520}
    t = hours(T0 + timedelta(days=3, hours=5))
    probes: dict[str, list[str]] = {ip: [] for ip in PIECE_IPS}
    for k, row in enumerate(targets):
        ip, (local, domain) = PIECE_IPS[k % 2], row["account"].split("@")
        for variant in (
            row["account"],
            f"{local}@gmail.example",
            f"{local}@protonmail.example",
            f"x{local}@{domain}",
        ):
            exists = variant == row["account"]
            probes[ip].append(
                w.ev(
                    t,
                    variant,
                    "account_lookup",
                    "success" if exists else "failure",
                    ip,
                    account_exists=exists,
                    reason=None if exists else "unknown_account",
                    **common,
                )
            )
            t = hours(t + timedelta(minutes=11))
    for ip in PIECE_IPS:
        w.alert("recon.account_enumeration", "recon", ["T1589.002"], probes[ip], 50)
    attacked = set()
    t = hours(T0 + timedelta(days=9, hours=5))
    for k, row in enumerate(targets):
        ip = PIECE_IPS[(k + 1) % 2]
        eids = [
            w.ev(
                t,
                row["account"],
                "password_reset",
                "pending",
                ip,
                step="start",
                method="sms",
                account_exists=True,
                **common,
            ),
            w.ev(
                t + timedelta(minutes=2),
                row["account"],
                "password_reset",
                "failure",
                ip,
                step="verify",
                method="sms",
                reason="verification_failed",
                account_exists=True,
                **common,
            ),
        ]
        w.alert("recovery.reset_abuse", "recovery", ["T1586.002"], eids, 70)
        attacked.add(row["account"])
        t = hours(t + timedelta(minutes=47))
    return attacked


def _with_techniques(bundle: dict, actor: str) -> dict:
    """The bundle with ``actor`` also known for the first actor's reconnaissance and reset abuse
    (so that the second piece's verdict rests on the same kinds of evidence as the first's)."""
    objs = bundle["objects"]
    aid = next(o["id"] for o in objs if o["type"] == "intrusion-set" and o["name"] == actor)
    for o in [o for o in objs if o["type"] == "attack-pattern" and o["name"] in ("T1589.002", "T1586.002")]:
        rid = f"relationship--{sha(aid + o['id'])[:8]}-0000-4000-8000-000000000000"
        objs.append(
            {
                **{k: o[k] for k in ("spec_version", "created", "modified")},
                "type": "relationship",
                "id": rid,
                "relationship_type": "uses",
                "source_ref": aid,
                "target_ref": o["id"],
            }
        )
    return bundle


def _correlated(
    tmp_path_factory, monkeypatch_folds: int | None, *, night: bool = False, actor: str = "Phosphorus"
):
    from idwatch.correlate import pipeline

    w = build_world()
    second = add_second_piece(w, night=night)
    if actor == "Phosphorus":
        intel = intel_bundle(state_ips=[STATE_IPS[1], PIECE_IPS[0]])
    else:
        intel = _with_techniques(intel_bundle(state_ips=[STATE_IPS[1]], second_ips=PIECE_IPS), "Strontium")
    store = w.write(tmp_path_factory.mktemp(f"ops-{night}-{actor}-{monkeypatch_folds}"), [intel])
    saved = pipeline.MAX_FOLDS
    if monkeypatch_folds is not None:
        pipeline.MAX_FOLDS = monkeypatch_folds
    try:
        pipeline.correlate(store)
    finally:
        pipeline.MAX_FOLDS = saved
    return w, second, store.read_state_json("campaigns"), store.read_state_json("headline")


def _holding(campaigns, ip):
    return [c for c in campaigns if ip in c["infrastructure"]["ips"]]


def _attacked(camp) -> set[str]:
    return {a["account"] for a in camp["accounts"] if a["stage"] != "probed"}


@pytest.fixture(scope="module")
def unfolded(tmp_path_factory):
    """The same world with the fold switched off: the graph alone gives two attributed pieces."""
    return _correlated(tmp_path_factory, 0)


@pytest.fixture(scope="module")
def folded(tmp_path_factory):
    return _correlated(tmp_path_factory, None)


def test_without_the_fold_the_graph_gives_two_pieces_of_one_actor(unfolded):
    _w, _second, campaigns, _headline = unfolded
    first, second = _holding(campaigns, STATE_IPS[0]), _holding(campaigns, PIECE_IPS[1])
    assert len(first) == 1 and len(second) == 1 and first[0]["id"] != second[0]["id"]
    assert first[0]["actor"]["name"] == second[0]["actor"]["name"] == "Phosphorus"


def test_two_pieces_of_one_actor_with_one_policy_and_hours_are_one_campaign(folded):
    w, second, campaigns, _headline = folded
    held = _holding(campaigns, STATE_IPS[0])
    assert len(held) == 1
    camp = held[0]
    assert set(STATE_IPS) | set(PIECE_IPS) <= set(camp["infrastructure"]["ips"])
    assert camp["actor"]["name"] == "Phosphorus"
    assert _attacked(camp) == w.truth["attacked"] | second


def test_the_folded_campaign_counts_are_the_sum_of_its_pieces(folded, unfolded):
    _w, _second, campaigns, headline = folded
    _w0, _s0, pieces, headline0 = unfolded
    camp = _holding(campaigns, STATE_IPS[0])[0]
    parts = _holding(pieces, STATE_IPS[0]) + _holding(pieces, PIECE_IPS[0])
    for key in ("probes", "accounts_probed", "accounts_attacked", "accounts_compromised"):
        assert camp["counts"][key] == sum(p["counts"][key] for p in parts), key  # disjoint targets
    assert len(camp["accounts"]) == sum(len(p["accounts"]) for p in parts)
    assert headline["total"] == headline0["total"]  # folding moves no account in or out
    for key, total in headline["total"].items():
        assert (
            total
            == headline["campaign_sum"][key] - headline["shared"][key] + headline["outside_campaigns"][key]
        )


def test_pieces_that_keep_different_hours_stay_two_campaigns(tmp_path_factory):
    _w, _second, campaigns, _headline = _correlated(tmp_path_factory, None, night=True)
    first, second = _holding(campaigns, STATE_IPS[0]), _holding(campaigns, PIECE_IPS[1])
    assert len(first) == 1 and len(second) == 1 and first[0]["id"] != second[0]["id"]
    assert first[0]["actor"]["name"] == second[0]["actor"]["name"] == "Phosphorus"


def test_pieces_of_two_intrusion_sets_are_never_one_campaign(tmp_path_factory):
    _w, _second, campaigns, _headline = _correlated(tmp_path_factory, None, actor="Strontium")
    first, second = _holding(campaigns, STATE_IPS[0]), _holding(campaigns, PIECE_IPS[1])
    assert len(first) == 1 and len(second) == 1 and first[0]["id"] != second[0]["id"]
    assert first[0]["actor"]["name"] == "Phosphorus"
    assert second[0]["actor"]["name"] == "Strontium"


# ------------------------------------------------------------------ the fold on campaign profiles


def _profile(cid: str, high: int, other: int, hours: range, events_per_hour: int = 6) -> CampaignProfile:
    """A campaign's profile: its targets by category and its events on these UTC hours."""
    prof = CampaignProfile(id=cid)
    prof.categories = Counter({"journalist": high, "consumer": other})
    prof.how = Counter({(1 + h % 5, h): events_per_hour for h in hours})
    return prof


def _piece(prof: CampaignProfile, actor: str = "intrusion-set--a") -> operations.Piece:
    return operations.Piece([prof.id], actor, operations.targets_of(prof), operations.hours_of(prof))


def test_profiles_of_one_policy_and_one_shift_fold():
    a, b = _profile("a", 18, 2, range(5, 13)), _profile("b", 9, 1, range(6, 13))
    assert operations.fold([_piece(a), _piece(b)]) == [["a", "b"]]


def test_a_target_list_and_a_spray_over_a_directory_stay_apart():
    # 18 of 20 high-risk against 30 of 300: one intrusion set's name on both, two policies
    a, b = _profile("a", 18, 2, range(5, 13)), _profile("b", 30, 270, range(5, 13))
    assert sorted(operations.fold([_piece(a), _piece(b)])) == [["a"], ["b"]]


def test_shifts_eight_hours_apart_stay_apart():
    a, b = _profile("a", 18, 2, range(5, 13)), _profile("b", 9, 1, range(13, 21))
    assert sorted(operations.fold([_piece(a), _piece(b)])) == [["a"], ["b"]]


def test_a_thin_piece_has_too_few_events_to_tell_its_hours_apart():
    a, b = _profile("a", 18, 2, range(5, 13)), _profile("b", 9, 1, range(13, 16), events_per_hour=3)
    assert operations.fold([_piece(a), _piece(b)]) == [["a", "b"]]


def test_two_intrusion_sets_never_fold():
    a, b = _profile("a", 18, 2, range(5, 13)), _profile("b", 9, 1, range(5, 13))
    pieces = [_piece(a, "intrusion-set--a"), _piece(b, "intrusion-set--b")]
    assert sorted(operations.fold(pieces)) == [["a"], ["b"]]


def test_a_piece_is_compared_with_the_group_folded_so_far():
    # a, b and c are one operation; d's hours differ from the group's, so d starts its own
    # group and stays alone
    a, b = _profile("a", 18, 2, range(5, 13)), _profile("b", 9, 1, range(5, 12))
    c, d = _profile("c", 5, 0, range(6, 13)), _profile("d", 6, 1, range(16, 24))
    groups = sorted(operations.fold([_piece(p) for p in (a, b, c, d)]))
    assert groups == [["a", "b", "c"], ["d"]]


def test_hours_need_both_the_test_and_the_effect_size():
    day = Counter({h: 100 for h in range(5, 13)})
    shifted = Counter({h: 100 for h in range(6, 14)})  # one hour later: significant, but 1/8 moved
    assert not operations.hours_differ(day, shifted)
    assert operations.hours_differ(day, Counter({h: 100 for h in range(12, 20)}))
