"""``idwatch export stix``: the campaigns as a shareable STIX 2.1 bundle.

Per campaign: the ``campaign``; the ``intrusion-set`` it is ``attributed-to`` (with the
attribution confidence on the relationship); an ``indicator`` per infrastructure IP and
ASN that ``indicates`` the campaign; the ``attack-pattern``s it ``uses`` by ATT&CK id; the
targeted sectors as a class ``identity`` it ``targets``; ``sighting``s with counts and
first / last seen; a ``note`` with the attribution evidence; and one ``report`` with the
TLP marking. Nothing names an account, a tenant or a person (checked before returning).

Identifiers are derived from the campaign and the value they describe, so exporting the
same findings again yields the same objects (consumers and TAXII servers dedupe them).
ATT&CK objects are reused from the imported intel when present, so they keep MITRE's ids.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import stix2

from idwatch.share.redact import Redactor
from idwatch.store import Store

TLP_LEVELS = ("clear", "green", "amber", "red")

#: TLP 2.0 TLP:CLEAR, from the OASIS TLP 2.0 extension (cti-stix-common-objects, tlp-2.0).
#: STIX 2.1 itself only defines TLP 1.0 (WHITE/GREEN/AMBER/RED); GREEN/AMBER/RED keep their
#: STIX 2.1 definitions, whose meaning TLP 2.0 did not change.
TLP_CLEAR: dict[str, Any] = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "created": "2022-10-01T00:00:00.000Z",
    "name": "TLP:CLEAR",
    "extensions": {
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
            "extension_type": "property-extension",
            "tlp_2_0": "clear",
        }
    },
}
_TLP_21 = {"green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER, "red": stix2.TLP_RED}

#: idwatch directory categories -> STIX 2.1 industry-sector-ov (only where one fits)
SECTORS = {
    "government": ["government"],
    "political_campaign": ["government"],
    "ngo": ["non-profit"],
    "academic": ["education"],
    "journalist": ["communications"],
    "business": ["commercial"],
}

_EPOCH = "2019-01-01T00:00:00Z"


def tlp_marking(level: str) -> dict[str, Any]:
    """The marking-definition object for a TLP level (``clear`` uses the TLP 2.0 extension)."""
    level = level.lower()
    if level == "clear":
        return dict(TLP_CLEAR)
    if level not in _TLP_21:
        raise ValueError(f"unknown TLP level {level!r}; choose one of {', '.join(TLP_LEVELS)}")
    return json.loads(_TLP_21[level].serialize())


def stable_id(kind: str, *parts: Any) -> str:
    """``kind--uuid`` from a hash of ``parts``, shaped as a version-4 UUID as STIX 2.1 asks of SDOs."""
    digest = bytearray(hashlib.sha256(json.dumps([kind, *parts], default=str).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return f"{kind}--{uuid.UUID(bytes=bytes(digest))}"


def select_campaigns(store: Store, campaign_id: str | None = None) -> list[dict[str, Any]]:
    """Campaigns from ``state/campaigns.json``; ``campaign_id`` picks one (KeyError when absent)."""
    campaigns = store.read_state_json("campaigns", default=[]) or []
    if campaign_id is None:
        return campaigns
    chosen = [c for c in campaigns if c.get("id") == campaign_id]
    if not chosen:
        raise KeyError(f"no campaign {campaign_id!r} in {store.state_dir / 'campaigns.json'}")
    return chosen


class IntelIndex:
    """ATT&CK objects from the imported intel bundles, to reuse MITRE's ids and names."""

    def __init__(self, bundles: list[dict[str, Any]]) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.technique: dict[str, dict[str, Any]] = {}
        for bundle in bundles:
            for obj in bundle.get("objects", []):
                if obj.get("revoked") or obj.get("x_mitre_deprecated"):
                    continue
                self.by_id[obj["id"]] = obj
                if obj.get("type") == "attack-pattern":
                    for ref in obj.get("external_references") or []:
                        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
                            self.technique[ref["external_id"]] = obj

    def copy(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object without custom (``x_``) properties: same id and version, spec properties only."""
        return {k: v for k, v in obj.items() if not k.startswith("x_")}


def build_bundle(
    store: Store,
    *,
    campaign_id: str | None = None,
    tlp: str = "amber",
    producer: str = "idwatch",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A STIX 2.1 bundle (as a dict) of the chosen campaigns; raises LeakError if it would name a customer."""
    campaigns = select_campaigns(store, campaign_id)
    redactor = Redactor.for_campaigns(store, campaigns)
    intel = IntelIndex(store.intel_bundles())
    now = now or datetime.now(UTC)
    marking = tlp_marking(tlp)
    author = stix2.Identity(
        id=stable_id("identity", "producer", producer),
        name=producer,
        identity_class="organization",
        created=_EPOCH,
        modified=_EPOCH,
    )
    builder = _Builder(store, intel, redactor, marking["id"], author.id)
    for camp in campaigns:
        builder.add_campaign(camp)

    objects = [marking, _as_dict(author), *builder.extra.values(), *builder.objects]
    refs = [o["id"] for o in builder.objects]
    first = min((c.get("first_seen") for c in campaigns if c.get("first_seen")), default=_EPOCH)
    report = stix2.Report(
        id=stable_id("report", producer, sorted(c.get("id") for c in campaigns)),
        name=_report_name(campaigns),
        description=(
            f"Targeted account-takeover activity seen by {producer} in its identity logs: "
            f"{len(campaigns)} campaign(s). Targeted accounts and organisations are withheld."
        ),
        report_types=["campaign", "threat-actor", "indicator", "attack-pattern"],
        published=now,
        created=first,
        modified=max(now, _ts(first)),
        object_refs=refs or [author.id],
        created_by_ref=author.id,
        object_marking_refs=[marking["id"]],
    )
    objects.append(_as_dict(report))
    bundle = {
        "type": "bundle",
        "id": stable_id("bundle", producer, refs, now.isoformat()),
        "objects": objects,
    }
    redactor.check(json.dumps(bundle), "STIX bundle")
    return bundle


def _report_name(campaigns: list[dict[str, Any]]) -> str:
    actors = sorted({(c.get("actor") or {}).get("name") for c in campaigns if c.get("actor")})
    who = ", ".join(a for a in actors if a) or "unattributed actors"
    return f"Identity-provider account takeover by {who}"


class _Builder:
    """Accumulates the STIX objects of one export (deduplicated by id)."""

    def __init__(
        self, store: Store, intel: IntelIndex, redactor: Redactor, marking: str, author: str
    ) -> None:
        self.store, self.intel, self.redactor = store, intel, redactor
        self.common = {"created_by_ref": author, "object_marking_refs": [marking]}
        self.author = author
        self.objects: list[dict[str, Any]] = []
        self.extra: dict[str, dict[str, Any]] = {}  # referenced third-party objects (MITRE identity, marking)
        self._seen: set[str] = set()

    def _add(self, obj: Any) -> str:
        d = obj if isinstance(obj, dict) else _as_dict(obj)
        if d["id"] not in self._seen:
            self._seen.add(d["id"])
            self.objects.append(d)
        return d["id"]

    def _add_intel(self, obj: dict[str, Any]) -> str:
        copy = self.intel.copy(obj)
        stix2.parse(copy)  # fails loudly if the copy is not plain STIX 2.1
        for ref in [copy.get("created_by_ref"), *(copy.get("object_marking_refs") or [])]:
            if ref and ref in self.intel.by_id and ref not in self.extra:
                self.extra[ref] = self.intel.copy(self.intel.by_id[ref])
        return self._add(copy)

    def add_campaign(self, camp: dict[str, Any]) -> None:
        first, last = (
            _ts(camp.get("first_seen") or _EPOCH),
            _ts(camp.get("last_seen") or camp.get("first_seen") or _EPOCH),
        )
        last = max(first, last)
        stamp = {"created": first, "modified": last}
        counts = camp.get("counts") or {}
        actor = camp.get("actor")
        campaign = stix2.Campaign(
            id=stable_id("campaign", camp["id"]),
            name=f"{(actor or {}).get('name') or 'Unattributed'} account takeover campaign {camp['id']}",
            description=(
                "Probing of which accounts exist, then attempts to take accounts over (password guessing, "
                "password reset and account recovery), seen in identity-provider logs. "
                f"Probes: {counts.get('probes', 0)}; identifiers probed: {counts.get('accounts_probed', 0)}; "
                f"accounts attacked: {counts.get('accounts_attacked', 0)}; "
                f"accounts compromised: {counts.get('accounts_compromised', 0)}."
            ),
            objective="Gain access to the email and identity accounts of selected people.",
            first_seen=first,
            last_seen=last,
            external_references=[{"source_name": "idwatch", "external_id": camp["id"]}],
            **stamp,
            **self.common,
        )
        cid = self._add(campaign)

        attribution_ref = None
        if actor:
            iset = self._intrusion_set(actor)
            rel = stix2.Relationship(
                id=stable_id("relationship", camp["id"], "attributed-to", iset),
                relationship_type="attributed-to",
                source_ref=cid,
                target_ref=iset,
                confidence=max(0, min(100, int(actor.get("confidence") or 0))),
                description=f"Attribution confidence {actor.get('confidence')}/100 (STIX confidence scale).",
                **stamp,
                **self.common,
            )
            attribution_ref = self._add(rel)

        for ip, pattern in _ip_patterns((camp.get("infrastructure") or {}).get("ips") or []):
            self._indicator(camp, cid, f"IP address {ip}", pattern, stamp, first)
        for asn in (camp.get("infrastructure") or {}).get("asns") or []:
            self._indicator(
                camp,
                cid,
                f"AS{int(asn)}",
                f"[autonomous-system:number = {int(asn)}]",
                stamp,
                first,
                weak=True,
            )
        for tech in camp.get("techniques") or []:
            ap = self._attack_pattern(str(tech))
            self._add(
                stix2.Relationship(
                    id=stable_id("relationship", camp["id"], "uses", ap),
                    relationship_type="uses",
                    source_ref=cid,
                    target_ref=ap,
                    **stamp,
                    **self.common,
                )
            )
        self._targets(camp, cid, stamp)
        self._sightings(camp, cid, stamp, first, last)
        self._note(camp, cid, attribution_ref, stamp)

    def _intrusion_set(self, actor: dict[str, Any]) -> str:
        known = self.intel.by_id.get(actor.get("stix_id") or "")
        if known and known.get("type") == "intrusion-set":
            return self._add_intel(known)
        aliases = [a for a in actor.get("aliases") or [] if a != actor["name"]]
        return self._add(
            stix2.IntrusionSet(
                id=stable_id("intrusion-set", actor["name"]),
                name=actor["name"],
                aliases=aliases or None,
                created=_EPOCH,
                modified=_EPOCH,
                **self.common,
            )
        )

    def _attack_pattern(self, tech: str) -> str:
        known = self.intel.technique.get(tech)
        if known:
            return self._add_intel(known)
        path = tech.replace(".", "/")
        return self._add(
            stix2.AttackPattern(
                id=stable_id("attack-pattern", tech),
                name=tech,
                external_references=[
                    {
                        "source_name": "mitre-attack",
                        "external_id": tech,
                        "url": f"https://attack.mitre.org/techniques/{path}/",
                    }
                ],
                created=_EPOCH,
                modified=_EPOCH,
                **self.common,
            )
        )

    def _indicator(
        self,
        camp: dict[str, Any],
        cid: str,
        label: str,
        pattern: str,
        stamp: dict[str, Any],
        valid_from: datetime,
        *,
        weak: bool = False,
    ) -> None:
        # Built as plain dicts: patterns come from fixed templates over validated IPs / ASNs, and
        # the stix2 classes re-parse every pattern with ANTLR (most of an export's time when a
        # campaign has thousands of addresses). Tests parse and validate the result.
        iid = stable_id("indicator", camp["id"], pattern)
        self._add(
            self._sdo(
                "indicator",
                iid,
                stamp,
                name=f"{label} used by campaign {camp['id']}",
                description=(
                    "Network of the campaign's infrastructure; too broad to block alone, "
                    "use it to raise risk."
                    if weak
                    else "Source address of the campaign's sign-in, reset and recovery attempts."
                ),
                indicator_types=["malicious-activity", "attribution"],
                pattern=pattern,
                pattern_type="stix",
                pattern_version="2.1",
                valid_from=_fmt(valid_from),
                confidence=40 if weak else 80,
            )
        )
        self._add(
            self._sdo(
                "relationship",
                stable_id("relationship", camp["id"], "indicates", iid),
                stamp,
                relationship_type="indicates",
                source_ref=iid,
                target_ref=cid,
            )
        )

    def _sdo(self, kind: str, oid: str, stamp: dict[str, Any], **props: Any) -> dict[str, Any]:
        """A STIX object as a dict with the common properties (hot path; no stix2 class)."""
        return {
            "type": kind,
            "spec_version": "2.1",
            "id": oid,
            "created": _fmt(stamp["created"]),
            "modified": _fmt(stamp["modified"]),
            **props,
            **self.common,
        }

    def _targets(self, camp: dict[str, Any], cid: str, stamp: dict[str, Any]) -> None:
        for category, n in sorted((camp.get("categories") or {}).items()):
            if not category or category == "unknown":
                continue
            ident = stix2.Identity(
                id=stable_id("identity", "class", category),
                name=f"{category.replace('_', ' ')} (class)",
                identity_class="class",
                sectors=SECTORS.get(category),
                created=_EPOCH,
                modified=_EPOCH,
                **self.common,
            )
            tid = self._add(ident)
            self._add(
                stix2.Relationship(
                    id=stable_id("relationship", camp["id"], "targets", tid),
                    relationship_type="targets",
                    source_ref=cid,
                    target_ref=tid,
                    description=f"{int(n)} targeted account(s) in this class",
                    **stamp,
                    **self.common,
                )
            )

    def _sightings(
        self, camp: dict[str, Any], cid: str, stamp: dict[str, Any], first: datetime, last: datetime
    ) -> None:
        counts = camp.get("counts") or {}
        self._add(
            stix2.Sighting(
                id=stable_id("sighting", camp["id"], "campaign"),
                sighting_of_ref=cid,
                count=min(
                    int(counts.get("probes", 0)) + int(counts.get("accounts_attacked", 0)), 999_999_999
                ),
                first_seen=first,
                last_seen=last,
                where_sighted_refs=[self.author],
                description=(
                    f"{counts.get('probes', 0)} probe(s) of "
                    f"{counts.get('accounts_probed', 0)} identifier(s); "
                    f"{counts.get('accounts_attacked', 0)} account(s) attacked, "
                    f"{counts.get('accounts_compromised', 0)} compromised."
                ),
                **stamp,
                **self.common,
            )
        )
        for ip, n, ip_first, ip_last in ip_activity(
            self.store, (camp.get("infrastructure") or {}).get("ips") or []
        ):
            pattern = dict(_ip_patterns([ip])).get(ip)
            if pattern is None:
                continue
            iid = stable_id("indicator", camp["id"], pattern)
            self._add(
                stix2.Sighting(
                    id=stable_id("sighting", camp["id"], iid),
                    sighting_of_ref=iid,
                    count=min(n, 999_999_999),
                    first_seen=ip_first,
                    last_seen=max(ip_first, ip_last),
                    where_sighted_refs=[self.author],
                    description=f"{n} identity event(s) from this address",
                    **stamp,
                    **self.common,
                )
            )

    def _note(
        self, camp: dict[str, Any], cid: str, attribution_ref: str | None, stamp: dict[str, Any]
    ) -> None:
        lines = []
        actor = camp.get("actor")
        if actor:
            lines.append(f"Attributed to {actor['name']} with confidence {actor.get('confidence')}/100.")
        else:
            lines.append("Not attributed to a known actor.")
        for ev in camp.get("evidence") or []:
            detail = self.redactor.redact(str(ev.get("detail") or ""))
            lines.append(f"- {ev.get('kind')} (weight {ev.get('weight')}): {detail}")
        hyps = camp.get("hypotheses") or []
        if hyps:
            lines.append("Alternative hypotheses:")
            for h in hyps:
                post = h.get("posterior")
                lines.append(f"- {h.get('name')}: posterior {post}, confidence {h.get('confidence')}")
        self._add(
            stix2.Note(
                id=stable_id("note", camp["id"], "attribution"),
                abstract=f"Attribution evidence for campaign {camp['id']}",
                content=self.redactor.redact("\n".join(lines)),
                object_refs=[cid] + ([attribution_ref] if attribution_ref else []),
                **stamp,
                **self.common,
            )
        )


def _ip_patterns(ips: list[str]) -> list[tuple[str, str]]:
    out = []
    for raw in ips:
        try:
            ip = ipaddress.ip_address(str(raw).strip())
        except ValueError:
            continue
        kind = "ipv4-addr" if ip.version == 4 else "ipv6-addr"
        out.append((str(raw), f"[{kind}:value = '{ip.compressed}']"))
    return out


def ip_activity(store: Store, ips: list[str]) -> list[tuple[str, int, datetime, datetime]]:
    """Events per infrastructure IP in the store (empty when the store holds no events)."""
    if not ips or not store.has_events():
        return []
    con = store.connect()
    rows = con.execute(
        "SELECT src_ip, count(*), min(time), max(time) FROM events "
        "WHERE src_ip IN (SELECT unnest(?::VARCHAR[])) GROUP BY src_ip ORDER BY src_ip",
        [list(ips)],
    ).fetchall()
    con.close()
    return [(r[0], int(r[1]), r[2], r[3]) for r in rows]


def _fmt(dt: datetime) -> str:
    """STIX timestamp, UTC, millisecond precision (as the stix2 library writes them)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _as_dict(obj: Any) -> dict[str, Any]:
    return json.loads(obj.serialize())
