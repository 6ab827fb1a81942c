"""``idwatch export misp``: one MISP event per campaign, the same content as the STIX export.

The event JSON is what ``PyMISP``'s ``MISPEvent().load()`` reads and a MISP instance
imports: ``ip-src`` attributes for the infrastructure (with first / last seen and sighting
counts), ``AS`` attributes for its networks, the actor as MISP threat-actor galaxy tags,
ATT&CK galaxy tags for the techniques, the confidence as an estimative-language tag, the
TLP tag, and an annotation object carrying the (redacted) attribution evidence. Built
without PyMISP so that exporting needs no extra dependency.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from functools import cache
from importlib import resources
from typing import Any

from idwatch.share.redact import Redactor
from idwatch.share.stix import TLP_LEVELS, IntelIndex, ip_activity, select_campaigns, stable_id
from idwatch.store import Store

#: TLP level -> MISP distribution (0 your org, 1 this community, 2 connected communities, 3 all)
DISTRIBUTION = {"red": "0", "amber": "1", "green": "2", "clear": "3"}
_LIKELIHOOD = [
    (5, "almost-no-chance"),
    (20, "very-unlikely"),
    (45, "unlikely"),
    (55, "roughly-even-chance"),
    (80, "likely"),
    (95, "very-likely"),
]
_ANNOTATION_TEMPLATE = "5d8dc046-15a1-4ca3-a09f-ed4ede7c4487"  # MISP object template "annotation" v3


@cache
def galaxy_clusters() -> dict[str, list[str]]:
    """MISP threat-actor galaxy cluster values and their synonyms (shipped extract)."""
    data = json.loads(resources.files("idwatch.share").joinpath("data/misp_threat_actors.json").read_text())
    return data["clusters"]


def actor_clusters(name: str, aliases: list[str]) -> list[str]:
    """Galaxy clusters whose value or synonyms match the actor's name or one of its aliases."""
    wanted = {n.lower() for n in [name, *aliases] if n}
    return sorted(
        value
        for value, synonyms in galaxy_clusters().items()
        if value.lower() in wanted or wanted & {s.lower() for s in synonyms}
    )


def likelihood(confidence: int) -> str:
    """STIX confidence (0-100) -> MISP estimative-language likelihood-probability."""
    for upper, word in _LIKELIHOOD:
        if confidence < upper:
            return word
    return "almost-certain"


def build_events(store: Store, *, campaign_id: str | None = None, tlp: str = "amber") -> list[dict[str, Any]]:
    """One ``{"Event": {...}}`` per chosen campaign; raises LeakError if one would name a customer."""
    if tlp not in TLP_LEVELS:
        raise ValueError(f"unknown TLP level {tlp!r}; choose one of {', '.join(TLP_LEVELS)}")
    campaigns = select_campaigns(store, campaign_id)
    redactor = Redactor.for_campaigns(store, campaigns)
    intel = IntelIndex(store.intel_bundles())
    events = [_event(c, tlp, intel, redactor, _ip_stats(store, c)) for c in campaigns]
    for ev in events:
        redactor.check(json.dumps(ev), "MISP event")
    return events


def _uuid(*parts: Any) -> str:
    return stable_id("x", *parts).split("--", 1)[1]


def _event(
    camp: dict[str, Any],
    tlp: str,
    intel: IntelIndex,
    redactor: Redactor,
    ip_stats: dict[str, tuple[int, str, str]],
) -> dict[str, Any]:
    actor = camp.get("actor")
    counts = camp.get("counts") or {}
    first, last = camp.get("first_seen"), camp.get("last_seen")
    tags = [{"name": f"tlp:{tlp}"}]
    if actor:
        for cluster in actor_clusters(actor["name"], list(actor.get("aliases") or [])):
            tags.append({"name": f'misp-galaxy:threat-actor="{cluster}"'})
        words = likelihood(int(actor.get("confidence") or 0))
        tags.append({"name": f'estimative-language:likelihood-probability="{words}"'})
    for tech in camp.get("techniques") or []:
        ap = intel.technique.get(str(tech))
        label = f"{ap['name']} - {tech}" if ap else str(tech)
        tags.append({"name": f'misp-galaxy:mitre-attack-pattern="{label}"'})

    attributes = []
    for raw in (camp.get("infrastructure") or {}).get("ips") or []:
        try:
            ip = ipaddress.ip_address(str(raw).strip()).compressed
        except ValueError:
            continue
        n, ip_first, ip_last = ip_stats.get(str(raw), (0, first, last))
        attr: dict[str, Any] = {
            "uuid": _uuid(camp["id"], "ip", ip),
            "type": "ip-src",
            "category": "Network activity",
            "value": ip,
            "to_ids": True,
            "disable_correlation": False,
            "comment": "Source of sign-in, password-reset and account-recovery attempts"
            + (f"; {n} identity event(s)" if n else ""),
        }
        if ip_first:
            attr["first_seen"] = ip_first
        if ip_last:
            attr["last_seen"] = ip_last
        attributes.append(attr)
    for asn in (camp.get("infrastructure") or {}).get("asns") or []:
        attributes.append(
            {
                "uuid": _uuid(camp["id"], "asn", int(asn)),
                "type": "AS",
                "category": "Network activity",
                "value": f"AS{int(asn)}",
                "to_ids": False,
                "disable_correlation": False,
                "comment": "Network of the campaign's infrastructure (too broad to block alone)",
            }
        )

    lines = [
        f"Probes: {counts.get('probes', 0)}; identifiers probed: {counts.get('accounts_probed', 0)}; "
        f"accounts attacked: {counts.get('accounts_attacked', 0)}; "
        f"compromised: {counts.get('accounts_compromised', 0)}."
    ]
    if actor:
        lines.append(f"Attributed to {actor['name']} with confidence {actor.get('confidence')}/100.")
    lines += [
        f"- {ev.get('kind')} (weight {ev.get('weight')}): {redactor.redact(str(ev.get('detail') or ''))}"
        for ev in camp.get("evidence") or []
    ]
    annotation = {
        "name": "annotation",
        "meta-category": "misc",
        "template_uuid": _ANNOTATION_TEMPLATE,
        "template_version": "3",
        "description": "Attribution evidence and campaign counts",
        "uuid": _uuid(camp["id"], "annotation"),
        "distribution": "5",
        "sharing_group_id": "0",
        "Attribute": [
            {
                "uuid": _uuid(camp["id"], "annotation", "text"),
                "object_relation": "text",
                "type": "text",
                "category": "Other",
                "value": redactor.redact("\n".join(lines)),
                "to_ids": False,
                "disable_correlation": True,
            },
            {
                "uuid": _uuid(camp["id"], "annotation", "type"),
                "object_relation": "type",
                "type": "text",
                "category": "Other",
                "value": "Other",
                "to_ids": False,
                "disable_correlation": True,
            },
        ],
    }
    who = actor["name"] if actor else "unattributed actor"
    return {
        "Event": {
            "uuid": str(uuid.UUID(_uuid(camp["id"], "event"))),
            "info": f"Identity-provider account takeover campaign {camp['id']} ({who})",
            "date": (first or "1970-01-01")[:10],
            "threat_level_id": "1" if actor else "2",
            "analysis": "2",
            "distribution": DISTRIBUTION[tlp],
            "published": False,
            "Tag": tags,
            "Attribute": attributes,
            "Object": [annotation],
        }
    }


def _ip_stats(store: Store, camp: dict[str, Any]) -> dict[str, tuple[int, str, str]]:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    ips = (camp.get("infrastructure") or {}).get("ips") or []
    return {
        ip: (n, first.strftime(fmt), last.strftime(fmt)) for ip, n, first, last in ip_activity(store, ips)
    }
