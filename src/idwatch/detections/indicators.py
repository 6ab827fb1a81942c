"""Network indicators from imported STIX 2.1 bundles, flattened for joins against events.

Each ``indicator`` pattern is scanned for comparisons on ``ipv4-addr:value``,
``ipv6-addr:value``, ``autonomous-system:number`` and ``domain-name:value``; the intrusion set
it points at is resolved through ``indicates`` relationships, directly or via a campaign that is
``attributed-to`` an intrusion set. CIDR values become prefix rows matched against ``ipnet``
(/24 and /64 exactly; other prefixes are kept with kind ``ipv4_cidr`` / ``ipv6_cidr``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

INDICATOR_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),
        pa.field("value", pa.string()),
        pa.field("intrusion_set", pa.string()),
        pa.field("indicator_id", pa.string()),
    ]
)

_COMPARISON = re.compile(
    r"(ipv4-addr|ipv6-addr|autonomous-system|domain-name):(value|number)\s*=\s*('(?:[^'\\]|\\.)*'|\d+)"
)


def _values(pattern: str) -> Iterable[tuple[str, str]]:
    for obj, _prop, raw in _COMPARISON.findall(pattern or ""):
        value = raw.strip("'")
        if obj == "autonomous-system":
            yield "asn", str(int(value)) if value.isdigit() else value
        elif obj == "domain-name":
            yield "domain", value.lower().rstrip(".")
        else:
            yield from _ip_values(value)


def _ip_values(value: str) -> Iterable[tuple[str, str]]:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return
    if net.num_addresses == 1:
        addr = net.network_address
        yield ("ipv4" if addr.version == 4 else "ipv6"), addr.compressed
    elif net.version == 4 and net.prefixlen == 24:
        yield "ipnet", f"{net.network_address}/24"
    elif net.version == 6 and net.prefixlen == 64:
        groups = net.network_address.exploded.split(":")[:4]
        yield "ipnet", ":".join(g.lstrip("0") or "0" for g in groups) + "::/64"
    else:
        yield f"ipv{net.version}_cidr", net.compressed


def indicator_rows(bundles: list[dict[str, Any]]) -> pa.Table:
    """One row per (network value, intrusion set) found in the bundles' indicators."""
    objects = [o for b in bundles for o in (b.get("objects") or []) if isinstance(o, dict)]
    names = {o["id"]: o.get("name") for o in objects if o.get("type") == "intrusion-set" and "id" in o}
    attributed: dict[str, set[str]] = {}
    indicates: dict[str, set[str]] = {}
    for rel in (o for o in objects if o.get("type") == "relationship"):
        src, dst, kind = rel.get("source_ref"), rel.get("target_ref"), rel.get("relationship_type")
        if kind == "attributed-to" and dst in names:
            attributed.setdefault(src, set()).add(dst)
        elif kind == "indicates":
            indicates.setdefault(src, set()).add(dst)
    rows: dict[tuple[str, str, str | None], str] = {}
    for ind in (o for o in objects if o.get("type") == "indicator"):
        sets: set[str] = set()
        for target in indicates.get(ind.get("id"), set()):
            if target in names:
                sets.add(target)
            sets |= attributed.get(target, set())
        labels = sorted(names[s] or s for s in sets) or [None]
        for kind, value in _values(ind.get("pattern", "")):
            for label in labels:
                rows.setdefault((kind, value, label), ind.get("id"))
    return pa.Table.from_pylist(
        [{"kind": k, "value": v, "intrusion_set": s, "indicator_id": i} for (k, v, s), i in rows.items()],
        schema=INDICATOR_SCHEMA,
    )
