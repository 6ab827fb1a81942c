"""Validated rows -> canonical stored rows, in Arrow (no per-event Python, no DuckDB round trip).

The ingest validates a chunk in DuckDB once and hands the result here as an Arrow table
(:data:`VAL_SCHEMA`). Everything after that is column arithmetic over Arrow arrays: the IP
enrichment and the user-agent families are looked up once per DISTINCT value and spread to
the rows with ``index_in`` / ``take``; the record text (``raw``) is passed through untouched,
so the largest column of an event is never copied between engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.schema import EVENT_SCHEMA, STORED_EVENT_SCHEMA, TIME_TYPE

#: Canonical columns a format maps (``time`` arrives parsed, as ``_ts``; ``raw`` as ``_raw``).
_MAPPED_FIELDS = [f for f in EVENT_SCHEMA if f.name not in ("time", "raw")]

#: What validation hands over: one row per record of a chunk.
VAL_SCHEMA = pa.schema(
    [
        pa.field("_line", pa.int64()),
        pa.field("_raw", pa.large_string()),
        *[pa.field(f.name, f.type) for f in _MAPPED_FIELDS],
        pa.field("_skip", pa.string()),
        pa.field("_ts", TIME_TYPE),
        pa.field("_reject", pa.string()),
    ]
)


_IP_INFO = ("country", "asn", "asn_org", "network_type")


def conform(table: pa.Table) -> pa.Table:
    """``table`` reduced to :data:`VAL_SCHEMA` (columns picked by name and cast)."""
    return table.select(VAL_SCHEMA.names).cast(VAL_SCHEMA)


@dataclass
class Triage:
    """Where each row of a validated chunk goes, before duplicates are looked at."""

    quarantine: pa.Table  # _line, reason, _raw (sorted by line)
    skipped: dict[str, int]
    good: pa.Table  # the rows to store (VAL_SCHEMA + ``_ip``: the normalized address)
    ip_info: pa.Table  # the enrichment rows of ``good`` (country, asn, asn_org, network_type)


def triage(val: pa.Table, ip_table: pa.Table) -> Triage:
    """Split ``val`` into quarantined, skipped and good rows.

    ``ip_table`` is :meth:`IpEnricher.lookup_distinct` of the distinct ``src_ip`` of :func:`candidate_ips`;
    a candidate whose address does not normalize is quarantined as an invalid IP address.
    """
    reject = val.column("_reject")
    rejected = pc.is_valid(reject)
    skip = val.column("_skip")
    skipped_mask = pc.and_(pc.is_valid(skip), pc.invert(rejected))
    candidate = pc.and_(pc.invert(rejected), pc.is_null(skip))
    pos = pc.index_in(val.column("src_ip"), value_set=ip_table.column("src_ip"))
    ip = pc.if_else(candidate, pc.take(ip_table.column("ip"), pos), pa.scalar(None, pa.string()))
    bad_ip = pc.and_(candidate, pc.is_null(ip))
    reason = pc.coalesce(
        reject,
        pc.if_else(
            bad_ip,
            pc.binary_join_element_wise(
                "invalid IP address: ", pc.utf8_slice_codeunits(val.column("src_ip"), 0, 80), ""
            ),
            pa.scalar(None, pa.string()),
        ),
    )
    to_quarantine = pc.is_valid(reason)
    quarantine = pa.table(
        {
            "line": pc.filter(val.column("_line"), to_quarantine),
            "reason": pc.filter(reason, to_quarantine),
            "raw": pc.filter(val.column("_raw"), to_quarantine),
        }
    ).sort_by("line")
    skipped: dict[str, int] = {}
    if pc.any(skipped_mask).as_py():
        for item in pc.value_counts(pc.filter(skip, skipped_mask)).to_pylist():
            skipped[item["values"]] = item["counts"]
    keep = pc.is_valid(ip)
    n_keep = pc.sum(keep).as_py() or 0
    table = val.append_column("_ip", ip)
    if n_keep != val.num_rows:
        table = table.filter(keep)
        pos = pc.filter(pos, keep)
    info = pa.table({c: pc.take(ip_table.column(c), pos) for c in _IP_INFO})
    return Triage(quarantine, skipped, table, info)


def candidate_ips(val: pa.Table) -> pa.Array:
    """The distinct ``src_ip`` of rows that are neither rejected nor skipped (to validate / enrich)."""
    candidate = pc.and_(pc.is_null(val.column("_reject")), pc.is_null(val.column("_skip")))
    return pc.unique(pc.filter(val.column("src_ip"), candidate)).drop_null()


def _nullif_empty(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def canonical(
    good: pa.Table,
    ip_info: pa.Table,
    event_ids: pa.ChunkedArray | pa.Array,
    agents: pa.Table,
    source_name: str,
    ingested_at: datetime | None = None,
) -> pa.Table:
    """The stored rows (STORED_EVENT_SCHEMA) of the good rows of a chunk.

    ``event_ids`` are the final ids (the record's own, or the hash of its text); ``agents`` is
    :func:`idwatch.enrich.useragent.parse_agents` of the distinct user agents.
    """
    n = good.num_rows
    col = good.column
    ua_pos = pc.index_in(col("user_agent"), value_set=agents.column("user_agent"))
    country = _nullif_empty(pc.utf8_upper(pc.utf8_trim(col("country"), " ")))
    stamp = ingested_at or datetime.now(UTC)
    columns = {
        "time": col("_ts"),
        "event_id": event_ids,
        "source": pc.coalesce(col("source"), pa.scalar(source_name)),
        "account": pc.utf8_lower(pc.utf8_trim(col("account"), " ")),
        "src_ip": col("_ip"),
        "country": pc.coalesce(country, ip_info.column("country")),
        "asn": pc.coalesce(col("asn"), ip_info.column("asn")),
        "asn_org": pc.coalesce(_nullif_empty(col("asn_org")), ip_info.column("asn_org")),
        "network_type": pc.coalesce(col("network_type"), ip_info.column("network_type")),
        "raw": col("_raw"),
        "ua_family": pc.take(agents.column("ua_family"), ua_pos),
        "ua_os": pc.take(agents.column("ua_os"), ua_pos),
        "ingested_at": pa.array(np.full(n, int(stamp.timestamp() * 1_000_000)), pa.int64()).cast(TIME_TYPE),
    }
    arrays = [columns[f.name] if f.name in columns else col(f.name) for f in STORED_EVENT_SCHEMA]
    return pa.Table.from_arrays(
        [pc.cast(a, f.type) for a, f in zip(arrays, STORED_EVENT_SCHEMA, strict=True)],
        schema=STORED_EVENT_SCHEMA,
    )


__all__ = ["VAL_SCHEMA", "Triage", "candidate_ips", "canonical", "conform", "triage"]
