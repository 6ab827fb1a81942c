"""Which alerts were published (``state/stream_published.parquet``), so each goes out once.

Publishing reads the store's alerts minus the published ids, not the list one batch made, so
an alert whose batch crashed before it was sent, or whose receiver was down, goes out after a
later batch. On a store's first stream the alerts already there count as published: they
predate the stream and were reported by the batch pipeline.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from idwatch.store import Store

STATE = "stream_published"


def _alerts(store: Store) -> pa.Table | None:
    table = store.read_state_table("alerts")
    return None if table is None or table.num_rows == 0 else table


def _published(store: Store) -> pa.Array | None:
    table = store.read_state_table(STATE)
    return None if table is None else table.column("alert_id").combine_chunks()


def _write(store: Store, ids: pa.Array) -> None:
    store.write_state_table(STATE, pa.table({"alert_id": pc.unique(ids.cast(pa.string()))}))


def start(store: Store) -> None:
    """Count the alerts already in the store as published, on the store's first stream only."""
    if _published(store) is None:
        alerts = _alerts(store)
        ids = pa.array([], pa.string()) if alerts is None else alerts.column("alert_id").combine_chunks()
        _write(store, ids)


def unpublished(store: Store) -> list[dict[str, Any]]:
    """The store's alerts not yet published, oldest first."""
    alerts = _alerts(store)
    if alerts is None:
        return []
    done = _published(store)
    if done is not None and len(done):
        alerts = alerts.filter(pc.invert(pc.is_in(alerts["alert_id"], value_set=done)))
    return alerts.sort_by([("created_at", "ascending"), ("alert_id", "ascending")]).to_pylist()


def mark_published(store: Store, ids: list[str]) -> None:
    if not ids:
        return
    done = _published(store)
    fresh = pa.array(ids, pa.string())
    _write(store, fresh if done is None else pa.concat_arrays([done.cast(pa.string()), fresh]))
