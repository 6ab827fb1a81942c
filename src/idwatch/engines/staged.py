"""Hand DuckDB's staged detection tables to another engine, and run detections there.

The staging (``ev``, ``evf``, ``known``, ``acct``, ``signin_risk``, ...) is built by the detection
engine; each detection's own query, the bulk of the work, then runs on the chosen engine over the
same rows, and its result is normalised into alert rows exactly as a DuckDB run's.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from idwatch.engines.base import Engine
from idwatch.store import Store


def publish_staged(con: duckdb.DuckDBPyConnection, engine: Engine, store: Store | None = None) -> list[str]:
    """Copy every staged table and view of ``con`` to ``engine``; the store's events and directory
    are read by the engine from their own Parquet files. Returns the names published."""
    direct: dict[str, list[str]] = {}
    if store is not None:
        if store.event_files():
            direct["events"] = [str(p) for p in store.event_files()]
        if store.directory_path.exists():
            direct["directory"] = [str(store.directory_path)]
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION "
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
        ).fetchall()
    ]
    for name in names:
        if name.startswith("__"):  # DuckDB's own registrations of Arrow data, copied as tables
            continue
        if name in direct:
            engine.register_parquet(name, direct[name])
        else:
            engine.register_arrow(name, con.sql(f'SELECT * FROM "{name}"').to_arrow_table())
    return names


def show_window(engine: Engine, tables: tuple[str, ...], start_iso: str) -> None:
    """The engine's side of the look-back views: ``ev`` / ``evf`` from ``start_iso`` on."""
    for name in tables:
        engine.register_arrow(
            name,
            engine.query(f"SELECT * FROM {name}_all WHERE time >= CAST('{start_iso}' AS TIMESTAMP)"),
        )


def detection_rows(engine: Engine, rendered: str) -> pa.Table:
    """One detection's raw rows (its 13 standard columns) computed by ``engine``."""
    return engine.query(rendered)


def wrap_on_duckdb(wrap_sql: str, rows: pa.Table) -> pa.Table:
    """Run the alert wrapper ``wrap_sql`` (reading ``__rows``) over ``rows`` on a private DuckDB."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.register("__rows", rows)
    return con.sql(wrap_sql).to_arrow_table()
