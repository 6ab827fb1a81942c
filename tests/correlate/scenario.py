"""A small hand-built world: benign users, a targeted state operation, a criminal botnet.

Everything is deterministic and tiny so that the expected campaigns, counts and the
attribution can be stated exactly in the tests.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from idwatch.schema import ALERT_SCHEMA, STORED_EVENT_SCHEMA
from idwatch.store import DIRECTORY_SCHEMA, Store

T0 = datetime(2019, 8, 3, tzinfo=UTC)  # a Saturday: Iranian work week starts
STATE_IPS = ["203.0.113.10", "203.0.113.11", "198.18.5.20"]
STATE_UA = "Mozilla/5.0 (Windows NT 6.1; rv:60.0) Gecko/20100101 Firefox/60.0"
SHARED_VPN = "198.51.100.7"
BOTNET_IPS = [f"100.64.{i // 200}.{i % 200 + 1}" for i in range(40)]
TRAP_IP = BOTNET_IPS[7]  # listed (wrongly, or re-used) in the state actor's intel
COMMON_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36"
FORWARD_TO = "drop.box@outlook-verify.net"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class World:
    """Collects events, alerts and directory rows, then writes them into a store."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.directory: list[dict[str, Any]] = []
        self.truth: dict[str, set[str]] = {"probed": set(), "attacked": set(), "compromised": set()}
        self.probe_events = 0
        self.second_attacked: set[str] = set()  # accounts of the second operator (two-operator world)
        self.second_compromised: set[str] = set()
        self._n = 0

    def ev(self, time: datetime, account: str, activity: str, outcome: str, src_ip: str, **kw: Any) -> str:
        self._n += 1
        eid = f"e{self._n:06d}"
        row = {name: None for name in STORED_EVENT_SCHEMA.names}
        row.update(
            time=time,
            event_id=eid,
            source="native",
            tenant=account.split("@")[1],
            account=account,
            activity=activity,
            outcome=outcome,
            src_ip=src_ip,
            user_agent=COMMON_UA,
            network_type="residential",
            asn=64600,
            ingested_at=time,
        )
        row.update(kw)
        row["raw"] = json.dumps({"event_id": eid})
        self.events.append(row)
        return eid

    def own_reset(self, t: datetime, account: str, src_ip: str, **kw: Any) -> str:
        """A person resetting a forgotten password by e-mail: start, verify, complete (minutes apart).

        Returns the event id of the start, the step detections flag.
        """
        steps = (("start", "pending", 0), ("verify", "success", 3), ("complete", "success", 4))
        eids = [
            self.ev(
                t + timedelta(minutes=m),
                account,
                "password_reset",
                outcome,
                src_ip,
                step=step,
                method="email",
                **kw,
            )
            for step, outcome, m in steps
        ]
        return eids[0]

    def alert(
        self, detection_id: str, stage: str, techniques: list[str], eids: list[str], score: int = 60
    ) -> None:
        evs = [e for e in self.events if e["event_id"] in set(eids)]
        self.alerts.append(
            {
                "alert_id": sha(detection_id + "|" + ",".join(sorted(eids)))[:16],
                "detection_id": detection_id,
                "title": detection_id,
                "stage": stage,
                "techniques": techniques,
                "severity": "high",
                "score": score,
                "first_seen": min(e["time"] for e in evs),
                "last_seen": max(e["time"] for e in evs),
                "tenant": None,
                "accounts": sorted({e["account"] for e in evs}),
                "src_ips": sorted({e["src_ip"] for e in evs}),
                "asns": sorted({e["asn"] for e in evs if e["asn"]}),
                "user_agents": sorted({e["user_agent"] for e in evs if e["user_agent"]}),
                "device_ids": [],
                "contact_hashes": [],
                "event_ids": sorted(eids),
                "detail": None,
                "created_at": T0,
            }
        )

    def write(self, root: Path, intel: list[dict[str, Any]] | None = None) -> Store:
        store = Store(root)
        store.append_events(pa.Table.from_pylist(self.events, schema=STORED_EVENT_SCHEMA))
        store.write_state_table("alerts", pa.Table.from_pylist(self.alerts, schema=ALERT_SCHEMA))
        store.write_directory(pa.Table.from_pylist(self.directory, schema=DIRECTORY_SCHEMA))
        for i, bundle in enumerate(intel or []):
            (store.intel_dir / f"{i}.json").write_text(json.dumps(bundle))
        return store


FIRST = ["john", "maryam", "peter", "sara", "ali", "laura", "omid", "nina", "david", "leila", "reza", "anna"]
LAST = ["smith", "rahimi", "jones", "karimi", "brown", "tehrani", "miller", "hosseini", "wilson", "ahmadi"]


def stages_of(campaign: dict[str, Any], account: str) -> set[str]:
    """The stages an account reached in one campaign (EVENTS.md section 5 object)."""
    return {a["stage"] for a in campaign["accounts"] if a["account"] == account}


def build_world(*, seed: int = 3, with_bridge: bool = True) -> World:
    rnd = random.Random(seed)
    w = World()
    tenants = ["campaign2020.org", "dailynews.com", "mail.example"]
    # ---- directory + benign history: 120 accounts, own IP each; 40 of them also use the VPN exit
    people = []
    for i in range(120):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        tenant = tenants[i % 3]
        account = f"{first}.{last}{i // 120 or ''}@{tenant}"
        category = {0: "political_campaign", 1: "journalist", 2: "consumer"}[i % 3]
        w.directory.append(
            {
                "account": account,
                "tenant": tenant,
                "display_name": f"{first} {last}",
                "category": category,
                "watchlist": category != "consumer",
                "home_country": "US",
                "contact_hash": sha(f"+1555{i:07d}"),
                "notify": "soc@" + tenant,
            }
        )
        people.append((account, first, last, category, i))
        own_ip = f"10.{i // 250}.{i % 250}.9"
        for day in range(0, 30, 3):
            w.ev(
                T0 - timedelta(days=40) + timedelta(days=day, hours=14),
                account,
                "sign_in",
                "success",
                own_ip,
                method="password",
                account_exists=True,
            )
        if i % 3 == 0:
            w.ev(
                T0 - timedelta(days=5, hours=i % 7),
                account,
                "sign_in",
                "success",
                SHARED_VPN,
                network_type="vpn",
                asn=64700,
                method="password",
                account_exists=True,
            )
    # ---- the state operation: 12 targets (political + journalists), name variants probed
    targets = [p for p in people if p[3] != "consumer"][:12]
    compromised = {targets[0][0], targets[5][0]}
    t = T0 + timedelta(hours=5)  # 08:30 in Tehran
    probe_ids: dict[str, list[str]] = {ip: [] for ip in STATE_IPS}
    for k, (account, first, last, _cat, _i) in enumerate(targets):
        ip = STATE_IPS[k % 3]
        variants = [
            account,
            f"{first}{last}@gmail.example",
            f"{first[0]}{last}@{account.split('@')[1]}",
            f"{first}.{last}@protonmail.example",
        ]
        for v in variants:
            exists = v == account
            eid = w.ev(
                t,
                v,
                "account_lookup",
                "success" if exists else "failure",
                ip,
                user_agent=STATE_UA,
                network_type="hosting",
                asn=64500,
                account_exists=exists,
                reason=None if exists else "unknown_account",
            )
            probe_ids[ip].append(eid)
            w.probe_events += 1
            w.truth["probed"].add(v)
            t += timedelta(minutes=rnd.randint(3, 20))
        t = _office(t)
    for ip in STATE_IPS:
        w.alert("recon.account_enumeration", "recon", ["T1589.002"], probe_ids[ip], 50)
    t = T0 + timedelta(days=7, hours=5)
    for k, (account, _first, _last, _cat, i) in enumerate(targets):
        ip = STATE_IPS[(k + 1) % 3]
        contact = sha(f"+1555{i:07d}")
        eids = [
            w.ev(
                t,
                account,
                "password_reset",
                "pending",
                ip,
                step="start",
                method="sms",
                user_agent=STATE_UA,
                network_type="hosting",
                asn=64500,
                account_exists=True,
                contact_hash=contact,
            ),
            w.ev(
                t + timedelta(minutes=2),
                account,
                "password_reset",
                "success" if account in compromised else "failure",
                ip,
                step="verify",
                method="sms",
                user_agent=STATE_UA,
                network_type="hosting",
                asn=64500,
                account_exists=True,
                contact_hash=contact,
                reason=None if account in compromised else "verification_failed",
            ),
        ]
        w.truth["attacked"].add(account)
        if account in compromised:
            eids.append(
                w.ev(
                    t + timedelta(minutes=4),
                    account,
                    "password_reset",
                    "success",
                    ip,
                    step="complete",
                    method="sms",
                    user_agent=STATE_UA,
                    network_type="hosting",
                    asn=64500,
                    account_exists=True,
                )
            )
            w.alert("recovery.reset_takeover", "compromise", ["T1586.002", "T1078"], eids, 90)
            rule = w.ev(
                t + timedelta(minutes=9),
                account,
                "mailbox_rule",
                "success",
                SHARED_VPN,
                user_agent=STATE_UA,
                network_type="vpn",
                asn=64700,
                detail=f"forward all to {FORWARD_TO}",
            )
            w.alert("persistence.forwarding_rule", "persistence", ["T1114.003"], [rule], 85)
            w.truth["compromised"].add(account)
        else:
            w.alert("recovery.reset_abuse", "recovery", ["T1586.002"], eids, 70)
        t = _office(t + timedelta(minutes=rnd.randint(20, 70)))
    # ---- the criminal botnet: 40 residential IPs, 2-3 password guesses each, random consumers, 24/7
    consumers = [p[0] for p in people if p[3] == "consumer"]
    bot_eids = []
    t = T0 + timedelta(days=2)
    for ip in BOTNET_IPS:
        for target in rnd.sample(consumers, rnd.randint(2, 3)):
            bot_eids.append(
                w.ev(
                    t,
                    target,
                    "sign_in",
                    "failure",
                    ip,
                    method="password",
                    reason="bad_password",
                    account_exists=True,
                    asn=64800 + rnd.randint(0, 9),
                )
            )
            t += timedelta(minutes=rnd.randint(17, 97))
    if with_bridge:  # one bot also hits a state target: it must not glue the two operators
        bot_eids.append(
            w.ev(
                t,
                targets[3][0],
                "sign_in",
                "failure",
                BOTNET_IPS[0],
                method="password",
                reason="bad_password",
                account_exists=True,
            )
        )
    w.alert("credential.distributed_stuffing", "credential", ["T1110.004"], bot_eids, 55)
    return w


def _office(t: datetime) -> datetime:
    """Keep the state operator inside 04:30-13:30 UTC (08:00-17:00 Tehran), Saturday..Wednesday."""
    while True:
        if t.hour >= 13 or t.hour < 4 or (t.hour == 4 and t.minute < 30) or t.isoweekday() in (4, 5):
            t = (t + timedelta(days=1)).replace(hour=4, minute=45)
        else:
            return t


def intel_bundle(
    *,
    state_ips: list[str],
    extra_ips: list[str] = (),
    techniques: bool = True,
    second_ips: list[str] = ("192.0.2.200", "192.0.2.201"),
) -> dict[str, Any]:
    """STIX 2.1 intel with the state actor (a minority of its infrastructure) and a decoy actor."""
    objs: list[dict[str, Any]] = []
    base = {
        "spec_version": "2.1",
        "created": "2019-01-01T00:00:00.000Z",
        "modified": "2019-01-01T00:00:00.000Z",
    }

    def add(obj: dict[str, Any]) -> str:
        objs.append({**base, **obj})
        return obj["id"]

    def rel(src: str, kind: str, dst: str) -> None:
        add(
            {
                "type": "relationship",
                "id": f"relationship--{sha(src + kind + dst)[:8]}-0000-4000-8000-000000000000",
                "relationship_type": kind,
                "source_ref": src,
                "target_ref": dst,
            }
        )

    def actor(
        name: str, aliases: list[str], country: str, ips: list[str], ttps: list[str], sectors: list[str]
    ) -> str:
        aid = add(
            {
                "type": "intrusion-set",
                "id": f"intrusion-set--{sha(name)[:8]}-0000-4000-8000-000000000000",
                "name": name,
                "aliases": aliases,
                "resource_level": "government",
            }
        )
        loc = add(
            {
                "type": "location",
                "id": f"location--{sha(country)[:8]}-0000-4000-8000-000000000000",
                "country": country,
            }
        )
        rel(aid, "originates-from", loc)
        for ip in ips:
            ind = add(
                {
                    "type": "indicator",
                    "id": f"indicator--{sha(name + ip)[:8]}-0000-4000-8000-000000000000",
                    "pattern": f"[ipv4-addr:value = '{ip}']",
                    "pattern_type": "stix",
                    "valid_from": "2019-01-01T00:00:00Z",
                    "confidence": 80,
                }
            )
            rel(ind, "indicates", aid)
        for tid in ttps if techniques else []:
            ap = add(
                {
                    "type": "attack-pattern",
                    "id": f"attack-pattern--{sha(tid)[:8]}-0000-4000-8000-000000000000",
                    "name": tid,
                    "external_references": [{"source_name": "mitre-attack", "external_id": tid}],
                }
            )
            rel(aid, "uses", ap)
        for sector in sectors:
            ident = add(
                {
                    "type": "identity",
                    "id": f"identity--{sha(name + sector)[:8]}-0000-4000-8000-000000000000",
                    "name": sector,
                    "identity_class": "class",
                    "sectors": [sector],
                }
            )
            rel(aid, "targets", ident)
        return aid

    actor(
        "Phosphorus",
        ["APT35", "Charming Kitten"],
        "IR",
        [*state_ips, *extra_ips],
        ["T1589.002", "T1586.002", "T1114.003"],
        ["government-national", "media"],
    )
    actor(
        "Strontium",
        ["APT28"],
        "RU",
        list(second_ips),
        ["T1110.003", "T1566.002"],
        ["government-national", "defense"],
    )
    return {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objs}


# ---------------------------------------------------------------- two state operators, shared Tor exits
TOR_EXITS = [f"185.220.101.{i}" for i in range(10, 18)]
SHARED_TOR = TOR_EXITS[:2]  # used by both operators
RU_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/77.0.3865.90 Safari/537.36"


def build_two_operator_world(*, seed: int = 5) -> World:
    """:func:`build_world` plus a second state operator that works through Tor exits.

    The first operator also uses two of those exits, both go after some of the same people,
    and benign users sign in through the exits too: the exits are weak, shared evidence.
    The second operator guesses passwords of government people on Moscow office hours,
    Monday to Friday, with its own browser.
    """
    rnd = random.Random(seed)
    w = build_world(seed=seed)
    people = [r["account"] for r in w.directory]
    # benign Tor users: each exit is used by a handful of people
    for k, exit_ip in enumerate(TOR_EXITS):
        for j in range(4):
            w.ev(
                T0 - timedelta(days=10 - j, hours=k),
                people[(7 * k + 13 * j) % len(people)],
                "sign_in",
                "success",
                exit_ip,
                network_type="tor",
                asn=64900,
                method="password",
                account_exists=True,
            )
    # the first operator probes through the two shared exits as well
    first_targets = sorted(w.truth["attacked"])
    t = T0 + timedelta(days=14, hours=5)
    for k, account in enumerate(first_targets[:6]):
        eid = w.ev(
            t,
            account,
            "account_lookup",
            "success",
            SHARED_TOR[k % 2],
            user_agent=STATE_UA,
            network_type="tor",
            asn=64900,
            account_exists=True,
        )
        w.alert("recon.account_enumeration", "recon", ["T1589.002"], [eid], 50)
        t = _office(t + timedelta(minutes=rnd.randint(10, 40)))
    # the second operator: government people (two of them also the first operator's targets)
    gov = [r["account"] for r in w.directory if r["category"] == "political_campaign"]
    targets = gov[-14:] + first_targets[:2]
    t = T0 + timedelta(days=2, hours=5)  # a Monday, 08:00 Moscow
    for k, account in enumerate(targets):
        eids = [  # a new circuit, often a new exit, for every guess
            w.ev(
                t + timedelta(minutes=3 * n),
                account,
                "sign_in",
                "failure",
                TOR_EXITS[(k + 3 * n) % len(TOR_EXITS)],
                method="password",
                reason="bad_password",
                user_agent=RU_UA,
                network_type="tor",
                asn=64900,
                account_exists=True,
            )
            for n in range(3)
        ]
        w.alert("credential.targeted_guessing", "credential", ["T1110.003"], eids, 60)
        w.second_attacked.add(account)
        t = _moscow_office(t + timedelta(minutes=rnd.randint(20, 60)))
    # the operator gets into one account (its browser, another exit) and plants a forwarding rule;
    # another target signs in through an exit herself, with her own browser: not a compromise
    victim, owner = gov[-1], gov[-2]
    t = _moscow_office(t + timedelta(days=1))
    got_in = w.ev(
        t,
        victim,
        "sign_in",
        "success",
        TOR_EXITS[6],
        method="password",
        user_agent=RU_UA,
        network_type="tor",
        asn=64900,
        account_exists=True,
    )
    rule = w.ev(
        t + timedelta(minutes=4),
        victim,
        "mailbox_rule",
        "success",
        TOR_EXITS[6],
        user_agent=RU_UA,
        network_type="tor",
        asn=64900,
        detail="forward all to inbox.archive@protonmail.example",
    )
    w.alert("compromise.signin_after_attack", "compromise", ["T1078"], [got_in, rule], 85)
    w.second_compromised.add(victim)
    own = w.ev(
        t + timedelta(hours=2),
        owner,
        "sign_in",
        "success",
        TOR_EXITS[5],
        method="password",
        network_type="tor",
        asn=64900,
        account_exists=True,
    )
    w.alert("compromise.signin_after_attack", "compromise", ["T1078"], [own], 70)  # a false positive
    return w


def _moscow_office(t: datetime) -> datetime:
    """Keep the second operator inside 05:00-14:00 UTC (08:00-17:00 Moscow), Monday..Friday."""
    while True:
        if t.hour >= 14 or t.hour < 5 or t.isoweekday() in (6, 7):
            t = (t + timedelta(days=1)).replace(hour=5, minute=10)
        else:
            return t


def correlated_world(root: Path) -> Any:
    """The hand-built world written as a store under ``root`` with its intel, and correlated."""
    from idwatch.correlate.pipeline import correlate

    store = build_world().write(root, [intel_bundle(state_ips=[STATE_IPS[1]], extra_ips=[TRAP_IP])])
    correlate(store)
    return store
