"""A realistic STIX 2.1 intel bundle for a simulated run.

It holds the real ATT&CK intrusion sets of the scenario's actors and of a few decoy groups
(verbatim objects shipped in ``data/attack_objects.json``), indicators that cover only a minority
of each actor's infrastructure (as published intel does), ``uses`` relationships to the ATT&CK
techniques the actor employs, ``targets`` relationships to sector identities, and the noise that
real feeds carry: an indicator on a commercial VPN exit that benign users share, an ASN-wide
indicator, historic phishing domains that never appear in sign-in logs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from idwatch.simulate.iptable import IpTable
from idwatch.simulate.networks import BY_KEY, HOSTING_KEYS, NETWORKS
from idwatch.simulate.scenario import Scenario

NAMESPACE = uuid.UUID("6f1f6c1e-4b7a-4d8e-9a57-6b9f3c1d2e10")
SECTOR_OF_CATEGORY = {
    "political_campaign": ("Political campaigns", ["government-national"]),
    "government": ("Government officials", ["government-national"]),
    "journalist": ("Journalists and media", ["communications"]),
    "diaspora": ("Diaspora communities", ["non-profit"]),
    "ngo": ("Non-governmental organizations", ["non-profit"]),
    "academic": ("Academia", ["education"]),
    "business": ("Businesses", ["commercial"]),
    "consumer": ("Consumers", ["commercial"]),
}
DEFAULT_TECHNIQUES = ("T1589.002", "T1110.003", "T1078")


@cache
def attack_objects() -> dict[str, Any]:
    text = (resources.files("idwatch.simulate") / "data" / "attack_objects.json").read_text("utf-8")
    return json.loads(text)


def _external_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", []):
        if ref.get("source_name") == "mitre-attack":
            return ref.get("external_id")
    return None


def find_intrusion_set(key: str) -> dict[str, Any]:
    """The intrusion set whose ATT&CK id, name or alias is ``key`` (case-insensitive)."""
    k = key.lower()
    for o in attack_objects()["objects"]:
        if o["type"] != "intrusion-set":
            continue
        names = [o["name"], *(o.get("aliases") or [])]
        if k == (_external_id(o) or "").lower() or k in (n.lower() for n in names):
            return o
    raise KeyError(f"no intrusion set {key!r} in the shipped ATT&CK objects")


def _attack_pattern(tid: str) -> dict[str, Any] | None:
    for o in attack_objects()["objects"]:
        if o["type"] == "attack-pattern" and _external_id(o) == tid:
            return o
    return None


class _Ids:
    def __init__(self, scenario: str, seed: int):
        self.base = f"{scenario}/{seed}"

    def __call__(self, kind: str, *key: object) -> str:
        return f"{kind}--{uuid.uuid5(NAMESPACE, self.base + '/' + kind + '/' + '/'.join(map(str, key)))}"


def _ts(d: dt.date, hour: int = 0) -> str:
    return f"{d.isoformat()}T{hour:02d}:00:00.000Z"


def _pattern(value: str) -> str:
    if ":" in value:
        return f"[ipv6-addr:value = '{value}']"
    return f"[ipv4-addr:value = '{value}']"


def build_bundle(sc: Scenario, seed: int, ipt: IpTable, actors: list[Any], rng: np.random.Generator) -> dict:
    """The bundle as a dict; ``actors`` are the run's StateActor objects."""
    ids = _Ids(sc.name, seed)
    published = sc.end + dt.timedelta(days=14)
    created = _ts(published, 9)
    objects: dict[str, dict[str, Any]] = {}
    for o in attack_objects()["objects"]:
        if o["type"] in ("identity", "marking-definition"):
            objects[o["id"]] = o
    producer = {
        "type": "identity",
        "spec_version": "2.1",
        "id": ids("identity", "producer"),
        "created": created,
        "modified": created,
        "name": "Simulated provider threat intelligence",
        "identity_class": "organization",
    }
    objects[producer["id"]] = producer

    def indicator(value: str, pattern: str, iset: dict, valid: dt.date, name: str, conf: int) -> None:
        ind = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": ids("indicator", iset["id"], value),
            "created": created,
            "modified": created,
            "created_by_ref": producer["id"],
            "name": name,
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": _ts(valid),
            "confidence": conf,
        }
        objects[ind["id"]] = ind
        rel = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": ids("relationship", ind["id"], "indicates"),
            "created": created,
            "modified": created,
            "created_by_ref": producer["id"],
            "relationship_type": "indicates",
            "source_ref": ind["id"],
            "target_ref": iset["id"],
        }
        objects[rel["id"]] = rel

    def relate(src: str, kind: str, dst: str) -> None:
        rel = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": ids("relationship", src, kind, dst),
            "created": created,
            "modified": created,
            "created_by_ref": producer["id"],
            "relationship_type": kind,
            "source_ref": src,
            "target_ref": dst,
        }
        objects[rel["id"]] = rel

    def sector(category: str) -> str:
        name, sectors = SECTOR_OF_CATEGORY.get(category, (category.replace("_", " ").title(), ["commercial"]))
        ident = {
            "type": "identity",
            "spec_version": "2.1",
            "id": ids("identity", "sector", category),
            "created": created,
            "modified": created,
            "name": name,
            "identity_class": "class",
            "sectors": sectors,
        }
        objects[ident["id"]] = ident
        return ident["id"]

    domains = attack_objects().get("public_domains", {})
    for actor in actors:
        cfg = actor.cfg
        iset = find_intrusion_set(cfg.intrusion_set)
        objects[iset["id"]] = iset
        valid = cfg.start - dt.timedelta(days=30)
        inf = actor.infra
        own = [int(i) for i in inf.own]
        every = sorted({int(i) for i in inf.ips})
        k = int(round(len(every) * cfg.infrastructure.intel_coverage))
        for i in rng.choice(every, size=min(k, len(every)), replace=False) if k else []:
            ip = ipt.ips[int(i)]
            kind = "exit node" if int(i) not in own else "infrastructure"
            indicator(ip, _pattern(ip), iset, valid, f"{iset['name']} {kind} {ip}", int(rng.integers(50, 90)))
        shared = [i for i in every if i not in set(own)]
        if shared:  # noise: a commercial VPN exit the actor used, shared with everyday VPN users
            ip = ipt.ips[shared[0]]
            indicator(ip, _pattern(ip), iset, valid, f"{iset['name']} VPN exit {ip}", 40)
        asns = sorted({BY_KEY[k].asn for k in cfg.infrastructure.networks if BY_KEY[k].kind == "hosting"})
        if asns:  # noise: an ASN-wide indicator (a whole hosting provider)
            asn = asns[int(rng.integers(0, len(asns)))]
            indicator(
                f"AS{asn}",
                f"[autonomous-system:number = {asn}]",
                iset,
                valid,
                f"{iset['name']} hosting provider AS{asn}",
                20,
            )
        for d in domains.get(_external_id(iset) or "", [])[:6]:
            indicator(
                d, f"[domain-name:value = '{d}']", iset, valid, f"{iset['name']} phishing domain {d}", 80
            )
        for tid in cfg.techniques or DEFAULT_TECHNIQUES:
            ap = _attack_pattern(tid)
            if ap:
                objects[ap["id"]] = ap
                relate(iset["id"], "uses", ap["id"])
        for cat in sorted({t.category for t in cfg.targets}):
            relate(iset["id"], "targets", sector(cat))
    hosting = [n for n in NETWORKS if n.key in HOSTING_KEYS]
    for decoy in sc.decoys:
        iset = find_intrusion_set(decoy.intrusion_set)
        objects[iset["id"]] = iset
        valid = sc.start - dt.timedelta(days=60)
        for j in range(decoy.indicators):
            net = hosting[int(rng.integers(0, len(hosting)))]
            start = ipt.add(rng, net, 1)  # addresses never seen in the data
            ip = ipt.ips[start]
            indicator(
                ip,
                _pattern(ip),
                iset,
                valid,
                f"{iset['name']} infrastructure {ip}",
                int(rng.integers(40, 90)),
            )
            del j
        for d in domains.get(_external_id(iset) or "", [])[:4]:
            indicator(
                d, f"[domain-name:value = '{d}']", iset, valid, f"{iset['name']} phishing domain {d}", 80
            )
        for tid in ("T1598.003", "T1566.002", "T1589.002"):
            ap = _attack_pattern(tid)
            if ap:
                objects[ap["id"]] = ap
                relate(iset["id"], "uses", ap["id"])
    return {"type": "bundle", "id": ids("bundle", "intel"), "objects": list(objects.values())}
