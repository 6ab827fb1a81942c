"""Actor profiles: what the imported STIX 2.1 intel says about each intrusion set.

Attribution compares a campaign with these profiles, so this module turns the graph of
STIX objects (intrusion sets, indicators, attack patterns, targeted identities, locations,
threat actors) into one flat profile per intrusion set. Intrusion sets that appear in
several bundles (the ATT&CK reference and a provider's own intel) are merged by shared
names, so evidence is never split across two copies of the same actor.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

#: Offset of each country's working clock from UTC (hours), for the working-hours evidence.
COUNTRY_UTC_OFFSET: dict[str, float] = {
    "IR": 3.5,
    "RU": 3.0,
    "KP": 9.0,
    "CN": 8.0,
    "US": -5.0,
    "GB": 0.0,
    "IL": 2.0,
    "BY": 3.0,
    "VN": 7.0,
    "PK": 5.0,
    "IN": 5.5,
    "TR": 3.0,
    "LB": 2.0,
    "SY": 3.0,
    "KR": 9.0,
    "UA": 2.0,
    "NG": 1.0,
    "BR": -3.0,
    "DE": 1.0,
    "FR": 1.0,
    "AE": 4.0,
    "SA": 3.0,
}

#: Countries whose work week is Saturday..Wednesday/Thursday (weekend Thu/Fri or Fri/Sat).
FRIDAY_WEEKEND = {"IR", "AE", "SA", "SY", "IL"}

_COUNTRY_WORDS = {
    "iran": "IR",
    "russia": "RU",
    "north korea": "KP",
    "dprk": "KP",
    "china": "CN",
    "chinese": "CN",
    "vietnam": "VN",
    "pakistan": "PK",
    "belarus": "BY",
    "lebanon": "LB",
    "syria": "SY",
}

_STATE_WORDS = re.compile(
    r"state[- ]sponsored|sponsored|government|intelligence|military|\bgru\b|\bsvr\b|\bfsb\b|"
    r"irgc|revolutionary guard|nation[- ]state|espionage",
    re.I,
)
_CRIME_WORDS = re.compile(r"financially motivated|cybercrim|criminal|ransom|extortion|fraud", re.I)

_PATTERN_TERMS = re.compile(
    r"(ipv4-addr|ipv6-addr|domain-name|url|email-addr|user-account|autonomous-system)"
    r":(value|number|account_login)\s*(=|ISSUBSET)\s*('(?:[^'\\]|\\.)*'|\d+)",
    re.I,
)


@dataclass
class ActorProfile:
    """Everything the intel says about one intrusion set, flattened for scoring."""

    stix_id: str
    name: str
    aliases: list[str] = field(default_factory=list)
    stix_ids: set[str] = field(default_factory=set)
    description: str = ""
    ips: dict[str, int] = field(default_factory=dict)  # ip -> indicator confidence
    networks: dict[str, int] = field(default_factory=dict)  # cidr -> confidence
    asns: dict[int, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)  # user-account / email-addr values
    techniques: set[str] = field(default_factory=set)
    sectors: set[str] = field(default_factory=set)
    target_countries: set[str] = field(default_factory=set)
    country: str | None = None
    kind: str = "unknown"  # state | criminal | unknown

    @property
    def names(self) -> set[str]:
        return {_norm_name(n) for n in [self.name, *self.aliases] if n}

    @property
    def n_indicators(self) -> int:
        return len(self.ips) + len(self.networks) + len(self.asns) + len(self.domains) + len(self.accounts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stix_id": self.stix_id,
            "name": self.name,
            "aliases": self.aliases,
            "country": self.country,
            "kind": self.kind,
            "techniques": sorted(self.techniques),
            "sectors": sorted(self.sectors),
            "indicators": self.n_indicators,
        }


def _norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """The small reference table shipped with idwatch (MISP countries, ATT&CK technique spread)."""
    text = resources.files("idwatch.correlate").joinpath("data/reference.json").read_text("utf-8")
    return json.loads(text)


def technique_spread(technique: str) -> int | None:
    """How many ATT&CK groups use a technique (None when the reference does not know it)."""
    spread = reference()["technique_groups"]
    if technique in spread:
        return int(spread[technique])
    return None


def technique_name(technique: str) -> str:
    return reference()["technique_names"].get(technique, technique)


def parse_pattern(pattern: str) -> list[tuple[str, str]]:
    """(kind, value) pairs of a STIX pattern's comparison terms that idwatch can match.

    kind is one of ip, network, asn, domain, account. Unsupported terms are ignored.
    """
    out: list[tuple[str, str]] = []
    for obj, _prop, op, raw in _PATTERN_TERMS.findall(pattern or ""):
        value = raw.strip("'").replace("\\'", "'").strip()
        obj = obj.lower()
        if obj in ("ipv4-addr", "ipv6-addr"):
            if op.upper() == "ISSUBSET" or "/" in value:
                try:
                    net = ipaddress.ip_network(value, strict=False)
                except ValueError:
                    continue
                if net.num_addresses == 1:
                    out.append(("ip", str(net.network_address)))
                else:
                    out.append(("network", str(net)))
            else:
                try:
                    out.append(("ip", str(ipaddress.ip_address(value))))
                except ValueError:
                    continue
        elif obj == "autonomous-system":
            if value.isdigit():
                out.append(("asn", value))
        elif obj == "domain-name":
            out.append(("domain", value.lower().rstrip(".")))
        elif obj == "url":
            host = re.sub(r"^[a-z]+://", "", value.lower()).split("/")[0].split(":")[0]
            if host:
                out.append(("domain", host))
        else:
            out.append(("account", value.lower()))
    return out


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references") or []:
        if ref.get("source_name") in ("mitre-attack", "mitre-mobile-attack") and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def _country_from_text(text: str) -> str | None:
    low = text.lower()
    hits = [(low.find(word), code) for word, code in _COUNTRY_WORDS.items() if word in low]
    return min(hits)[1] if hits else None


def _reference_entry(names: set[str]) -> dict[str, Any] | None:
    for entry in reference()["actors"]:
        if names & {_norm_name(n) for n in entry["names"]}:
            return entry
    return None


_SECTOR_FROM_CATEGORY = {
    "government": "government-national",
    "military": "defense",
    "defense": "defense",
    "education": "education",
    "media": "media",
    "ngos": "non-profit",
    "civil society": "non-profit",
    "energy": "energy",
    "finance": "financial-services",
    "healthcare": "healthcare",
    "legal": "legal-services",
    "manufacturing": "manufacturing",
    "private sector": "private-sector",
}


class _Objects:
    """Index of the STIX objects of several bundles by id, with their relationships."""

    def __init__(self, bundles: Iterable[dict[str, Any]]) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.rels: list[dict[str, Any]] = []
        for bundle in bundles:
            objects = bundle.get("objects") if isinstance(bundle, dict) else None
            if objects is None and isinstance(bundle, dict) and bundle.get("type"):
                objects = [bundle]
            for obj in objects or []:
                if not isinstance(obj, dict) or "id" not in obj:
                    continue
                if obj.get("type") == "relationship":
                    self.rels.append(obj)
                else:
                    self.by_id[obj["id"]] = obj

    def related(self, source: str, rel_type: str) -> list[dict[str, Any]]:
        return [
            self.by_id[r["target_ref"]]
            for r in self.rels
            if r.get("source_ref") == source
            and r.get("relationship_type") == rel_type
            and r.get("target_ref") in self.by_id
        ]


def _resolve_actor_ref(objs: _Objects, ref: str, seen: set[str] | None = None) -> str | None:
    """Follow campaign --attributed-to--> intrusion-set (and revoked-by) to an intrusion set id."""
    seen = seen or set()
    if ref in seen:
        return None
    seen.add(ref)
    obj = objs.by_id.get(ref)
    if obj is None:
        return None
    if obj.get("type") == "intrusion-set" and not obj.get("revoked"):
        return ref
    for rel_type in ("attributed-to", "revoked-by"):
        for target in objs.related(ref, rel_type):
            found = _resolve_actor_ref(objs, target["id"], seen)
            if found:
                return found
    return None


def _classify_kind(profile: ActorProfile, objs: _Objects, obj: dict[str, Any], ref: dict | None) -> str:
    types: set[str] = set()
    motivations = {obj.get("primary_motivation") or "", *(obj.get("secondary_motivations") or [])}
    levels = {obj.get("resource_level") or ""}
    for actor in objs.related(obj["id"], "attributed-to"):
        types.update(actor.get("threat_actor_types") or [])
        motivations.add(actor.get("primary_motivation") or "")
        levels.add(actor.get("resource_level") or "")
    kind_prop = str(obj.get("x_idwatch_kind") or obj.get("x_kind") or "").lower()
    if kind_prop in ("state", "criminal"):
        return kind_prop
    if types & {"nation-state"} or "government" in levels:
        return "state"
    if types & {"crime-syndicate", "criminal"} or motivations & {"personal-gain"}:
        return "criminal"
    if ref and (ref.get("state_sponsor") or ref.get("country")):
        return "state"
    if _CRIME_WORDS.search(profile.description):
        return "criminal"
    if _STATE_WORDS.search(profile.description):
        return "state"
    return "unknown"


def _merge(into: ActorProfile, other: ActorProfile) -> None:
    """Fold a second copy of the same actor into the first (indicator-bearing copy wins the id)."""
    if other.n_indicators > into.n_indicators and into.n_indicators == 0:
        into.stix_id, into.name = other.stix_id, other.name
    into.stix_ids |= other.stix_ids | {other.stix_id}
    into.aliases = sorted({*into.aliases, *other.aliases, other.name} - {into.name})
    for attr in ("ips", "networks", "asns", "domains", "accounts"):
        getattr(into, attr).update(getattr(other, attr))
    into.techniques |= other.techniques
    into.sectors |= other.sectors
    into.target_countries |= other.target_countries
    into.country = into.country or other.country
    if into.kind == "unknown":
        into.kind = other.kind
    if len(other.description) > len(into.description):
        into.description = other.description


def build_profiles(bundles: Iterable[dict[str, Any]]) -> list[ActorProfile]:
    """One profile per (merged) intrusion set found in the bundles."""
    objs = _Objects(bundles)
    profiles: dict[str, ActorProfile] = {}
    for obj in objs.by_id.values():
        if obj.get("type") != "intrusion-set" or obj.get("revoked") or obj.get("x_mitre_deprecated"):
            continue
        profiles[obj["id"]] = ActorProfile(
            stix_id=obj["id"],
            name=str(obj.get("name") or obj["id"]),
            aliases=[a for a in obj.get("aliases") or [] if a != obj.get("name")],
            stix_ids={obj["id"]},
            description=str(obj.get("description") or ""),
        )
    # names of revoked copies (G0058 "Charming Kitten" -> G0059) become aliases
    for rel in objs.rels:
        if rel.get("relationship_type") == "revoked-by" and rel.get("target_ref") in profiles:
            old = objs.by_id.get(rel.get("source_ref", ""), {})
            if old.get("name"):
                profiles[rel["target_ref"]].aliases.append(old["name"])
    for rel in objs.rels:
        rtype, src, dst = rel.get("relationship_type"), rel.get("source_ref", ""), rel.get("target_ref", "")
        if rtype == "indicates":
            actor_id = _resolve_actor_ref(objs, dst)
            indicator = objs.by_id.get(src)
            if not actor_id or actor_id not in profiles or not indicator:
                continue
            conf = int(indicator.get("confidence") or rel.get("confidence") or 50)
            for kind, value in parse_pattern(str(indicator.get("pattern") or "")):
                target = {
                    "ip": profiles[actor_id].ips,
                    "network": profiles[actor_id].networks,
                    "domain": profiles[actor_id].domains,
                    "account": profiles[actor_id].accounts,
                }.get(kind)
                if kind == "asn":
                    profiles[actor_id].asns[int(value)] = conf
                elif target is not None:
                    target[value] = max(conf, target.get(value, 0))
        elif rtype in ("uses", "targets", "originates-from"):
            actor_id = _resolve_actor_ref(objs, src)
            target = objs.by_id.get(dst)
            if not actor_id or actor_id not in profiles or not target:
                continue
            prof = profiles[actor_id]
            if rtype == "uses" and target.get("type") == "attack-pattern":
                tid = _attack_id(target)
                if tid:
                    prof.techniques.add(tid)
            elif rtype == "targets" and target.get("type") == "identity":
                prof.sectors.update(s.lower() for s in target.get("sectors") or [])
            elif rtype == "targets" and target.get("type") == "location" and target.get("country"):
                prof.target_countries.add(str(target["country"]).upper())
            elif rtype == "originates-from" and target.get("type") == "location" and target.get("country"):
                prof.country = str(target["country"]).upper()
    for obj_id, prof in profiles.items():
        ref = _reference_entry(prof.names)
        prof.country = prof.country or (ref or {}).get("country") or _country_from_text(prof.description)
        if ref and not prof.sectors:
            for cat in ref.get("target_categories") or []:
                sector = _SECTOR_FROM_CATEGORY.get(str(cat).lower())
                if sector:
                    prof.sectors.add(sector)
        prof.kind = _classify_kind(prof, objs, objs.by_id[obj_id], ref)
    return _merge_same_actor(list(profiles.values()))


def _merge_same_actor(profiles: list[ActorProfile]) -> list[ActorProfile]:
    # indicator-bearing profiles first, so the provider's own copy keeps its id and name
    profiles.sort(key=lambda p: (-p.n_indicators, p.stix_id))
    merged: list[ActorProfile] = []
    for prof in profiles:
        for existing in merged:
            if existing.names & prof.names:
                _merge(existing, prof)
                break
        else:
            merged.append(prof)
    return sorted(merged, key=lambda p: p.name.lower())
