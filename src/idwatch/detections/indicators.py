"""Network indicators from imported STIX 2.1 bundles, flattened for joins against events.

Each ``indicator`` pattern is parsed with the OASIS grammar (``stix2patterns``), not scanned
with a regex, so ``IN (...)`` sets, ``ISSUBSET`` networks and comparisons joined by AND / OR
all count. The terms idwatch can match are ``=``, ``IN`` and (for addresses) ``ISSUBSET`` on
``ipv4-addr:value``, ``ipv6-addr:value``, ``autonomous-system:number``, ``domain-name:value``
and ``user-account:user_id`` / ``account_login``; each term is read as an indicator of the actor
on its own (an AND of an address and an account is matched on either), which is how intel
feeds use these patterns. Everything else (negations, LIKE / MATCHES, other object types, a
pattern that does not parse) is counted and reported in one :class:`PatternWarning` with
examples, never dropped silently. The intrusion set an indicator points at is resolved
through ``indicates`` relationships, directly or via a campaign that is ``attributed-to`` an
intrusion set.

Networks become what the events carry: a /24 (IPv4) or /64 (IPv6) is one ``ipnet`` row; a
longer prefix up to ``_MAX_EXPANSION`` addresses becomes its addresses, a shorter one down to
``_MAX_EXPANSION`` /24s (/64s) becomes those networks; broader ones are reported as too broad.
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from stix2patterns.exceptions import ParseException
from stix2patterns.v21.pattern import Pattern

INDICATOR_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),
        pa.field("value", pa.string()),
        pa.field("intrusion_set", pa.string()),
        pa.field("indicator_id", pa.string()),
    ]
)

# A CIDR is expanded into at most this many rows (addresses or /24 /64 networks): 256 keeps an
# IPv4 /16 (a large provider block an actor rents from) and a /25../32 matchable, while a /8 (a
# whole regional registry allocation, never a useful indicator of one actor) is reported instead.
_MAX_EXPANSION = 256
_ADDRESS_OBJECTS = {"ipv4-addr", "ipv6-addr"}
_ACCOUNT_PROPS = {"user_id", "account_login"}
_EXAMPLES = 3


class PatternWarning(UserWarning):
    """Some indicator patterns (or terms of them) are not understood and were not matched."""


@dataclass
class PatternTerms:
    """What one pattern yields: matchable (kind, value) pairs and the terms that were not."""

    terms: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _literals(op: str, raw: str) -> list[str]:
    """The values of a comparison's literal: one for =, each member for IN (...)."""
    if op == "IN":
        inner = raw.strip()[1:-1]
        return [v for v in (_unquote(part) for part in _split_set(inner)) if v != ""]
    return [_unquote(raw)]


def _split_set(inner: str) -> list[str]:
    parts, buf, quoted, i = [], [], False, 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and quoted and i + 1 < len(inner):
            buf += [ch, inner[i + 1]]
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def _unquote(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return text.strip()


# The one-comparison form most feeds publish (``[ipv4-addr:value = '203.0.113.7']``), matched
# exactly (whole pattern, one term): it means the same under the grammar, which costs ~1.2 ms a
# pattern (two minutes per detection run for a 100k-indicator feed). Anything else is parsed.
_SIMPLE = re.compile(
    r"\[\s*([a-z0-9-]+):([a-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[0-9]+)\s*\]",
)


def parse_pattern(pattern: str) -> PatternTerms:
    """The matchable terms of a STIX 2.1 pattern, with the ones that are not (as readable text)."""
    simple = _SIMPLE.fullmatch(pattern or "")
    if simple:
        found = _term(simple.group(1), simple.group(2), "=", simple.group(3))
        if found is not None:
            return PatternTerms(terms=found)
    return grammar_terms(pattern)


def grammar_terms(pattern: str) -> PatternTerms:
    """:func:`parse_pattern` through the OASIS grammar only (every pattern shape)."""
    out = PatternTerms()
    try:
        comparisons = Pattern(pattern or "").inspect().comparisons
    except (ParseException, TypeError) as exc:
        out.unsupported.append(f"unparsable pattern {pattern!r}: {exc}")
        return out
    for obj, terms in comparisons.items():
        for path, op, raw in terms:
            prop = ".".join(str(p) for p in path)
            text = f"{obj}:{prop} {op} {raw}"
            found = _term(obj, prop, op, raw)
            if found is None:
                out.unsupported.append(text)
            else:
                out.terms += found
    return out


def _term(obj: str, prop: str, op: str, raw: str) -> list[tuple[str, str]] | None:
    """(kind, value) rows for one comparison, or None when idwatch cannot match it."""
    if op not in ("=", "IN", "ISSUBSET"):
        return None
    values = _literals(op, raw)
    if obj in _ADDRESS_OBJECTS and prop == "value":
        per_value = [_ip_values(v) for v in values]
        if not per_value or any(rows is None for rows in per_value):
            return None
        return [row for rows in per_value if rows for row in rows]
    if op == "ISSUBSET":
        return None
    if obj == "autonomous-system" and prop == "number":
        return [("asn", str(int(v))) for v in values] if all(v.isdigit() for v in values) else None
    if obj == "domain-name" and prop == "value":
        return [("domain", v.lower().rstrip(".")) for v in values]
    if obj == "user-account" and prop in _ACCOUNT_PROPS:
        return [("account", v.lower()) for v in values]
    return None


def _ip_values(value: str) -> list[tuple[str, str]] | None:
    """Rows for an address or network, or None for a bad one or one too broad to expand."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    block = 24 if net.version == 4 else 64
    if net.num_addresses == 1:
        addr = net.network_address
        return [("ipv4" if addr.version == 4 else "ipv6", addr.compressed)]
    if net.prefixlen == block:
        return [("ipnet", _ipnet(net))]
    if net.prefixlen > block:
        if net.num_addresses > _MAX_EXPANSION:
            return None
        return [("ipv4" if net.version == 4 else "ipv6", a.compressed) for a in net]
    if 2 ** (block - net.prefixlen) > _MAX_EXPANSION:
        return None
    return [("ipnet", _ipnet(sub)) for sub in net.subnets(new_prefix=block)]


def _ipnet(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The ``ipnet`` column's spelling: ``a.b.c.0/24``, or the first four groups + ``::/64``."""
    if net.version == 4:
        return f"{net.network_address}/24"
    groups = net.network_address.exploded.split(":")[:4]
    return ":".join(g.lstrip("0") or "0" for g in groups) + "::/64"


def warn_unsupported(patterns: Iterable[tuple[str | None, PatternTerms]]) -> int:
    """One :class:`PatternWarning` with the count and a few examples; returns the count of patterns."""
    bad = [(ind_id, t) for ind_id, t in patterns if t.unsupported]
    if bad:
        examples = "; ".join(f"{i}: {t.unsupported[0]}" for i, t in bad[:_EXAMPLES])
        unmatched = sum(1 for _, t in bad if not t.terms)
        warnings.warn(
            f"{len(bad)} indicator pattern(s) have terms idwatch cannot match ({unmatched} match "
            f"nothing at all), e.g. {examples}",
            PatternWarning,
            stacklevel=2,
        )
    return len(bad)


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
    parsed: list[tuple[str | None, PatternTerms]] = []
    for ind in (o for o in objects if o.get("type") == "indicator"):
        if ind.get("pattern_type", "stix") != "stix":
            parsed.append((ind.get("id"), PatternTerms(unsupported=[f"pattern_type {ind['pattern_type']}"])))
            continue
        terms = parse_pattern(ind.get("pattern", ""))
        parsed.append((ind.get("id"), terms))
        sets: set[str] = set()
        for target in indicates.get(ind.get("id"), set()):
            if target in names:
                sets.add(target)
            sets |= attributed.get(target, set())
        labels = sorted(names[s] or s for s in sets) or [None]
        for kind, value in terms.terms:
            for label in labels:
                rows.setdefault((kind, value, label), ind.get("id"))
    warn_unsupported(parsed)
    return pa.Table.from_pylist(
        [{"kind": k, "value": v, "intrusion_set": s, "indicator_id": i} for (k, v, s), i in rows.items()],
        schema=INDICATOR_SCHEMA,
    )
