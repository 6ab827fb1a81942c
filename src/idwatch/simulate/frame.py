"""Column batches of simulated events, before they get their final shape.

Generators hand back Arrow tables with the EVENTS.md columns except the network ones: the client
address is an index ``ip`` into the run's address table, and ``time`` is integer microseconds.
The writer turns these into canonical rows. Keeping one intermediate shape lets benign, criminal
and state generators share the flow templates below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Columns of an intermediate batch, in order, with their Arrow types.
BATCH_SCHEMA = pa.schema(
    [
        ("time", pa.int64()),
        ("tenant", pa.string()),
        ("account", pa.string()),
        ("account_exists", pa.bool_()),
        ("activity", pa.string()),
        ("step", pa.string()),
        ("method", pa.string()),
        ("outcome", pa.string()),
        ("reason", pa.string()),
        ("ip", pa.int64()),
        ("user_agent", pa.string()),
        ("device_id", pa.string()),
        ("session_id", pa.string()),
        ("contact_hash", pa.string()),
        ("detail", pa.string()),
        ("actor", pa.string()),
        ("campaign", pa.string()),
        ("kind", pa.string()),
    ]
)


TYPES = {f.name: f.type for f in BATCH_SCHEMA}
_EMPTY = pa.scalar("", pa.string())


def column(name: str, values: object, n: int | None = None) -> pa.Array:
    """One batch column as Arrow: scalars repeat ``n`` times, '' and None become null for strings."""
    typ = TYPES[name]
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == typ else values.cast(typ)  # Arrow input is already clean
    if values is None or np.isscalar(values):
        if n is None:
            raise ValueError(f"column {name}: a scalar needs a row count")
        if values is None or values == "":
            return pa.nulls(n, typ)
        return pa.array([values], typ).take(pa.array(np.zeros(n, dtype=np.int32)))
    else:
        arr = (
            pa.array(np.asarray(values), typ)
            if typ != pa.string()
            else pa.array(np.asarray(values, dtype=object), typ)
        )
    if typ == pa.string() and arr.null_count < len(arr):
        arr = pc.if_else(pc.equal(arr, _EMPTY), pa.scalar(None, pa.string()), arr)
    return arr


def arrow_columns(cols: dict[str, object]) -> dict[str, object]:
    """Convert per-run numpy columns to Arrow once, so flows can ``take`` subsets cheaply."""
    return {k: (v if v is None or np.isscalar(v) else column(k, v)) for k, v in cols.items()}


def batch(n: int, **cols: object) -> pa.Table:
    """A batch of ``n`` rows; scalars are repeated, missing columns are null, '' means null for strings."""
    unknown = set(cols) - set(TYPES)
    if unknown:
        raise ValueError(f"unknown batch columns: {sorted(unknown)}")
    arrays = []
    for f in BATCH_SCHEMA:
        arr = column(f.name, cols.get(f.name), n)
        if len(arr) != n:
            raise ValueError(f"column {f.name}: {len(arr)} values for {n} rows")
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=BATCH_SCHEMA)


@dataclass(frozen=True)
class Step:
    """One event of a flow template, ``delay`` seconds (uniform in a range) after the previous one."""

    activity: str
    outcome: str
    step: str | None = None
    method: str | None = None
    reason: str | None = None
    delay: tuple[float, float] = (0.0, 0.0)
    contact: str | None = None  # "phone" | "email" | "new": which contact hash the event carries
    details: tuple[str, ...] = ()
    identifier: str = "own"  # "own" | "typo": the account the client typed


def expand(
    rng: np.random.Generator,
    steps: list[Step],
    t0: np.ndarray,
    fixed: dict[str, object],
    contacts: dict[str, np.ndarray] | None = None,
    typo: np.ndarray | None = None,
    typo_tenant: np.ndarray | None = None,
) -> pa.Table:
    """Events of ``len(t0)`` runs of one flow template, vectorized per step.

    ``fixed`` holds per-run columns (account, tenant, ip, user_agent, ...) copied to each step's event;
    ``contacts`` maps "phone"/"email"/"new" to per-run hashes; ``typo`` gives per-run mistyped identifiers
    (and ``typo_tenant`` their tenants, '' for domains no tenant owns).
    """
    n, k = len(t0), len(steps)
    if n == 0:
        return BATCH_SCHEMA.empty_table()
    fixed = arrow_columns(fixed)
    runs = pa.array(np.tile(np.arange(n, dtype=np.int64), k))  # step-major: all first steps, then ...
    per_step = pa.array(np.repeat(np.arange(k, dtype=np.int64), n))
    cols: dict[str, object] = {
        key: (v.take(runs) if isinstance(v, pa.Array) else v) for key, v in fixed.items()
    }
    times = []
    t = t0.astype(np.int64).copy()
    for s in steps:
        lo, hi = s.delay
        if hi > 0:
            t = t + (rng.uniform(lo, hi, n) * 1e6).astype(np.int64)
        times.append(t)
    cols["time"] = np.concatenate(times)
    for attr in ("activity", "outcome", "step", "method", "reason"):
        cols[attr] = pa.array([getattr(s, attr) for s in steps], pa.string()).take(per_step)
    if contacts and any(s.contact for s in steps):
        conv = {key: column("contact_hash", v) for key, v in contacts.items()}
        cols["contact_hash"] = pa.concat_arrays(
            [conv[s.contact] if s.contact else pa.nulls(n, pa.string()) for s in steps]
        )
    if any(s.details for s in steps):
        cols["detail"] = pa.concat_arrays(
            [
                pa.array(list(s.details), pa.string()).take(pa.array(rng.integers(0, len(s.details), n)))
                if s.details
                else pa.nulls(n, pa.string())
                for s in steps
            ]
        )
    if typo is not None and any(s.identifier == "typo" for s in steps):
        own = column("account", fixed["account"], n)
        typo_arr = column("account", typo)
        cols["account"] = pa.concat_arrays([typo_arr if s.identifier == "typo" else own for s in steps])
        exists = column("account_exists", fixed.get("account_exists", True), n)
        if typo_tenant is not None:  # a mistyped domain may belong to no tenant at all
            own_t = column("tenant", fixed.get("tenant"), n)
            other_t = column("tenant", typo_tenant)
            cols["tenant"] = pa.concat_arrays([other_t if s.identifier == "typo" else own_t for s in steps])
        cols["account_exists"] = pa.concat_arrays(
            [pa.array(np.zeros(n, bool)) if s.identifier == "typo" else exists for s in steps]
        )
    return batch(n * k, **cols)
