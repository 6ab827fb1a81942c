"""Indicator marks: which intrusion set's intel names each suspicious address.

Clustering uses these marks as a veto, not as glue: two groups of addresses that the intel
ties to *different* intrusion sets are never merged into one campaign, however they are
linked (operators of two states share Tor exits, VPN providers and their targets). A mark
is weighted by the indicator's confidence and by how specific the address is, so a Tor
exit or VPN address that thousands of benign users share barely counts, and a group needs
several specific matches (:data:`MIN_MARK`) before it can veto anything.
"""

from __future__ import annotations

import ipaddress

import duckdb

from idwatch.correlate.actors import ActorProfile

#: Weighted indicator matches a group of addresses needs before it vetoes a merge:
#: about two specific addresses with good indicators, never a single one.
MIN_MARK = 1.0
#: A single address contributes at most this much (one indicator alone never decides).
MAX_MARK_PER_IP = 0.6

Marks = dict[str, dict[str, float]]  # ip -> {actor stix id: weight}


def indicator_marks(
    con: duckdb.DuckDBPyConnection, actors: list[ActorProfile], ip_weight: dict[str, float]
) -> Marks:
    """Marks of the distinct addresses of ``sus`` (exact indicator IPs and indicator networks)."""
    ips = [r[0] for r in con.execute("SELECT DISTINCT src_ip FROM sus WHERE src_ip IS NOT NULL").fetchall()]
    nets = []
    for actor in actors:
        for cidr, conf in actor.networks.items():
            try:
                nets.append((ipaddress.ip_network(cidr, strict=False), actor.stix_id, conf * 0.7))
            except ValueError:
                continue
    out: Marks = {}
    for ip in ips:
        hits: dict[str, float] = {}
        for actor in actors:
            if ip in actor.ips:
                hits[actor.stix_id] = actor.ips[ip] / 100
        if nets:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                addr = None
            for net, sid, conf in nets:
                if addr is not None and addr.version == net.version and addr in net:
                    hits[sid] = max(hits.get(sid, 0.0), conf / 100)
        if hits:
            spec = ip_weight.get(ip, 1.0)
            out[ip] = {sid: min(MAX_MARK_PER_IP, w * spec) for sid, w in hits.items()}
    return out


def group_actors(marks: list[dict[str, float]]) -> set[str]:
    """Intrusion sets a group of addresses is strongly tied to (sum of its marks >= MIN_MARK)."""
    total: dict[str, float] = {}
    for mark in marks:
        for sid, w in mark.items():
            total[sid] = total.get(sid, 0.0) + w
    return {sid for sid, w in total.items() if w >= MIN_MARK}


def conflict(a: set[str], b: set[str]) -> bool:
    """Two groups tied to intrusion sets, and to none in common: different operators."""
    return bool(a) and bool(b) and not (a & b)
