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


def batch(n: int, **cols: object) -> pa.Table:
    """A batch of ``n`` rows; scalars are repeated, missing columns are null, '' means null for strings."""
    arrays = []
    for f in BATCH_SCHEMA:
        v = cols.pop(f.name, None)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
            continue
        if isinstance(v, pa.Array | pa.ChunkedArray):
            arr = v
        elif np.isscalar(v):
            arr = pa.array(np.full(n, v).tolist() if f.type == pa.string() else np.full(n, v), f.type)
        else:
            values = np.asarray(v)
            if f.type == pa.string():
                values = values.astype(object)
                mask = values == ""
                arr = pa.array(values, f.type, mask=mask if mask.any() else None)
            else:
                arr = pa.array(values, f.type)
        if len(arr) != n:
            raise ValueError(f"column {f.name}: {len(arr)} values for {n} rows")
        arrays.append(arr.cast(f.type) if arr.type != f.type else arr)
    if cols:
        raise ValueError(f"unknown batch columns: {sorted(cols)}")
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
) -> pa.Table:
    """Events of ``len(t0)`` runs of one flow template, vectorized per step.

    ``fixed`` holds per-run columns (account, tenant, ip, user_agent, ...) copied to each step's event;
    ``contacts`` maps "phone"/"email"/"new" to per-run hashes; ``typo`` gives per-run mistyped identifiers.
    """
    n = len(t0)
    if n == 0:
        return BATCH_SCHEMA.empty_table()
    parts = []
    t = t0.astype(np.int64).copy()
    for s in steps:
        lo, hi = s.delay
        if hi > 0:
            t = t + (rng.uniform(lo, hi, n) * 1e6).astype(np.int64)
        cols = dict(fixed)
        if s.identifier == "typo" and typo is not None:
            cols["account"] = typo
            cols["account_exists"] = False
        cols.update(
            time=t.copy(),
            activity=s.activity,
            outcome=s.outcome,
            step=s.step,
            method=s.method,
            reason=s.reason,
        )
        if s.contact and contacts is not None:
            cols["contact_hash"] = contacts[s.contact]
        if s.details:
            cols["detail"] = np.asarray(s.details, dtype=object)[rng.integers(0, len(s.details), n)]
        parts.append(batch(n, **{k: v for k, v in cols.items() if v is not None}))
    return pa.concat_tables(parts)
