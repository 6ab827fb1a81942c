"""Turn a day's batch into canonical native events and stream them to disk with their labels.

JSON lines are built column-wise with Arrow string kernels (no Python loop per event), so the
output is byte-for-byte reproducible and fast. Network fields (country, asn, asn_org,
network_type) are filled from the address table for the share of events where the simulated
provider logged them, and left null elsewhere for enrichment to fill, as with real providers.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from idwatch.schema import EVENT_SCHEMA
from idwatch.simulate.iptable import IpTable
from idwatch.simulate.util import hex_ids

#: Native events as the simulator writes them: the canonical columns without ``raw``.
OUT_SCHEMA = pa.schema([f for f in EVENT_SCHEMA if f.name != "raw"])
LABEL_SCHEMA = pa.schema(
    [("event_id", pa.string()), ("actor", pa.string()), ("campaign", pa.string()), ("kind", pa.string())]
)


def finalize(
    batch: pa.Table, ipt: IpTable, rng: np.random.Generator, network_share: float, country_share: float
) -> tuple[pa.Table, pa.Table]:
    """Sort a day's batch by time, give every event an id and its network fields -> (events, labels)."""
    order = pc.sort_indices(
        batch, [("time", "ascending"), ("account", "ascending"), ("activity", "ascending")]
    )
    b = batch.take(order)
    n = b.num_rows
    ids = hex_ids(rng, n, 16)
    event_id = _uuid(ids)
    ip = pa.array(b.column("ip").to_numpy(), pa.int64())
    with_net = pa.array(rng.random(n) < network_share)
    with_country = pa.array(rng.random(n) < country_share)
    null_s = pa.nulls(n, pa.string())
    events = pa.table(
        {
            "time": pc.cast(b.column("time"), pa.timestamp("us", tz="UTC")),
            "event_id": event_id,
            "source": pa.array(np.full(n, "native").tolist(), pa.string())
            if n
            else pa.array([], pa.string()),
            "tenant": b.column("tenant"),
            "account": b.column("account"),
            "account_exists": b.column("account_exists"),
            "activity": b.column("activity"),
            "step": b.column("step"),
            "method": b.column("method"),
            "outcome": b.column("outcome"),
            "reason": b.column("reason"),
            "src_ip": ipt.ip_arr.take(ip),
            "user_agent": b.column("user_agent"),
            "device_id": b.column("device_id"),
            "session_id": b.column("session_id"),
            "country": pc.if_else(with_country, ipt.country.take(ip), null_s),
            "asn": pc.if_else(with_net, ipt.asn.take(ip), pa.nulls(n, pa.int64())),
            "asn_org": pc.if_else(with_net, ipt.asn_org.take(ip), null_s),
            "network_type": pc.if_else(with_net, ipt.kind.take(ip), null_s),
            "contact_hash": b.column("contact_hash"),
            "detail": b.column("detail"),
        },
        schema=OUT_SCHEMA,
    )
    labels = pa.table(
        {
            "event_id": event_id,
            "actor": b.column("actor"),
            "campaign": b.column("campaign"),
            "kind": b.column("kind"),
        },
        schema=LABEL_SCHEMA,
    )
    return events, labels


def _uuid(hexes: np.ndarray) -> pa.Array:
    """8-4-4-4-12 formatted ids from 32-char hex strings."""
    arr = pa.array(hexes.astype(str), pa.string())
    pieces = [pc.utf8_slice_codeunits(arr, a, b) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    return pc.binary_join_element_wise(*pieces, "-")


def _json_value(col: pa.ChunkedArray | pa.Array, typ: pa.DataType) -> pa.Array:
    """Each value as a JSON literal (our strings never contain quotes, backslashes or controls)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_timestamp(typ):
        micros = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False).astype("datetime64[us]")
        text = pa.array(np.datetime_as_string(micros, unit="ms"), pa.string())
        quoted = pc.binary_join_element_wise(pa.scalar('"'), text, pa.scalar('Z"'), "")
    elif pa.types.is_string(typ):
        quoted = pc.binary_join_element_wise(pa.scalar('"'), col, pa.scalar('"'), "")
    elif pa.types.is_boolean(typ):
        quoted = pc.if_else(col, "true", "false")
    else:
        quoted = pc.cast(col, pa.string())
    return pc.fill_null(quoted, "null")


def jsonl_bytes(events: pa.Table) -> bytes | memoryview:
    """The events as JSON lines, keys in EVENTS.md order."""
    if events.num_rows == 0:
        return b""
    pieces: list[pa.Array | pa.Scalar] = []
    for i, f in enumerate(events.schema):
        prefix = ("{" if i == 0 else ",") + f'"{f.name}":'
        pieces += [pa.scalar(prefix), _json_value(events.column(f.name), f.type)]
    pieces.append(pa.scalar("}\n"))
    lines = pc.binary_join_element_wise(*pieces, "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    _, off_buf, data = lines.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


class EventWriter:
    """Streams events (JSONL or Parquet) and labels (Parquet) day by day."""

    def __init__(self, out: Path, fmt: str):
        if fmt not in ("jsonl", "parquet"):
            raise ValueError(f"format must be jsonl or parquet, not {fmt!r}")
        self.fmt = fmt
        self.path = out / f"events.{fmt}"
        self.rows = 0
        self._fh: IO[bytes] | None = None
        self._pq: pq.ParquetWriter | None = None
        if fmt == "jsonl":
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        else:
            self._pq = pq.ParquetWriter(self.path, OUT_SCHEMA, compression="zstd")
        self._labels = pq.ParquetWriter(out / "labels.parquet", LABEL_SCHEMA, compression="zstd")

    def write(self, events: pa.Table, labels: pa.Table) -> None:
        if events.num_rows == 0:
            return
        if self._fh is not None:
            self._fh.write(jsonl_bytes(events))
        elif self._pq is not None:
            self._pq.write_table(events, row_group_size=256_000)
        self._labels.write_table(labels, row_group_size=256_000)
        self.rows += events.num_rows

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()
        self._labels.close()
