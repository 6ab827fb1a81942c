"""Bring in indicators that do not arrive as a STIX file: MISP events and TAXII collections.

``idwatch intel import`` takes STIX 2.1 bundles. Partners often share MISP events instead,
or publish on a TAXII server. Both are turned into an ordinary STIX 2.1 bundle here and
stored through :func:`idwatch.intel.import_intel`, so validation, deduplication and
everything that reads the intel (attribution) work the same whatever the source.

MISP mapping: ``ip-src``/``ip-dst`` (and ``|port`` variants) -> ``ipv4-addr``/``ipv6-addr``
indicators (``= addr``, or ``ISSUBSET cidr`` for a network), ``domain``/``hostname`` ->
``domain-name``, ``AS`` -> ``autonomous-system``; ``misp-galaxy:threat-actor`` tags -> an
``intrusion-set`` (galaxy synonyms as aliases) that every indicator ``indicates``; ``tlp:*``
-> the TLP marking. Other attribute types are counted as skipped, not guessed at. Imported
indicators whose patterns idwatch cannot match are reported (:func:`unmatched_patterns`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stix2

from idwatch.detections.indicators import PatternTerms, parse_pattern, warn_unsupported
from idwatch.share.misp import galaxy_clusters
from idwatch.share.stix import TLP_LEVELS, stable_id, tlp_marking
from idwatch.store import Store

_ACTOR_TAG = re.compile(r'^misp-galaxy:threat-actor="(?P<name>[^"]+)"$')
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+$", re.IGNORECASE)


@dataclass
class Converted:
    """A STIX bundle built from foreign intel, with what could not be mapped."""

    bundle: dict[str, Any]
    indicators: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def _pattern(mtype: str, value: str) -> str | None:
    value = value.strip()
    if mtype in ("ip-src", "ip-dst", "ip-src|port", "ip-dst|port"):
        host = value.split("|", 1)[0]
        try:
            net = ipaddress.ip_network(host, strict=False)
        except ValueError:
            return None
        obj = "ipv4-addr" if net.version == 4 else "ipv6-addr"
        if net.num_addresses == 1:
            return f"[{obj}:value = '{net.network_address.compressed}']"
        return f"[{obj}:value ISSUBSET '{net.compressed}']"  # MISP ip-src/ip-dst may hold a CIDR
    if mtype in ("domain", "hostname") and _DOMAIN.match(value):
        return f"[domain-name:value = '{value.lower()}']"
    if mtype == "AS":
        digits = value.upper().removeprefix("AS")
        return f"[autonomous-system:number = {int(digits)}]" if digits.isdigit() else None
    return None


def misp_to_stix(event_doc: dict[str, Any]) -> Converted:
    """One MISP event (with or without the ``{"Event": ...}`` wrapper) as a STIX 2.1 bundle."""
    event = event_doc.get("Event", event_doc)
    eid = event.get("uuid") or json.dumps(event.get("info"))
    tags = [t.get("name", "") for t in event.get("Tag") or []]
    tlp = next((t.split(":", 1)[1] for t in tags if t.lower().startswith("tlp:")), None)
    tlp = "clear" if tlp == "white" else tlp
    marking = tlp_marking(tlp) if tlp in TLP_LEVELS else None
    common: dict[str, Any] = {"object_marking_refs": [marking["id"]]} if marking else {}
    created = _date(event.get("date"))
    objects: list[dict[str, Any]] = [marking] if marking else []

    actor_ids = []
    clusters = galaxy_clusters()
    for tag in tags:
        m = _ACTOR_TAG.match(tag)
        if not m:
            continue
        name = m.group("name")
        iset = stix2.IntrusionSet(
            id=stable_id("intrusion-set", "misp", name),
            name=name,
            aliases=clusters.get(name) or None,
            created=created,
            modified=created,
            **common,
        )
        objects.append(json.loads(iset.serialize()))
        actor_ids.append(iset.id)

    converted = Converted(bundle={})
    attributes = list(event.get("Attribute") or [])
    for obj in event.get("Object") or []:
        attributes += obj.get("Attribute") or []
    for attr in attributes:
        mtype, value = str(attr.get("type", "")), str(attr.get("value", ""))
        pattern = _pattern(mtype, value)
        if pattern is None:
            converted.skipped[mtype] = converted.skipped.get(mtype, 0) + 1
            continue
        ind = stix2.Indicator(
            id=stable_id("indicator", "misp", eid, pattern),
            name=f"{mtype} {value}",
            description=str(attr.get("comment") or event.get("info") or "")[:1000] or None,
            indicator_types=["malicious-activity"],
            pattern=pattern,
            pattern_type="stix",
            valid_from=_date(attr.get("first_seen")) if attr.get("first_seen") else created,
            created=created,
            modified=created,
            **common,
        )
        objects.append(json.loads(ind.serialize()))
        converted.indicators += 1
        for target in actor_ids:
            rel = stix2.Relationship(
                id=stable_id("relationship", "misp", ind.id, target),
                relationship_type="indicates",
                source_ref=ind.id,
                target_ref=target,
                created=created,
                modified=created,
                **common,
            )
            objects.append(json.loads(rel.serialize()))
    converted.bundle = {"type": "bundle", "id": stable_id("bundle", "misp", eid), "objects": objects}
    return converted


def taxii_objects(url: str, *, user: str, password: str, added_after: str | None = None) -> dict[str, Any]:
    """Every object of a TAXII 2.1 collection (paged), as one STIX bundle."""
    from taxii2client.v21 import Collection, as_pages

    collection = Collection(url, user=user, password=password)
    kwargs = {"added_after": added_after} if added_after else {}
    objects = [
        obj
        for page in as_pages(collection.get_objects, per_request=100, **kwargs)
        for obj in page.get("objects", [])
    ]
    return {"type": "bundle", "id": stable_id("bundle", "taxii", url, len(objects)), "objects": objects}


def unmatched_patterns(bundle: dict[str, Any]) -> int:
    """Indicators whose patterns idwatch cannot (fully) match: warned about, with examples; the count."""
    parsed = [
        (o.get("id"), parse_pattern(o.get("pattern", "")))
        if o.get("pattern_type", "stix") == "stix"
        else (o.get("id"), PatternTerms(unsupported=[f"pattern_type {o.get('pattern_type')}"]))
        for o in bundle.get("objects") or []
        if isinstance(o, dict) and o.get("type") == "indicator"
    ]
    return warn_unsupported(parsed)


def import_bundle(store: Store, bundle: dict[str, Any]) -> int:
    """Store a bundle through ``idwatch.intel.import_intel`` (same validation and dedupe as files).

    Indicators whose patterns idwatch cannot match are reported (:class:`PatternWarning`) but
    stored as they are: the bundle is the partner's, and a later idwatch may read more of it.
    """
    from idwatch.intel import import_intel

    unmatched_patterns(bundle)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_text(json.dumps(bundle, sort_keys=True), "utf-8")
        return import_intel(store, str(path))


def _date(value: Any) -> datetime:
    text = str(value or "1970-01-01")
    if len(text) == 10:
        text += "T00:00:00+00:00"
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        dt = datetime(1970, 1, 1, tzinfo=UTC)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
